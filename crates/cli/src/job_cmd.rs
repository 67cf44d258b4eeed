//! `kairos job …`, `kairos runs`, `kairos export`, `kairos import`: jobs and history on the
//! database directly, so they work with or without `kairos serve` running on it (a running
//! server notices the changes within a second).

use std::path::Path;
use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{DateTime, SecondsFormat, Utc};
use clap::{Args, Subcommand, ValueEnum};
use kairos_core::action::{Action, HttpAction, MonitorAction, ShellAction};
use kairos_core::events::{Event, EventMask, Listener};
use kairos_core::history::{RunParams, RunQuery, RunRecord, RunState};
use kairos_core::job::{
    Coalesce, ExportDoc, Follow, FollowOn, Job, JobOptions, Retries, DEFAULT_POOL,
};
use kairos_core::scheduler::Scheduler;
use kairos_core::store::{self, JobStore};
use kairos_core::trigger::{
    parse_time_zone, CronTrigger, DateTrigger, IntervalSpec, IntervalTrigger, Trigger,
};

use crate::table::Table;

/// The `job` subcommands.
#[derive(Subcommand)]
pub enum JobCommand {
    /// Add a job.
    Add(Box<JobFields>),
    /// List jobs.
    List {
        /// Only jobs with this tag.
        #[arg(long)]
        tag: Option<String>,
        /// Print one JSON array of jobs.
        #[arg(long)]
        json: bool,
    },
    /// Show one job and its recent runs.
    Show {
        /// The job id.
        id: String,
        /// Print the job as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Change a job: only the given fields change.
    Edit {
        /// The job id.
        id: String,
        #[command(flatten)]
        fields: Box<JobFields>,
    },
    /// Remove jobs.
    Rm {
        /// Job ids.
        #[arg(required = true)]
        ids: Vec<String>,
    },
    /// Pause a job.
    Pause {
        /// The job id.
        id: String,
    },
    /// Resume a job.
    Resume {
        /// The job id.
        id: String,
        /// Run fire times missed while paused (through the misfire policy) instead of skipping them.
        #[arg(long)]
        catch_up: bool,
    },
    /// Run a job now, in this process, and print its output.
    Run {
        /// The job id.
        id: String,
        /// Set a variable for a shell command, over the job's own (repeat for several).
        #[arg(long = "env", value_name = "NAME=VALUE", value_parser = parse_env)]
        env: Vec<(String, String)>,
        /// Pass an argument to a shell command: `$1`, `$2`, … in order (repeat for several).
        #[arg(long = "arg", value_name = "ARG", allow_hyphen_values = true)]
        args: Vec<String>,
        /// Send this body instead of an HTTP job's own.
        #[arg(long)]
        body: Option<String>,
    },
}

/// `NAME=VALUE` as a pair.
fn parse_env(text: &str) -> Result<(String, String), String> {
    match text.split_once('=') {
        Some((name, value)) if !name.is_empty() => Ok((name.to_string(), value.to_string())),
        _ => Err(format!("'{text}' is not NAME=VALUE")),
    }
}

/// A job's fields as flags; on `add`, name, a trigger and an action are required.
#[derive(Args, Default)]
pub struct JobFields {
    /// Job id (default: generated).
    #[arg(long = "id", id = "new_id")]
    id: Option<String>,
    /// Name shown in lists.
    #[arg(long)]
    name: Option<String>,
    /// Free text.
    #[arg(long)]
    description: Option<String>,
    /// A tag (repeat for several; on edit, replaces the tags).
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Trigger: a cron expression.
    #[arg(long, group = "trigger")]
    cron: Option<String>,
    /// Trigger: a period such as 90s, 10m, 1h30m, 1d, 2w.
    #[arg(long, group = "trigger")]
    every: Option<String>,
    /// Trigger: once, at this RFC 3339 instant.
    #[arg(long, group = "trigger")]
    at: Option<String>,
    /// Trigger: any trigger as JSON, e.g. '{"type":"calendar_interval",…}'.
    #[arg(long = "trigger", group = "trigger")]
    trigger_json: Option<String>,
    /// Time zone of the trigger (default: the system zone).
    #[arg(long)]
    tz: Option<String>,
    /// Action: a shell command.
    #[arg(long, group = "action")]
    command: Option<String>,
    /// Action: an HTTP request to this URL.
    #[arg(long, group = "action")]
    url: Option<String>,
    /// HTTP method for --url.
    #[arg(long, requires = "url")]
    method: Option<String>,
    /// Action: take a system-monitor sample.
    #[arg(long, group = "action")]
    monitor: bool,
    /// Action: any action as JSON, e.g. '{"kind":"shell","command":"…","cwd":"/tmp"}'.
    #[arg(long = "action", group = "action")]
    action_json: Option<String>,
    /// Create or leave the job paused.
    #[arg(long)]
    paused: bool,
    /// Executor pool.
    #[arg(long)]
    pool: Option<String>,
    /// Run only on nodes with this label (repeat for several; on edit, replaces the labels).
    #[arg(long = "node-label", value_name = "LABEL")]
    node_labels: Vec<String>,
    /// On edit: run on any node again (drops the node labels).
    #[arg(long, conflicts_with = "node_labels")]
    any_node: bool,
    /// Start job ID when a run of this one succeeds; `ID:failed` or `ID:completed` for other
    /// ends (repeat for several; on edit, replaces the chain).
    #[arg(long = "then", value_name = "ID[:WHEN]", value_parser = parse_follow)]
    then: Vec<Follow>,
    /// On edit: start no other jobs (drops the chain).
    #[arg(long, conflicts_with = "then")]
    no_then: bool,
    /// Stop a run after this many seconds.
    #[arg(long)]
    timeout: Option<u64>,
    /// Retry a failed run this many times.
    #[arg(long)]
    retries: Option<u32>,
    /// Most runs of this job at once.
    #[arg(long)]
    max_instances: Option<u32>,
    /// Seconds a fire may be late and still run.
    #[arg(long)]
    misfire_grace: Option<u64>,
    /// What to do with several overdue fire times.
    #[arg(long, value_enum)]
    coalesce: Option<CoalesceArg>,
    /// Largest random delay added to fire times, seconds.
    #[arg(long)]
    jitter: Option<u64>,
    /// Print the job as JSON.
    #[arg(long)]
    json: bool,
}

/// `--coalesce` values.
#[derive(Clone, Copy, ValueEnum)]
pub enum CoalesceArg {
    /// Run once, for the latest overdue fire time.
    Latest,
    /// Run once, for the earliest.
    Earliest,
    /// Run every overdue fire time.
    All,
}

/// The store `--db` names: a SQLite file (its directory created if needed) or a
/// `postgres://` URL.
pub fn open_store(db: &Path) -> Result<Arc<dyn JobStore>, String> {
    store::open(db).map_err(|e| {
        format!(
            "--db: cannot open {}: {e}",
            kairos_core::store::shown_location(db)
        )
    })
}

/// A (not started) scheduler over the store `--db` names.
pub fn scheduler(db: &Path) -> Result<Scheduler, String> {
    Ok(Scheduler::new(open_store(db)?))
}

/// Runs a `job` subcommand against the database at `db`.
pub fn run(db: &Path, cmd: JobCommand) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let _guard = runtime.enter();
    let s = scheduler(db)?;
    match cmd {
        JobCommand::Add(fields) => {
            let job = s.add_job(fields.new_job()?).map_err(|e| e.to_string())?;
            print_job(&job, fields.json);
        }
        JobCommand::List { tag, json } => {
            let mut jobs = s.list_jobs().map_err(|e| e.to_string())?;
            jobs.retain(|j| tag.as_ref().is_none_or(|t| j.tags.contains(t)));
            if json {
                println!(
                    "{}",
                    serde_json::to_string_pretty(&jobs).map_err(|e| e.to_string())?
                );
            } else {
                let mut table =
                    Table::new(["ID", "NAME", "KIND", "TRIGGER", "NEXT RUN", "STATE", "TAGS"]);
                for j in &jobs {
                    table.row([
                        j.id.clone(),
                        j.name.clone(),
                        kind(&j.action).into(),
                        j.trigger.summary(),
                        j.next_run.map_or("-".into(), time),
                        if j.paused { "paused" } else { "active" }.into(),
                        j.tags.join(","),
                    ]);
                }
                print!("{}", table.render());
            }
        }
        JobCommand::Show { id, json } => {
            let job = s.get_job(&id).map_err(|e| e.to_string())?;
            if json {
                print_job(&job, true);
            } else {
                print_job(&job, false);
                let recent = s
                    .store()
                    .runs(&RunQuery {
                        job_id: Some(id),
                        limit: 10,
                        ..Default::default()
                    })
                    .map_err(|e| e.to_string())?;
                println!("\nRecent runs:");
                print!("{}", runs_table(&recent));
            }
        }
        JobCommand::Edit { id, fields } => {
            let job = fields.apply(s.get_job(&id).map_err(|e| e.to_string())?)?;
            let job = s.update_job(job).map_err(|e| e.to_string())?;
            print_job(&job, fields.json);
        }
        JobCommand::Rm { ids } => {
            for id in ids {
                s.remove_job(&id).map_err(|e| e.to_string())?;
                println!("removed {id}");
            }
        }
        JobCommand::Pause { id } => {
            s.pause_job(&id).map_err(|e| e.to_string())?;
            println!("paused {id}");
        }
        JobCommand::Resume { id, catch_up } => {
            let job = s.resume_job(&id, catch_up).map_err(|e| e.to_string())?;
            println!(
                "resumed {id}; next run {}",
                job.next_run.map_or("never".into(), time)
            );
        }
        JobCommand::Run {
            id,
            env,
            args,
            body,
        } => {
            let params = RunParams {
                env: env.into_iter().collect(),
                args,
                body,
            };
            runtime.block_on(run_in_foreground(&s, &id, params))?
        }
    }
    Ok(())
}

