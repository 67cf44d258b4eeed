//! `kairos`: the command-line program.

mod bench;
mod bench_api;
mod bench_cluster;
mod bench_idle;
mod cron_cmd;
mod crontab;
mod job_cmd;
mod nodes_cmd;
mod runs_cmd;
mod serve;
mod service;
mod table;

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// mimalloc: the scheduler allocates a few small records per run, and glibc's malloc spent a
/// fifth of `kairos bench storm`'s time on them. Built with `no_thp`: asked for transparent
/// huge pages, every first touch of its arenas zeroed 2 MiB, which `perf` showed as 46 % of a
/// 200k fires/s storm's CPU (kernel `clear_page_erms`) and 0.8-1.7 s stalls.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// mimalloc's `mi_option_purge_delay` (its `mimalloc.h`; the bindings name no constant for it).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// Has memory given back to the system by the thread that frees it, when it frees it. By
/// default mimalloc waits a second and then makes whichever thread allocates next return it:
/// after 200k jobs were added, that was the run loop at its first fire, 15-20 ms of `madvise`
/// (`perf`: `mi_arena_try_purge_visitor`), the storm's largest lateness.
fn purge_at_free() {
    // SAFETY: sets an allocator option, which mimalloc reads whenever it purges.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 0) };
}

/// The version and the commit it was built from, e.g. `0.1.0 (60cb546)`.
const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("KAIROS_COMMIT"), ")");

