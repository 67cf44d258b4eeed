//! `kairos import-crontab FILE`: each crontab line becomes a shell job.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use kairos_core::action::ShellAction;
use kairos_core::job::{Job, JobOptions, DEFAULT_POOL};
use kairos_core::trigger::{parse_time_zone, CronTrigger, Trigger};

/// What a crontab turned into: jobs, and the lines that could not be, with why.
#[derive(Debug, Default)]
pub struct Parsed {
    /// One shell job per schedule line.
    pub jobs: Vec<Job>,
    /// (line number, reason) for each line not imported.
    pub skipped: Vec<(usize, String)>,
}

/// Who imports a system crontab: the user Kairos runs as, and whether that is root.
#[derive(Debug, Clone)]
pub struct RunAs {
    /// The user's name.
    pub user: String,
    /// Root may run a line as any user (through `runuser`).
    pub root: bool,
}

impl RunAs {
    /// The user this process runs as.
    pub fn current() -> RunAs {
        // SAFETY: geteuid cannot fail; getpwuid's result is read before any other call.
        let uid = unsafe { libc::geteuid() };
        let pw = unsafe { libc::getpwuid(uid) };
        let user = if pw.is_null() {
            uid.to_string()
        } else {
            unsafe { std::ffi::CStr::from_ptr((*pw).pw_name) }
                .to_string_lossy()
                .into_owned()
        };
        RunAs {
            user,
            root: uid == 0,
        }
    }
}

/// Whether `path` is a system crontab by where it lives (`/etc/crontab`, `/etc/cron.d/*`).
pub fn is_system_path(path: &std::path::Path) -> bool {
    path == std::path::Path::new("/etc/crontab") || path.starts_with("/etc/cron.d")
}

/// `text` in single quotes for `sh`.
fn sh_quote(text: &str) -> String {
    format!("'{}'", text.replace('\'', r"'\''"))
}

/// Reads a crontab: `NAME=value` lines set the environment (and `SHELL`, `CRON_TZ`/`TZ` the
/// shell and zone) of the lines after them; `@reboot` and `%` in commands are reported. A
/// system crontab (`system` given) has a user column after the schedule: a line for the
/// importing user runs as is, one for another user runs through `runuser` when importing as
/// root, and is reported otherwise.
pub fn parse(text: &str, zone: Tz, file_name: &str, system: Option<&RunAs>) -> Parsed {
    let mut parsed = Parsed::default();
    let mut env = BTreeMap::new();
    let mut shell = "sh".to_string();
    let mut zone = zone;
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if let Some((name, value)) = env_assignment(line) {
            match name {
                "SHELL" => shell = value,
                "CRON_TZ" | "TZ" => match parse_time_zone(&value) {
                    Ok(z) => zone = z,
                    Err(e) => parsed.skipped.push((n, e.to_string())),
                },
                _ => {
                    env.insert(name.to_string(), value);
                }
            }
            continue;
        }
        let line_job = schedule_line(line, zone).and_then(|(trigger, command)| match system {
            None => Ok((trigger, short_name(&command), command, String::new())),
            Some(run_as) => as_user(&command, run_as, &shell).map(|(run, user, inner)| {
                (trigger, short_name(&inner), run, format!(" (as {user})"))
            }),
        });
        match line_job {
            Ok((trigger, name, command, who)) => parsed.jobs.push(Job {
                id: String::new(),
                name,
                description: format!("imported from {file_name} line {n}{who}"),
                tags: vec!["crontab".into()],
                trigger,
                action: ShellAction {
                    command,
                    shell: shell.clone(),
                    cwd: None,
                    env: env.clone(),
                    output_cap_bytes: 64 * 1024,
                }
                .into(),
                options: JobOptions::default(),
                paused: false,
                pool: DEFAULT_POOL.into(),
                node_labels: vec![],
                then: vec![],
                next_run: None,
            }),
            Err(why) => parsed.skipped.push((n, why)),
        }
    }
    parsed
}

