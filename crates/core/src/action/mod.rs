//! Actions: what a job does when it runs — a shell command, an HTTP request, a system-monitor
//! sample, or an in-process async function.

mod function;
#[cfg(feature = "http")]
mod http;
#[cfg(feature = "monitor")]
mod monitor;
mod shell;
mod tail;
mod workflow;

pub use tail::LiveOutput;
pub use workflow::{plan, Edge, Plan, Step, StepRun, WorkflowAction, MAX_STEPS};

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use tokio_util::sync::CancellationToken;

use crate::history::{RunParams, RunRecord, RunUsage};
use crate::metrics::MetricSample;
use chrono::{DateTime, Utc};

pub(crate) use function::unregistered;
pub(crate) use function::{blocking_fn, job_fn};
pub use function::{FunctionRegistry, JobContext, JobError, JobFn, JobResult, Outcome};
#[cfg(feature = "monitor")]
pub use monitor::SystemMonitor;

/// What a job does. JSON: `{"kind":"shell","command":"backup.sh"}`, `{"kind":"http",
/// "url":"https://…"}`, `{"kind":"monitor"}`, `{"kind":"function","name":"…"}`,
/// `{"kind":"workflow","steps":[…],"edges":[…]}`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Action {
    // Shell and Http are boxed: a job keeps its action inline, and these two large kinds
    // would make every job 64 bytes larger.
    /// Run a command through a shell.
    Shell(Box<ShellAction>),
    /// Send an HTTP request.
    Http(Box<HttpAction>),
    /// Take one system-monitor sample.
    Monitor(MonitorAction),
    /// Call an in-process function registered under a name.
    Function(FunctionAction),
    /// Run a graph of steps, each its own run.
    Workflow(WorkflowAction),
}

impl From<ShellAction> for Action {
    fn from(a: ShellAction) -> Self {
        Action::Shell(Box::new(a))
    }
}

impl From<HttpAction> for Action {
    fn from(a: HttpAction) -> Self {
        Action::Http(Box::new(a))
    }
}

/// The kind of an action, as its JSON `kind` names it.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// A shell command.
    Shell,
    /// An HTTP request.
    Http,
    /// A system-monitor sample.
    Monitor,
    /// An in-process function.
    Function,
    /// A workflow of steps.
    Workflow,
}

impl ActionKind {
    /// Every kind.
    pub const ALL: [ActionKind; 5] = [
        ActionKind::Shell,
        ActionKind::Http,
        ActionKind::Monitor,
        ActionKind::Function,
        ActionKind::Workflow,
    ];

    /// The kind's JSON name, e.g. `shell`.
    pub fn as_str(self) -> &'static str {
        match self {
            ActionKind::Shell => "shell",
            ActionKind::Http => "http",
            ActionKind::Monitor => "monitor",
            ActionKind::Function => "function",
            ActionKind::Workflow => "workflow",
        }
    }

    /// The kind named `name`, if any.
    pub fn parse(name: &str) -> Option<ActionKind> {
        Self::ALL.into_iter().find(|k| k.as_str() == name)
    }
}

impl std::fmt::Display for ActionKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A shell command, run with stdin closed and its output captured.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ShellAction {
    /// The command line, passed to the shell with `-c`.
    pub command: String,
    /// The shell to run it with.
    #[serde(default = "default_shell")]
    pub shell: String,
    /// Working directory (default: the scheduler's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cwd: Option<String>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// How many bytes of each of stdout and stderr to keep (the tail).
    #[serde(default = "default_output_cap")]
    pub output_cap_bytes: usize,
}

impl ShellAction {
    /// `command`, run with `sh -c`, keeping the default tail of its output.
    pub fn new(command: &str) -> Self {
        ShellAction {
            command: command.to_string(),
            shell: default_shell(),
            cwd: None,
            env: BTreeMap::new(),
            output_cap_bytes: default_output_cap(),
        }
    }
}

fn default_shell() -> String {
    "sh".to_string()
}