/// Waits until run `id` has ended (its end event).
pub(crate) async fn wait_for_end(events: &mut Listener, id: i64) {
    while let Some(e) = events.recv().await {
        if let Event::RunSucceeded(r)
        | Event::RunFailed(r)
        | Event::RunTimedOut(r)
        | Event::RunCancelled(r) = e.event
        {
            if r.run_id == id {
                return;
            }
        }
    }
}

/// Prints each step run of workflow run `id`: its state and output.
pub(crate) fn print_steps(s: &Scheduler, id: i64) -> Result<(), String> {
    s.store().flush().map_err(|e| e.to_string())?;
    let query = RunQuery {
        upstream: Some(id),
        limit: 10_000,
        ..Default::default()
    };
    let mut steps = s.store().runs(&query).map_err(|e| e.to_string())?;
    steps.reverse();
    for run in steps {
        let step = run.step.as_deref().unwrap_or("?");
        let why = run
            .error
            .as_deref()
            .map(|e| format!(": {e}"))
            .unwrap_or_default();
        eprintln!("step {step} (run {}) {}{why}", run.id, run.state.as_str());
        print!("{}", run.stdout);
        eprint!("{}", run.stderr);
    }
    Ok(())
}

/// Runs the job here with `params` (and its timeout and retries), then prints each attempt's
/// output.
async fn run_in_foreground(s: &Scheduler, id: &str, params: RunParams) -> Result<(), String> {
    let mut events = s.events().subscribe(EventMask::RUNS);
    let first = s.run_now_with(id, params).map_err(|e| e.to_string())?;
    eprintln!("running {id} (run {first}) …");
    let workflow = s
        .get_job(id)
        .is_ok_and(|j| matches!(j.action, Action::Workflow(_)));
    if workflow {
        // Its steps start as others end: wait for its end, or shutdown would leave it half-run.
        wait_for_end(&mut events, first).await;
        print_steps(s, first)?;
    }
    s.shutdown(StdDuration::from_secs(u64::MAX / 4)).await;
    let mut last = None;
    while let Some(e) = events.try_recv() {
        if let Event::RunSucceeded(r)
        | Event::RunFailed(r)
        | Event::RunTimedOut(r)
        | Event::RunCancelled(r) = e.event
        {
            last = Some(r.run_id);
        }
    }
    let run = s
        .store()
        .run(last.unwrap_or(first))
        .map_err(|e| e.to_string())?
        .ok_or("the run left no record")?;
    print!("{}", run.stdout);
    eprint!("{}", run.stderr);
    match run.state {
        RunState::Succeeded => Ok(()),
        state => Err(format!(
            "run {} {}: {}",
            run.id,
            state.as_str(),
            run.error.unwrap_or_default()
        )),
    }
}