/// A system crontab line's command (`USER command`) as this process can run it, the user, and
/// the command as written.
fn as_user(line: &str, run_as: &RunAs, shell: &str) -> Result<(String, String, String), String> {
    let (user, command) = line
        .split_once(char::is_whitespace)
        .ok_or("expected a user name and a command after the schedule")?;
    let command = command.trim();
    if command.is_empty() {
        return Err(format!("no command after the user '{user}'"));
    }
    if user == run_as.user {
        Ok((command.to_string(), user.to_string(), command.to_string()))
    } else if run_as.root {
        let wrapped = format!(
            "runuser -u {} -- {} -c {}",
            sh_quote(user),
            sh_quote(shell),
            sh_quote(command)
        );
        Ok((wrapped, user.to_string(), command.to_string()))
    } else {
        Err(format!(
            "runs as '{user}', but Kairos runs as '{}' and cannot switch users: import it as \
             root (sudo kairos import-crontab …) or into {user}'s own Kairos",
            run_as.user
        ))
    }
}

/// `NAME=value` (value optionally quoted), if the line is one.
fn env_assignment(line: &str) -> Option<(&str, String)> {
    let (name, value) = line.split_once('=')?;
    let name = name.trim();
    if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
        return None;
    }
    let value = value.trim();
    let unquoted = value
        .strip_prefix('"')
        .and_then(|v| v.strip_suffix('"'))
        .or_else(|| value.strip_prefix('\'').and_then(|v| v.strip_suffix('\'')))
        .unwrap_or(value);
    Some((name, unquoted.to_string()))
}

/// The trigger and command of a schedule line.
fn schedule_line(line: &str, zone: Tz) -> Result<(Trigger, String), String> {
    let (expr, command) = if line.starts_with('@') {
        let (alias, command) = line
            .split_once(char::is_whitespace)
            .ok_or("no command after the schedule")?;
        if alias == "@reboot" {
            return Err(
                "@reboot is not supported: Kairos runs jobs on a schedule, not at boot".into(),
            );
        }
        (alias.to_string(), command.trim())
    } else {
        let fields: Vec<&str> = line.split_whitespace().collect();
        if fields.len() < 6 {
            return Err("expected five schedule fields and a command".into());
        }
        let mut rest = line;
        for _ in 0..5 {
            rest = rest.trim_start();
            rest = &rest[rest.find(char::is_whitespace).unwrap_or(rest.len())..];
        }
        (fields[..5].join(" "), rest.trim())
    };
    if command.contains('%') {
        return Err("'%' in a command (cron's stdin and newline marker) is not supported; escape or remove it".into());
    }
    let trigger = CronTrigger::new(&expr, zone).map_err(|e| e.to_string())?;
    Ok((Trigger::Cron(trigger), command.to_string()))
}

/// A job name from its command: the first 40 characters.
fn short_name(command: &str) -> String {
    let mut name: String = command.chars().take(40).collect();
    if command.chars().count() > 40 {
        name.push('…');
    }
    name
}

#[cfg(test)]
mod tests {
    use super::*;
    use kairos_core::action::Action;

    const CRONTAB: &str = "\
# m h dom mon dow command
SHELL=/bin/bash
MAILTO=\"ops@example.com\"
*/5 * * * * /usr/local/bin/poll --quiet
CRON_TZ=Europe/London
0 9 * * mon-fri   echo 'good morning'
@daily backup.sh
@reboot start-things
0 0 * * * printf '%s' x
61 * * * * bad-minute
TZ=Mars/Olympus
";

    #[test]
    fn lines_become_jobs_and_the_rest_is_reported() {
        let p = parse(CRONTAB, Tz::UTC, "crontab.txt", None);
        assert_eq!(p.jobs.len(), 3);
        let Action::Shell(first) = &p.jobs[0].action else {
            panic!()
        };
        assert_eq!(first.command, "/usr/local/bin/poll --quiet");
        assert_eq!(first.shell, "/bin/bash");
        assert_eq!(first.env["MAILTO"], "ops@example.com");
        assert_eq!(p.jobs[0].trigger.summary(), "cron */5 * * * *");
        assert_eq!(
            p.jobs[1].trigger.summary(),
            "cron 0 9 * * mon-fri (Europe/London)"
        );
        let Action::Shell(second) = &p.jobs[1].action else {
            panic!()
        };
        assert_eq!(second.command, "echo 'good morning'");
        assert_eq!(p.jobs[2].trigger.summary(), "cron @daily (Europe/London)");
        assert_eq!(p.jobs[2].description, "imported from crontab.txt line 7");
        let skipped: Vec<usize> = p.skipped.iter().map(|(n, _)| *n).collect();
        assert_eq!(skipped, [8, 9, 10, 11]);
        assert!(p.skipped[0].1.contains("@reboot"));
        assert!(p.skipped[1].1.contains('%'));
        assert_eq!(p.skipped[2].1, "minute: 61 is out of range 0-59");
        assert_eq!(
            p.skipped[3].1,
            "unknown time zone 'Mars/Olympus': use an IANA name such as 'Europe/London' or 'UTC'"
        );
    }

