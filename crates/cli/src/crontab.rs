//! `kairos import-crontab FILE`: each crontab line becomes a shell job.

use std::collections::BTreeMap;

use chrono_tz::Tz;
use kairos_core::action::{Action, ShellAction};
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

/// Reads a user crontab: `NAME=value` lines set the environment (and `SHELL`, `CRON_TZ`/`TZ`
/// the shell and zone) of the lines after them; `@reboot` and `%` in commands are reported.
pub fn parse(text: &str, zone: Tz, file_name: &str) -> Parsed {
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
        match schedule_line(line, zone) {
            Ok((trigger, command)) => parsed.jobs.push(Job {
                id: String::new(),
                name: short_name(&command),
                description: format!("imported from {file_name} line {n}"),
                tags: vec!["crontab".into()],
                trigger,
                action: Action::Shell(ShellAction {
                    command,
                    shell: shell.clone(),
                    cwd: None,
                    env: env.clone(),
                    output_cap_bytes: 64 * 1024,
                }),
                options: JobOptions::default(),
                paused: false,
                pool: DEFAULT_POOL.into(),
                node_labels: vec![],
                next_run: None,
            }),
            Err(why) => parsed.skipped.push((n, why)),
        }
    }
    parsed
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
        let p = parse(CRONTAB, Tz::UTC, "crontab.txt");
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
        assert_eq!(p.skipped[3].1, "unknown time zone 'Mars/Olympus'");
    }
}