fn print_job(job: &Job, json: bool) {
    if json {
        println!("{}", serde_json::to_string_pretty(job).unwrap_or_default());
        return;
    }
    println!("{}  {}", job.id, job.name);
    if !job.description.is_empty() {
        println!("  {}", job.description);
    }
    println!("  kind      {}", kind(&job.action));
    println!("  trigger   {}", job.trigger.summary());
    println!("  next run  {}", job.next_run.map_or("never".into(), time));
    println!(
        "  state     {}",
        if job.paused { "paused" } else { "active" }
    );
    if !job.tags.is_empty() {
        println!("  tags      {}", job.tags.join(", "));
    }
    if !job.node_labels.is_empty() {
        println!("  runs on   nodes labelled {}", job.node_labels.join(", "));
    }
    for follow in &job.then {
        let when = match follow.on {
            FollowOn::Succeeded => "succeeds",
            FollowOn::Failed => "fails",
            FollowOn::Completed => "ends",
        };
        println!("  then      starts '{}' when a run {when}", follow.job);
    }
}

/// The action's kind name.
pub fn kind(action: &Action) -> &'static str {
    action.kind().as_str()
}

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Secs, true)
}

fn runs_table(runs: &[RunRecord]) -> String {
    let mut table = Table::new([
        "RUN",
        "JOB",
        "SCHEDULED",
        "STARTED",
        "DURATION",
        "STATE",
        "EXIT",
        "NODE",
        "ERROR",
    ]);
    for r in runs {
        // A workflow's step shows as `job/step`.
        let job = match &r.step {
            Some(step) => format!("{}/{step}", r.job_id),
            None => r.job_id.clone(),
        };
        table.row([
            r.id.to_string(),
            job,
            time(r.scheduled),
            r.started.map_or("-".into(), time),
            r.duration_ms()
                .map_or("-".into(), |ms| format!("{:.3}s", ms as f64 / 1000.0)),
            r.state.as_str().into(),
            r.exit_code
                .map(|c| c.to_string())
                .or(r.http_status.map(|s| s.to_string()))
                .unwrap_or("-".into()),
            r.node.as_deref().unwrap_or("-").to_string(),
            r.error.as_deref().unwrap_or_default().to_string(),
        ]);
    }
    table.render()
}