/// Kairos, a job scheduler that is correct to the second across time zones and DST.
#[derive(Parser)]
#[command(name = "kairos", version = VERSION)]
struct Cli {
    /// The database: a SQLite file (default: kairos.db in the platform data directory) or a
    /// PostgreSQL URL, postgres://USER@HOST:PORT/DB, shared by a cluster of nodes.
    #[arg(long, global = true)]
    db: Option<PathBuf>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the scheduler with the web admin and API until SIGINT or SIGTERM.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = serve::DEFAULT_BIND)]
        bind: String,
        /// Allow a non-loopback --bind.
        #[arg(long)]
        allow_remote: bool,
        /// The URL remote browsers use (e.g. https://kairos.example.com behind a proxy); its
        /// host is accepted and it is the URL printed. Needs --allow-remote.
        #[arg(long, value_name = "URL")]
        public_url: Option<String>,
        /// Another name this machine is reached by, HOST or HOST:PORT (repeatable). Needs
        /// --allow-remote.
        #[arg(long = "allowed-host", value_name = "HOST")]
        allowed_hosts: Vec<String>,
        /// A label of this node that jobs can be pinned to (repeatable, e.g. --label gpu).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
    },
    /// List the processes (nodes) sharing the database: alive, lapsed or gone.
    Nodes {
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
    /// Add, list, show, edit, remove, pause, resume and run jobs.
    #[command(subcommand)]
    Job(job_cmd::JobCommand),
    /// Show recent runs, newest first; `kairos runs cancel ID` cancels one.
    #[command(args_conflicts_with_subcommands = true)]
    Runs {
        #[command(subcommand)]
        command: Option<runs_cmd::RunsCommand>,
        /// Only this job's runs.
        #[arg(long)]
        job: Option<String>,
        /// Only runs in these states (comma-separated, e.g. failed,timed_out).
        #[arg(long)]
        state: Option<String>,
        /// How many runs.
        #[arg(long, default_value_t = 20)]
        limit: usize,
        /// Print one JSON array.
        #[arg(long)]
        json: bool,
    },
    /// Print every job as one JSON document.
    Export,
    /// Print the HTTP API's OpenAPI document (JSON), e.g. to generate a client.
    Openapi,
    /// Add every job of an export file (all or none).
    Import {
        /// A file written by `kairos export`.
        file: PathBuf,
    },
    /// Turn each line of a crontab into a shell job.
    ImportCrontab {
        /// The crontab file.
        file: PathBuf,
        /// Time zone for lines before any CRON_TZ= (default: the system zone).
        #[arg(long)]
        tz: Option<String>,
        /// A system crontab, with a user column after the schedule (assumed for /etc/crontab
        /// and /etc/cron.d/*). Lines for other users need kairos to run as root.
        #[arg(long)]
        system: bool,
    },
    /// Work with cron expressions.
    #[command(subcommand)]
    Cron(cron_cmd::CronCommand),
    /// Measure the scheduler under load; prints one JSON line.
    #[command(subcommand)]
    Bench(bench::BenchCommand),
    /// Run `kairos serve` as a systemd service: install, uninstall, status.
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Print a shell completion script: `kairos completions bash > /etc/bash_completion.d/kairos`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
    },
    /// Print the manual page (roff): `kairos man | man -l -`.
    Man {
        /// Write the pages of kairos and of every subcommand into this directory instead.
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

/// Kairos' folder in the platform data directory (e.g. ~/.local/share/kairos).
fn data_dir() -> PathBuf {
    dirs::data_dir()
        .unwrap_or_else(|| PathBuf::from("."))
        .join("kairos")
}

/// `kairos.db` in the platform data directory (e.g. ~/.local/share/kairos/kairos.db).
fn default_db() -> PathBuf {
    data_dir().join("kairos.db")
}

/// Where the API token for `db` is kept (see [`kairos_server::token_dir`]).
pub fn state_dir(db: &std::path::Path) -> PathBuf {
    kairos_server::token_dir(db, &data_dir())
}

fn import_crontab(
    db: &std::path::Path,
    file: &std::path::Path,
    tz: Option<String>,
    system: bool,
) -> Result<(), String> {
    let zone = match tz {
        Some(name) => {
            kairos_core::trigger::parse_time_zone(&name).map_err(|e| format!("--tz: {e}"))?
        }
        None => cron_cmd::system_zone(),
    };
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let run_as = (system || crontab::is_system_path(file)).then(crontab::RunAs::current);
    let parsed = crontab::parse(&text, zone, &file.display().to_string(), run_as.as_ref());
    for (line, why) in &parsed.skipped {
        eprintln!("{}:{line}: skipped: {why}", file.display());
    }
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let _guard = runtime.enter();
    let scheduler = job_cmd::scheduler(db)?;
    let added = scheduler.add_jobs(parsed.jobs).map_err(|e| e.to_string())?;
    println!(
        "imported {} jobs, skipped {} lines",
        added.len(),
        parsed.skipped.len()
    );
    Ok(())
}

/// Whether `command` only reads and prints, so that a reader going away
/// (`kairos job list | head`) may end it quietly; not one that changes jobs, runs them,
/// serves or benches, which must not stop half-way or die on a socket or a child's pipe.
fn only_prints(command: &Command) -> bool {
    match command {
        Command::Job(job) => matches!(
            job,
            job_cmd::JobCommand::List { .. } | job_cmd::JobCommand::Show { .. }
        ),
        Command::Runs { command, .. } => command.is_none(),
        Command::Nodes { .. }
        | Command::Export
        | Command::Cron(_)
        | Command::Completions { .. }
        | Command::Man { .. } => true,
        _ => false,
    }
}

/// Ends the process quietly when its output pipe closes, as Unix tools do: Rust ignores
/// SIGPIPE, and `println!` then panics on the closed pipe.
fn quiet_on_closed_pipe() {
    // SAFETY: sets one signal back to its default action, before any thread starts.
    #[cfg(unix)]
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
}

fn main() -> ExitCode {
    purge_at_free();
    let cli = Cli::parse();
    if only_prints(&cli.command) {
        quiet_on_closed_pipe();
    }
    tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_writer(std::io::stderr)
        .init();
    let db_flag = cli.db.clone();
    let source = if cli.db.is_some() {
        kairos_server::DatabaseSource::CommandLine
    } else {
        kairos_server::DatabaseSource::Default
    };
    let db = cli.db.unwrap_or_else(default_db);
    let result = match cli.command {
        Command::Serve {
            bind,
            allow_remote,
            public_url,
            allowed_hosts,
            labels,
        } => {
            let remote = serve::Remote {
                allow: allow_remote,
                public_url,
                hosts: allowed_hosts,
            };
            let database = kairos_server::FixedDatabase::new(&db, source, &default_db());
            serve::run(&db, database, &bind, &remote, labels)
        }
        Command::Nodes { json } => nodes_cmd::run(&db, json),
        Command::Job(cmd) => job_cmd::run(&db, cmd),
        Command::Runs {
            command: Some(command),
            ..
        } => runs_cmd::run(&db, command),
        Command::Runs {
            command: None,
            job,
            state,
            limit,
            json,
        } => job_cmd::runs(&db, job, state, limit, json),
        Command::Export => job_cmd::export(&db),
        Command::Openapi => {
            use std::io::Write;
            // A closed pipe (`kairos openapi | head`) is the reader's choice, not an error.
            let _ = writeln!(std::io::stdout(), "{}", kairos_server::openapi_document());
            Ok(())
        }
        Command::Import { file } => job_cmd::import(&db, &file),
        Command::ImportCrontab { file, tz, system } => import_crontab(&db, &file, tz, system),
        Command::Cron(cmd) => cron_cmd::run(cmd),
        Command::Bench(cmd) => bench::run(cmd, db_flag.as_deref()),
        Command::Service(cmd) => service::run_command(cmd, db_flag),
        Command::Completions { shell } => {
            let mut cmd = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "kairos", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { dir } => {
            let cmd = <Cli as clap::CommandFactory>::command();
            match dir {
                Some(dir) => std::fs::create_dir_all(&dir)
                    .and_then(|()| clap_mangen::generate_to(cmd, &dir))
                    .map_err(|e| {
                        format!("cannot write the manual pages to {}: {e}", dir.display())
                    }),
                None => clap_mangen::Man::new(cmd)
                    .render(&mut std::io::stdout())
                    .map_err(|e| format!("cannot write the manual page: {e}")),
            }
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(message) => {
            eprintln!("{message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        super::Cli::command().debug_assert();
    }

    #[test]
    fn tokens_of_a_url_live_in_the_data_dir() {
        use std::path::Path;
        let dir = super::state_dir(Path::new("postgres://kairos@db/k"));
        assert!(dir.ends_with("kairos"), "{dir:?}");
        assert_eq!(super::state_dir(Path::new("kairos.db")), Path::new("."));
    }
}