fn default_output_cap() -> usize {
    64 * 1024
}

/// The most output a shell action may keep per stream: 16 MiB.
pub const MAX_OUTPUT_CAP: usize = 16 << 20;

/// Most bytes a run's parameters hold, names and values together.
pub const MAX_PARAMS_BYTES: usize = 64 << 10;

/// An HTTP request; the run succeeds when the status is within `expect_status`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpAction {
    /// Request method.
    #[serde(default = "default_method")]
    pub method: String,
    /// Absolute http or https URL.
    pub url: String,
    /// Request headers.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// Request body.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<String>,
    /// Request timeout in seconds (the job's timeout still applies).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout_s: Option<u64>,
    /// Inclusive range of statuses that count as success.
    #[serde(default = "default_expect")]
    #[cfg_attr(feature = "schema", schema(value_type = Vec<u16>, min_items = 2, max_items = 2))]
    pub expect_status: [u16; 2],
}

impl HttpAction {
    /// A GET of `url` that succeeds on a 2xx status.
    pub fn get(url: &str) -> Self {
        HttpAction {
            method: default_method(),
            url: url.to_string(),
            headers: BTreeMap::new(),
            body: None,
            timeout_s: None,
            expect_status: default_expect(),
        }
    }
}

fn default_method() -> String {
    "GET".to_string()
}

fn default_expect() -> [u16; 2] {
    [200, 299]
}

/// Takes one sample of CPU, memory, swap, disk, network and load.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MonitorAction {}

/// Calls the function registered under `name`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionAction {
    /// The registered name.
    pub name: String,
}

/// What the scheduler gives an action while it runs.
#[derive(Clone, Default)]
pub struct ActionContext {
    /// Cancelled on timeout or shutdown; the action stops promptly (killing what it started).
    pub cancel: CancellationToken,
    /// In-process functions by name.
    pub functions: FunctionRegistry,
    /// The shared system sampler.
    #[cfg(feature = "monitor")]
    pub(crate) monitor: SystemMonitor,
}

/// Which run an action serves. Shell commands find it in their environment:
/// `KAIROS_JOB_ID`, `KAIROS_JOB_NAME`, `KAIROS_RUN_ID`, `KAIROS_SCHEDULED_AT` (RFC 3339, UTC)
/// and `KAIROS_ATTEMPT` (1 for the first try); a run a chain started also gets
/// `KAIROS_UPSTREAM_JOB_ID`, `KAIROS_UPSTREAM_RUN_ID`, `KAIROS_UPSTREAM_STATE` and
/// `KAIROS_UPSTREAM_EXIT_CODE` (empty when it had none); a workflow's step gets
/// `KAIROS_WORKFLOW_RUN_ID` and `KAIROS_STEP`.
#[derive(Debug, Clone, Copy)]
pub struct RunInfo<'a> {
    /// The job.
    pub job_id: &'a str,
    /// The job's name.
    pub job_name: &'a str,
    /// The run's history id.
    pub run_id: i64,
    /// The fire time it runs for.
    pub scheduled: DateTime<Utc>,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
    /// The run whose end started this one, for a run a chain started.
    pub upstream: Option<&'a RunRecord>,
    /// For a workflow's step: the workflow's run and the step's id.
    pub step: Option<(i64, &'a str)>,
    /// Where a shell command shows its output while it runs, if anyone may look.
    pub live: Option<&'a LiveOutput>,
    /// What a run by hand was given.
    pub params: Option<&'a RunParams>,
}