/// `kairos runs`: recent runs, newest first.
pub fn runs(
    db: &Path,
    job: Option<String>,
    state: Option<String>,
    limit: usize,
    json: bool,
) -> Result<(), String> {
    let store = open_store(db)?;
    let states = match state {
        Some(s) => s
            .split(',')
            .map(|name| {
                RunState::parse(name.trim()).ok_or_else(|| {
                    let all: Vec<_> = RunState::ALL.iter().map(|s| s.as_str()).collect();
                    format!(
                        "--state: unknown state '{name}' (one of {})",
                        all.join(", ")
                    )
                })
            })
            .collect::<Result<_, _>>()?,
        None => vec![],
    };
    let query = RunQuery {
        job_id: job,
        states,
        limit,
        ..Default::default()
    };
    let runs = store.runs(&query).map_err(|e| e.to_string())?;
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&runs).map_err(|e| e.to_string())?
        );
    } else {
        print!("{}", runs_table(&runs));
    }
    Ok(())
}

/// `kairos export`: every job as one JSON document on stdout.
pub fn export(db: &Path) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let _guard = runtime.enter();
    let jobs = scheduler(db)?.list_jobs().map_err(|e| e.to_string())?;
    let doc = ExportDoc::new(jobs);
    println!(
        "{}",
        serde_json::to_string_pretty(&doc).map_err(|e| e.to_string())?
    );
    Ok(())
}

