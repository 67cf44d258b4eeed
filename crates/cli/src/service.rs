//! `kairos service …`: `kairos serve` as a systemd service (a user unit by default).

use std::path::{Path, PathBuf};
use std::process::Command;

use clap::{Args, Subcommand};

/// The unit's name.
const UNIT: &str = "kairos.service";

/// How long systemd waits after SIGTERM before SIGKILL: the scheduler's shutdown grace for
/// running jobs, plus time to record them.
const STOP_TIMEOUT_S: u64 = kairos_core::scheduler::SHUTDOWN_GRACE.as_secs() + 15;

/// Install, remove or look at the systemd service that runs `kairos serve`.
#[derive(Subcommand)]
pub enum ServiceCommand {
    /// Write the unit, then enable and start it. The service uses --db (default: the user's
    /// data directory for --user, /var/lib/kairos/kairos.db for --system).
    Install {
        #[command(flatten)]
        scope: Scope,
        /// Address the service listens on.
        #[arg(long, default_value = crate::serve::DEFAULT_BIND)]
        bind: String,
        /// Write the unit only: don't run systemctl.
        #[arg(long)]
        no_start: bool,
    },
    /// Print the unit that install would write, without writing it.
    Unit {
        #[command(flatten)]
        scope: Scope,
        /// Address the service listens on.
        #[arg(long, default_value = crate::serve::DEFAULT_BIND)]
        bind: String,
        /// The kairos program the unit runs (default: this one).
        #[arg(long, value_name = "PATH")]
        exe: Option<PathBuf>,
    },
    /// Stop and disable the service and remove its unit (the database stays).
    Uninstall {
        #[command(flatten)]
        scope: Scope,
    },
    /// Show whether the service is installed, enabled and running.
    Status {
        #[command(flatten)]
        scope: Scope,
    },
}

/// A user unit (the default) or a system one.
#[derive(Args, Clone, Copy)]
#[group(multiple = false)]
pub struct Scope {
    /// A unit of this user's service manager, running while the user is logged in (or always,
    /// with `loginctl enable-linger`).
    #[arg(long)]
    user: bool,
    /// A system unit (needs root), run by a dynamic user with its state in /var/lib/kairos.
    #[arg(long)]
    system: bool,
}

impl Scope {
    /// `systemctl` with `--user` when this is a user unit.
    fn systemctl(self) -> Command {
        let mut cmd = Command::new("systemctl");
        if !self.system {
            cmd.arg("--user");
        }
        cmd
    }

    /// Where the unit file goes.
    fn unit_path(self) -> Result<PathBuf, String> {
        if self.system {
            return Ok(PathBuf::from("/etc/systemd/system").join(UNIT));
        }
        let config = dirs::config_dir()
            .ok_or("cannot find this user's configuration directory (is HOME set?)")?;
        Ok(config.join("systemd/user").join(UNIT))
    }
}

/// The unit that runs `exe serve --db db --bind bind`; a system unit runs as a dynamic user
/// whose state directory holds the database.
pub fn unit(exe: &Path, db: &Path, bind: &str, system: bool) -> String {
    let quote = |s: &str| {
        if s.chars()
            .all(|c| c.is_ascii_alphanumeric() || "/._-:@+=,".contains(c))
        {
            s.to_string()
        } else {
            format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
        }
    };
    let system_lines = if system {
        "DynamicUser=yes\nStateDirectory=kairos\nStateDirectoryMode=0700\n"
    } else {
        ""
    };
    let wanted_by = if system {
        "multi-user.target"
    } else {
        "default.target"
    };
    format!(
        "# Kairos as a service (see `kairos service --help`).\n\
         [Unit]\n\
         Description=Kairos job scheduler (kairos serve)\n\
         Documentation=man:kairos(1)\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=exec\n\
         ExecStart={} serve --db {} --bind {}\n\
         {system_lines}\
         Restart=on-failure\n\
         RestartSec=5\n\
         # SIGTERM to kairos only: it gives running jobs {} s, then stops them itself.\n\
         KillMode=mixed\n\
         TimeoutStopSec={STOP_TIMEOUT_S}\n\
         \n\
         [Install]\n\
         WantedBy={wanted_by}\n",
        quote(&exe.display().to_string()),
        quote(&db.display().to_string()),
        quote(bind),
        kairos_core::scheduler::SHUTDOWN_GRACE.as_secs(),
    )
}

/// Runs `cmd`, saying what failed.
fn run(mut cmd: Command) -> Result<(), String> {
    let shown = format!("{cmd:?}").replace('"', "");
    match cmd.status() {
        Ok(status) if status.success() => Ok(()),
        Ok(status) => Err(format!("`{shown}` failed ({status})")),
        Err(e) => Err(format!("cannot run `{shown}`: {e}")),
    }
}