impl RunInfo<'_> {
    /// The environment variables a shell command gets for this run.
    pub fn env(&self) -> Vec<(&'static str, String)> {
        let mut env = vec![
            ("KAIROS_JOB_ID", self.job_id.to_string()),
            ("KAIROS_JOB_NAME", self.job_name.to_string()),
            ("KAIROS_RUN_ID", self.run_id.to_string()),
            (
                "KAIROS_SCHEDULED_AT",
                self.scheduled
                    .to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
            ),
            ("KAIROS_ATTEMPT", self.attempt.to_string()),
        ];
        if let Some((workflow_run, step)) = self.step {
            env.extend([
                ("KAIROS_WORKFLOW_RUN_ID", workflow_run.to_string()),
                ("KAIROS_STEP", step.to_string()),
            ]);
        }
        if let Some(up) = self.upstream {
            env.extend([
                ("KAIROS_UPSTREAM_JOB_ID", up.job_id.clone()),
                ("KAIROS_UPSTREAM_RUN_ID", up.id.to_string()),
                ("KAIROS_UPSTREAM_STATE", up.state.as_str().to_string()),
                (
                    "KAIROS_UPSTREAM_EXIT_CODE",
                    up.exit_code.map(|c| c.to_string()).unwrap_or_default(),
                ),
            ]);
        }
        env
    }
}

/// How an action ended.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionOutput {
    /// Whether it succeeded.
    pub success: bool,
    /// A shell command's exit code.
    pub exit_code: Option<i32>,
    /// An HTTP response status.
    pub http_status: Option<u16>,
    /// What went wrong, when it failed.
    pub error: Option<String>,
    /// Tail of standard output, or of the response body.
    pub stdout: String,
    /// Tail of standard error.
    pub stderr: String,
    /// The sample a monitor action took.
    pub sample: Option<MetricSample>,
    /// What a shell command used.
    pub usage: Option<RunUsage>,
}

impl ActionOutput {
    /// A failure with `error` and nothing else.
    pub fn failed(error: impl Into<String>) -> Self {
        ActionOutput {
            error: Some(error.into()),
            ..Default::default()
        }
    }
}

/// Says that this build lacks the action `kind` and how to get it.
#[cfg(not(all(feature = "http", feature = "monitor")))]
fn not_built(kind: &str) -> String {
    format!("this build of kairos-core has no '{kind}' action: enable the crate's `{kind}` feature")
}

/// Why an action definition is unusable; the message names the field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {message}")]
pub struct ActionError {
    /// The field's JSON name, e.g. `action.url`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Action {
    /// Which kind of action this is.
    pub fn kind(&self) -> ActionKind {
        match self {
            Action::Shell(_) => ActionKind::Shell,
            Action::Http(_) => ActionKind::Http,
            Action::Monitor(_) => ActionKind::Monitor,
            Action::Function(_) => ActionKind::Function,
            Action::Workflow(_) => ActionKind::Workflow,
        }
    }

    /// The in-process functions it calls: its own, or its workflow steps'.
    pub fn functions(&self) -> Vec<&str> {
        match self {
            Action::Function(f) => vec![f.name.as_str()],
            Action::Workflow(w) => w
                .steps
                .iter()
                .filter_map(|s| match s.action.as_deref() {
                    Some(Action::Function(f)) => Some(f.name.as_str()),
                    _ => None,
                })
                .collect(),
            _ => Vec::new(),
        }
    }

    /// What it runs, in a few words: the command, `GET https://…`, `system monitor`, or the
    /// function's name.
    pub fn describe(&self) -> String {
        match self {
            Action::Shell(s) => s.command.clone(),
            Action::Http(h) => format!("{} {}", h.method, h.url),
            Action::Monitor(_) => "system monitor".to_string(),
            Action::Function(f) => f.name.clone(),
            Action::Workflow(w) => {
                let s = if w.steps.len() == 1 { "" } else { "s" };
                format!("workflow of {} step{s}", w.steps.len())
            }
        }
    }