/// `kairos import FILE`: adds every job of an export, all or none.
pub fn import(db: &Path, file: &Path) -> Result<(), String> {
    let text = std::fs::read_to_string(file)
        .map_err(|e| format!("cannot read {}: {e}", file.display()))?;
    let doc: ExportDoc =
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.display()))?;
    doc.check_version()
        .map_err(|e| format!("{}: {e}", file.display()))?;
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let _guard = runtime.enter();
    let n = scheduler(db)?
        .add_jobs(doc.jobs)
        .map_err(|e| e.to_string())?
        .len();
    println!("imported {n} jobs");
    Ok(())
}

impl JobFields {
    fn zone(&self) -> Result<chrono_tz::Tz, String> {
        match &self.tz {
            Some(name) => parse_time_zone(name).map_err(|e| format!("--tz: {e}")),
            None => Ok(crate::cron_cmd::system_zone()),
        }
    }

    fn trigger(&self) -> Result<Option<Trigger>, String> {
        let tz = self.zone()?;
        Ok(Some(if let Some(expr) = &self.cron {
            Trigger::Cron(CronTrigger::new(expr, tz).map_err(|e| format!("--cron: {e}"))?)
        } else if let Some(every) = &self.every {
            let ms = parse_period(every).map_err(|e| format!("--every: {e}"))?;
            let spec = IntervalSpec {
                seconds: u32::try_from(ms / 1000)
                    .map_err(|_| format!("--every: '{every}' is too long"))?,
                milliseconds: (ms % 1000) as u32,
                timezone: tz,
                start: Some(Utc::now()),
                ..Default::default()
            };
            Trigger::Interval(IntervalTrigger::new(spec).map_err(|e| format!("--every: {e}"))?)
        } else if let Some(at) = &self.at {
            let at = DateTime::parse_from_rfc3339(at)
                .map_err(|_| {
                    format!("--at: '{at}' is not an RFC 3339 time such as 2026-01-01T09:00:00Z")
                })?
                .with_timezone(&Utc);
            Trigger::Date(DateTrigger { at, timezone: tz })
        } else if let Some(json) = &self.trigger_json {
            serde_json::from_str(json).map_err(|e| format!("--trigger: {e}"))?
        } else {
            return Ok(None);
        }))
    }

    fn action(&self) -> Result<Option<Action>, String> {
        Ok(Some(if let Some(command) = &self.command {
            ShellAction {
                command: command.clone(),
                shell: "sh".into(),
                cwd: None,
                env: Default::default(),
                output_cap_bytes: 64 * 1024,
            }
            .into()
        } else if let Some(url) = &self.url {
            HttpAction {
                method: self.method.clone().unwrap_or_else(|| "GET".into()),
                url: url.clone(),
                headers: Default::default(),
                body: None,
                timeout_s: None,
                expect_status: [200, 299],
            }
            .into()
        } else if self.monitor {
            Action::Monitor(MonitorAction {})
        } else if let Some(json) = &self.action_json {
            serde_json::from_str(json).map_err(|e| format!("--action: {e}"))?
        } else {
            return Ok(None);
        }))
    }

    fn options(&self, mut o: JobOptions) -> JobOptions {
        o.timeout_s = self.timeout.or(o.timeout_s);
        o.retries = self
            .retries
            .map(|count| Retries {
                count,
                ..Retries::NONE
            })
            .or(o.retries);
        o.max_instances = self.max_instances.or(o.max_instances);
        o.misfire_grace_time_s = self.misfire_grace.or(o.misfire_grace_time_s);
        o.jitter_s = self.jitter.or(o.jitter_s);
        o.coalesce = self
            .coalesce
            .map(|c| match c {
                CoalesceArg::Latest => Coalesce::Latest,
                CoalesceArg::Earliest => Coalesce::Earliest,
                CoalesceArg::All => Coalesce::All,
            })
            .or(o.coalesce);
        o
    }