/// Runs `kairos service …`; `db` is the `--db` given, if any.
pub fn run_command(cmd: ServiceCommand, db: Option<PathBuf>) -> Result<(), String> {
    match cmd {
        ServiceCommand::Install {
            scope,
            bind,
            no_start,
        } => install(scope, db, &bind, no_start),
        ServiceCommand::Unit { scope, bind, exe } => {
            let exe = match exe {
                Some(exe) => exe,
                None => this_exe()?,
            };
            print!(
                "{}",
                unit(&exe, &service_db(scope, db)?, &bind, scope.system)
            );
            Ok(())
        }
        ServiceCommand::Uninstall { scope } => uninstall(scope),
        ServiceCommand::Status { scope } => status(scope),
    }
}

/// This program's own path.
fn this_exe() -> Result<PathBuf, String> {
    std::env::current_exe().map_err(|e| format!("cannot find the kairos program's own path: {e}"))
}

/// The service's database: `db` made absolute, or the scope's default.
fn service_db(scope: Scope, db: Option<PathBuf>) -> Result<PathBuf, String> {
    Ok(match db {
        Some(db) if db.is_relative() && !db.to_string_lossy().contains("://") => {
            std::env::current_dir().map_err(|e| e.to_string())?.join(db)
        }
        Some(db) => db,
        None if scope.system => PathBuf::from("/var/lib/kairos/kairos.db"),
        None => crate::default_db(),
    })
}

fn install(scope: Scope, db: Option<PathBuf>, bind: &str, no_start: bool) -> Result<(), String> {
    let exe = this_exe()?;
    let db = service_db(scope, db)?;
    let path = scope.unit_path()?;
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)
            .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    }
    std::fs::write(&path, unit(&exe, &db, bind, scope.system))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    println!("wrote {}", path.display());
    let manual = format!(
        "systemctl{} daemon-reload && systemctl{} enable --now {UNIT}",
        if scope.system { "" } else { " --user" },
        if scope.system { "" } else { " --user" }
    );
    if no_start {
        println!("start it with: {manual}");
        return Ok(());
    }
    let mut reload = scope.systemctl();
    reload.arg("daemon-reload");
    let mut enable = scope.systemctl();
    enable.args(["enable", "--now", UNIT]);
    run(reload)
        .and_then(|()| run(enable))
        .map_err(|e| format!("{e}\nthe unit is written; once systemd is reachable: {manual}"))?;
    println!(
        "enabled and started {UNIT}; logs: journalctl{} -u kairos",
        if scope.system { "" } else { " --user" }
    );
    Ok(())
}

fn uninstall(scope: Scope) -> Result<(), String> {
    let path = scope.unit_path()?;
    if !path.exists() {
        return Err(format!(
            "no service is installed ({} is missing)",
            path.display()
        ));
    }
    let mut disable = scope.systemctl();
    disable.args(["disable", "--now", UNIT]);
    if let Err(e) = run(disable) {
        eprintln!("{e} (removing the unit anyway)");
    }
    std::fs::remove_file(&path).map_err(|e| format!("cannot remove {}: {e}", path.display()))?;
    let mut reload = scope.systemctl();
    reload.arg("daemon-reload");
    let _ = run(reload);
    println!("removed {}; the database is left in place", path.display());
    Ok(())
}

fn status(scope: Scope) -> Result<(), String> {
    let path = scope.unit_path()?;
    if !path.exists() {
        return Err(format!(
            "not installed ({} is missing): kairos service install{}",
            path.display(),
            if scope.system { " --system" } else { "" }
        ));
    }
    println!("unit: {}", path.display());
    let mut show = scope.systemctl();
    show.args(["status", "--no-pager", UNIT]);
    // `systemctl status` exits 3 for a stopped unit: its report is the answer either way.
    match show.status() {
        Ok(_) => Ok(()),
        Err(e) => Err(format!("cannot run systemctl: {e}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn units_run_serve_with_a_clean_stop() {
        let user = unit(
            Path::new("/opt/k airos/kairos"),
            Path::new("/home/a/.local/share/kairos/kairos.db"),
            "127.0.0.1:7878",
            false,
        );
        assert!(user.contains(
            "ExecStart=\"/opt/k airos/kairos\" serve --db /home/a/.local/share/kairos/kairos.db \
             --bind 127.0.0.1:7878\n"
        ));
        assert!(user.contains("KillMode=mixed\nTimeoutStopSec=45\n"));
        assert!(user.contains("WantedBy=default.target"));
        assert!(!user.contains("DynamicUser"));
        let system = unit(
            Path::new("/usr/bin/kairos"),
            Path::new("/var/lib/kairos/kairos.db"),
            "127.0.0.1:7878",
            true,
        );
        assert!(system.contains("DynamicUser=yes\nStateDirectory=kairos\n"));
        assert!(system.contains("WantedBy=multi-user.target"));
    }
}
