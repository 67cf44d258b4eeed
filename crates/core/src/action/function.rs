//! In-process async functions, registered by library users under a name.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use chrono::{DateTime, Utc};
use tokio_util::sync::CancellationToken;

use super::{ActionContext, ActionOutput, FunctionAction};
use crate::job::JobId;
use crate::FastMap;

/// What a function job is told about the run it serves.
#[derive(Debug, Clone)]
pub struct JobContext {
    /// The job.
    pub job_id: JobId,
    /// The run's history id.
    pub run_id: i64,
    /// The fire time this run is for.
    pub scheduled: DateTime<Utc>,
    /// 1 for the first try, 2 for the first retry, …
    pub attempt: u32,
    /// Cancelled when the run times out, or when a shutdown's grace for running jobs is over;
    /// long work should watch it and stop.
    pub cancel: CancellationToken,
}

/// What a function job may return: `Ok` with nothing (or its output text), or the reason it
/// failed. An async fn `async fn sample(ctx: JobContext) -> JobResult { … }` gets `?` on any error.
pub type JobResult<T = ()> = Result<T, JobError>;

/// Why a function job failed: any error converts into it with `?`, or make one from text.
///
/// ```
/// use kairos_core::action::JobError;
/// fn parse(text: &str) -> Result<u32, JobError> {
///     let n: u32 = text.parse()?;
///     if n == 0 {
///         return Err(JobError::msg("the count must not be zero"));
///     }
///     Ok(n)
/// }
/// assert_eq!(parse("0").unwrap_err().to_string(), "the count must not be zero");
/// assert!(parse("x").is_err());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JobError(String);

impl JobError {
    /// An error with `message` as its text.
    pub fn msg(message: impl std::fmt::Display) -> Self {
        JobError(message.to_string())
    }
}

impl std::fmt::Display for JobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl<E: std::error::Error> From<E> for JobError {
    fn from(e: E) -> Self {
        JobError(e.to_string())
    }
}

/// What a function job returns: nothing, its output text, or a `Result` of either whose error
/// becomes the run's error (its `Display` text).
pub trait Outcome {
    /// The run's output text, or its error.
    fn into_result(self) -> Result<String, String>;
}

impl Outcome for () {
    fn into_result(self) -> Result<String, String> {
        Ok(String::new())
    }
}

impl Outcome for String {
    fn into_result(self) -> Result<String, String> {
        Ok(self)
    }
}

impl Outcome for &'static str {
    fn into_result(self) -> Result<String, String> {
        Ok(self.to_string())
    }
}

impl<T: Outcome, E: std::fmt::Display> Outcome for Result<T, E> {
    fn into_result(self) -> Result<String, String> {
        self.map_err(|e| e.to_string())?.into_result()
    }
}

/// A registered function: returns its output text, or an error message.
pub type JobFn = Arc<
    dyn Fn(JobContext) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>>
        + Send
        + Sync,
>;

/// What a run says when its function panicked.
fn panicked(payload: &(dyn std::any::Any + Send)) -> String {
    let message = payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message");
    format!("the function panicked: {message}")
}

/// Makes a registrable function of an async function or closure taking a [`JobContext`]; a
/// panic in it fails the run (and nothing else).
pub(crate) fn job_fn<F, Fut>(f: F) -> JobFn
where
    F: Fn(JobContext) -> Fut + Send + Sync + 'static,
    Fut: Future + Send + 'static,
    Fut::Output: Outcome,
{
    use std::panic::{catch_unwind, AssertUnwindSafe};
    let f = Arc::new(f);
    Arc::new(move |ctx| {
        let mut run = match catch_unwind(AssertUnwindSafe(|| f(ctx))) {
            Ok(run) => Box::pin(run),
            Err(payload) => {
                let error = panicked(&*payload);
                return Box::pin(async move { Err(error) });
            }
        };
        Box::pin(std::future::poll_fn(move |cx| {
            match catch_unwind(AssertUnwindSafe(|| run.as_mut().poll(cx))) {
                Ok(poll) => poll.map(Outcome::into_result),
                Err(payload) => std::task::Poll::Ready(Err(panicked(&*payload))),
            }
        }))
    })
}

/// Makes a registrable function of blocking code; each run gets a thread of tokio's blocking
/// pool, so it may sleep, read files or take a lock without stalling the scheduler.
pub(crate) fn blocking_fn<F, O>(f: F) -> JobFn
where
    F: Fn(JobContext) -> O + Send + Sync + 'static,
    O: Outcome + Send + 'static,
{
    let f = Arc::new(f);
    Arc::new(move |ctx| {
        let f = f.clone();
        Box::pin(async move {
            match tokio::task::spawn_blocking(move || f(ctx).into_result()).await {
                Ok(result) => result,
                Err(e) => match e.try_into_panic() {
                    Ok(payload) => Err(panicked(&*payload)),
                    Err(e) => Err(format!("the function did not finish: {e}")),
                },
            }
        })
    })
}

/// Functions by name, shared between the scheduler and its runs; filled through
/// [`Scheduler::register`](crate::scheduler::Scheduler::register).
#[derive(Clone, Default)]
pub struct FunctionRegistry(Arc<RwLock<FastMap<String, JobFn>>>);

impl FunctionRegistry {
    /// Puts `f` under `name` (or removes the name, for `None`); returns what was there.
    pub(crate) fn swap(&self, name: &str, f: Option<JobFn>) -> Option<JobFn> {
        let mut map = self.0.write().unwrap_or_else(|e| e.into_inner());
        match f {
            Some(f) => map.insert(name.to_string(), f),
            None => map.remove(name),
        }
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<JobFn> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }

    /// Whether a function is registered under `name`.
    pub fn contains(&self, name: &str) -> bool {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .contains_key(name)
    }
}

/// What to say when `name` is not registered in this process.
pub(crate) fn unregistered(name: &str) -> String {
    format!(
        "no function is registered under '{name}' in this process: register it with \
         scheduler.register(\"{name}\", …) or give the job its function with .run(…)"
    )
}

/// Calls the named function; a cancel stops waiting for it.
pub(super) async fn run(
    action: &FunctionAction,
    ctx: &ActionContext,
    job: JobContext,
) -> ActionOutput {
    let Some(f) = ctx.functions.get(&action.name) else {
        return ActionOutput::failed(unregistered(&action.name));
    };
    tokio::select! {
        // The function first: one that is done on its first poll never arms the cancel wait.
        biased;
        result = f(job) => match result {
            Ok(stdout) => ActionOutput { success: true, stdout, ..Default::default() },
            Err(error) => ActionOutput::failed(error),
        },
        _ = ctx.cancel.cancelled() => ActionOutput::failed("cancelled"),
    }
}