    fn new_job(&self) -> Result<Job, String> {
        let name = self.name.clone().ok_or("--name: a job needs a name")?;
        let trigger = self
            .trigger()?
            .ok_or("a trigger is needed: --cron, --every, --at or --trigger")?;
        let action = self
            .action()?
            .ok_or("an action is needed: --command, --url, --monitor or --action")?;
        Ok(Job {
            id: self.id.clone().unwrap_or_default(),
            name,
            description: self.description.clone().unwrap_or_default(),
            tags: self.tags.clone(),
            trigger,
            action,
            options: self.options(JobOptions::default()),
            paused: self.paused,
            pool: self.pool.clone().unwrap_or_else(|| DEFAULT_POOL.into()),
            node_labels: self.node_labels.clone(),
            then: self.then.clone(),
            next_run: None,
        })
    }

    fn apply(&self, mut job: Job) -> Result<Job, String> {
        if self.id.is_some() {
            return Err("--id: a job's id cannot change; add a new job instead".into());
        }
        if let Some(name) = &self.name {
            job.name = name.clone();
        }
        if let Some(d) = &self.description {
            job.description = d.clone();
        }
        if !self.tags.is_empty() {
            job.tags = self.tags.clone();
        }
        if !self.node_labels.is_empty() || self.any_node {
            job.node_labels = self.node_labels.clone();
        }
        if !self.then.is_empty() || self.no_then {
            job.then = self.then.clone();
        }
        if let Some(trigger) = self.trigger()? {
            job.trigger = trigger;
        }
        if let Some(action) = self.action()? {
            job.action = action;
        }
        if let Some(pool) = &self.pool {
            job.pool = pool.clone();
        }
        job.paused |= self.paused;
        job.options = self.options(job.options);
        Ok(job)
    }
}

/// A chain link: `ID`, `ID:succeeded`, `ID:failed` or `ID:completed`.
fn parse_follow(text: &str) -> Result<Follow, String> {
    let (job, on) = match text.rsplit_once(':') {
        Some((job, "succeeded")) => (job, FollowOn::Succeeded),
        Some((job, "failed")) => (job, FollowOn::Failed),
        Some((job, "completed")) => (job, FollowOn::Completed),
        Some((_, when)) => {
            return Err(format!(
                "'{when}' is not when to start it: succeeded, failed or completed"
            ))
        }
        None => (text, FollowOn::Succeeded),
    };
    Ok(Follow {
        job: job.to_string(),
        on,
    })
}

/// Milliseconds in a period such as `90s`, `10m`, `1h30m`, `1d`, `2w` or `250ms`.
pub fn parse_period(text: &str) -> Result<u64, String> {
    let bad = || format!("'{text}' is not a period such as 90s, 10m, 1h30m, 1d or 2w");
    let mut total: u64 = 0;
    let mut rest = text.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).ok_or_else(bad)?;
        let n: u64 = rest[..digits].parse().map_err(|_| bad())?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let ms = match &rest[..unit_len] {
            "ms" => 1,
            "s" => 1000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 604_800_000,
            _ => return Err(bad()),
        };
        total = n
            .checked_mul(ms)
            .and_then(|x| total.checked_add(x))
            .ok_or_else(bad)?;
        rest = &rest[unit_len..];
    }
    if total == 0 {
        return Err(format!("'{text}' is zero; give a period of at least 1ms"));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::parse_period;

    #[test]
    fn periods() {
        assert_eq!(parse_period("90s"), Ok(90_000));
        assert_eq!(parse_period("1h30m"), Ok(5_400_000));
        assert_eq!(parse_period("2w"), Ok(1_209_600_000));
        assert_eq!(parse_period("250ms"), Ok(250));
        assert!(parse_period("0s").unwrap_err().contains("zero"));
        assert!(parse_period("ten minutes")
            .unwrap_err()
            .contains("not a period"));
        assert!(parse_period("5").is_err());
        assert!(parse_period("").is_err());
    }
}