    /// Checks the definition without running it.
    pub fn validate(&self) -> Result<(), ActionError> {
        let bad = |field: &str, message: &str| {
            Err(ActionError {
                field: field.to_string(),
                message: message.to_string(),
            })
        };
        match self {
            Action::Shell(s) if s.command.trim().is_empty() => {
                bad("action.command", "must not be empty")
            }
            Action::Shell(s) if s.shell.trim().is_empty() => {
                bad("action.shell", "must not be empty")
            }
            Action::Shell(s) if !(1..=MAX_OUTPUT_CAP).contains(&s.output_cap_bytes) => bad(
                "action.output_cap_bytes",
                &format!("must be between 1 and {MAX_OUTPUT_CAP} (16 MiB)"),
            ),
            #[cfg(feature = "http")]
            Action::Http(h) => http::validate(h),
            #[cfg(not(feature = "http"))]
            Action::Http(_) => bad("action.kind", &not_built("http")),
            #[cfg(not(feature = "monitor"))]
            Action::Monitor(_) => bad("action.kind", &not_built("monitor")),
            Action::Function(f) if f.name.trim().is_empty() => {
                bad("action.name", "must not be empty")
            }
            Action::Workflow(w) => w.validate(),
            _ => Ok(()),
        }
    }

    /// Checks that this action takes `params`, naming the field it does not take.
    pub fn check_params(&self, params: &RunParams) -> Result<(), ActionError> {
        let bad = |field: String, message: String| Err(ActionError { field, message });
        let shell = matches!(self, Action::Shell(_));
        if !shell && !params.env.is_empty() {
            return bad(
                "params.env".into(),
                "only a shell job takes environment variables".into(),
            );
        }
        if !shell && !params.args.is_empty() {
            return bad(
                "params.args".into(),
                "only a shell job takes arguments".into(),
            );
        }
        if params.body.is_some() && !matches!(self, Action::Http(_)) {
            return bad("params.body".into(), "only an HTTP job takes a body".into());
        }
        for (name, value) in &params.env {
            if name.is_empty() || name.contains(['=', '\0']) {
                return bad(
                    "params.env".into(),
                    format!(
                        "'{name}' is not a variable name: it must be non-empty, without '=' or NUL"
                    ),
                );
            }
            if value.contains('\0') {
                return bad(format!("params.env.{name}"), "must not contain NUL".into());
            }
        }
        if let Some(i) = params.args.iter().position(|a| a.contains('\0')) {
            return bad(format!("params.args[{i}]"), "must not contain NUL".into());
        }
        let size: usize = params
            .env
            .iter()
            .map(|(k, v)| k.len() + v.len())
            .sum::<usize>()
            + params.args.iter().map(String::len).sum::<usize>()
            + params.body.as_ref().map_or(0, String::len);
        if size > MAX_PARAMS_BYTES {
            return bad(
                "params".into(),
                format!("holds {size} bytes; at most {MAX_PARAMS_BYTES} (64 KiB) are taken"),
            );
        }
        Ok(())
    }

    /// Runs the action for `run` (its parameters applied) to its end, or until `ctx.cancel`
    /// stops it.
    pub async fn run(&self, ctx: &ActionContext, run: &RunInfo<'_>) -> ActionOutput {
        match self {
            Action::Shell(a) => shell::run(a, ctx, run).await,
            #[cfg(feature = "http")]
            Action::Http(a) => http::run(a, ctx, run.params.and_then(|p| p.body.as_deref())).await,
            #[cfg(not(feature = "http"))]
            Action::Http(_) => ActionOutput::failed(not_built("http")),
            #[cfg(feature = "monitor")]
            Action::Monitor(_) => monitor::run(ctx).await,
            #[cfg(not(feature = "monitor"))]
            Action::Monitor(_) => ActionOutput::failed(not_built("monitor")),
            Action::Function(a) => {
                let job = JobContext {
                    job_id: run.job_id.to_string(),
                    run_id: run.run_id,
                    scheduled: run.scheduled,
                    attempt: run.attempt,
                    cancel: ctx.cancel.clone(),
                };
                function::run(a, ctx, job).await
            }
            // The scheduler runs a workflow's steps itself (see `scheduler/workflow.rs`).
            Action::Workflow(_) => {
                ActionOutput::failed("a workflow runs only inside a scheduler, step by step")
            }
        }
    }
}