    fn commands(p: &Parsed) -> Vec<String> {
        p.jobs
            .iter()
            .map(|j| match &j.action {
                Action::Shell(s) => s.command.clone(),
                _ => panic!("a shell job"),
            })
            .collect()
    }

    const ETC_CRONTAB: &str = include_str!("../../../tests/fixtures/crontab/debian-12-etc-crontab");
    const E2SCRUB: &str =
        include_str!("../../../tests/fixtures/crontab/debian-12-cron.d-e2scrub_all");

    #[test]
    fn debian_system_crontabs_import_as_root_without_the_user_column() {
        let root = RunAs {
            user: "root".into(),
            root: true,
        };
        let p = parse(E2SCRUB, Tz::UTC, "/etc/cron.d/e2scrub_all", Some(&root));
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(
            commands(&p),
            [
                "test -e /run/systemd/system || SERVICE_MODE=1 /usr/lib/x86_64-linux-gnu/e2fsprogs/e2scrub_all_cron",
                "test -e /run/systemd/system || SERVICE_MODE=1 /sbin/e2scrub_all -A -r",
            ]
        );
        assert_eq!(p.jobs[0].trigger.summary(), "cron 30 3 * * 0");
        assert!(p.jobs[0].description.ends_with("line 1 (as root)"));

        let p = parse(ETC_CRONTAB, Tz::UTC, "/etc/crontab", Some(&root));
        assert!(p.skipped.is_empty(), "{:?}", p.skipped);
        assert_eq!(p.jobs.len(), 4);
        assert_eq!(
            commands(&p)[0],
            "cd / && run-parts --report /etc/cron.hourly"
        );
        let Action::Shell(hourly) = &p.jobs[0].action else {
            panic!()
        };
        assert_eq!(hourly.shell, "/bin/sh");
        assert_eq!(
            hourly.env["PATH"],
            "/usr/local/sbin:/usr/local/bin:/sbin:/bin:/usr/sbin:/usr/bin"
        );
    }

    #[test]
    fn other_users_lines_run_as_them_under_root_and_are_refused_otherwise() {
        let text = "SHELL=/bin/bash\n0 1 * * * www-data php /srv/cron.php --it's\n0 2 * * * alice backup\n";
        let root = RunAs {
            user: "root".into(),
            root: true,
        };
        let p = parse(text, Tz::UTC, "/etc/cron.d/site", Some(&root));
        assert_eq!(
            commands(&p)[0],
            r"runuser -u 'www-data' -- '/bin/bash' -c 'php /srv/cron.php --it'\''s'"
        );
        assert_eq!(
            p.jobs[0].name, "php /srv/cron.php --it's",
            "named by what it runs"
        );
        let alice = RunAs {
            user: "alice".into(),
            root: false,
        };
        let p = parse(text, Tz::UTC, "/etc/cron.d/site", Some(&alice));
        assert_eq!(commands(&p), ["backup"]);
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(p.skipped[0].0, 2);
        assert!(p.skipped[0]
            .1
            .starts_with("runs as 'www-data', but Kairos runs as 'alice' and cannot switch users"));
        // Without the system flag the user column would be taken for the command: the
        // CLI decides by location (or --system), so this is what a user crontab reads as.
        let p = parse(E2SCRUB, Tz::UTC, "e2scrub_all", None);
        assert!(commands(&p)[0].starts_with("root test -e"));
        assert!(is_system_path(std::path::Path::new(
            "/etc/cron.d/e2scrub_all"
        )));
        assert!(is_system_path(std::path::Path::new("/etc/crontab")));
        assert!(!is_system_path(std::path::Path::new(
            "/var/spool/cron/crontabs/alice"
        )));
    }
}
