//! In-process async functions, registered by library users under a name.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};

use super::{ActionContext, ActionOutput, FunctionAction};
use crate::FastMap;

/// A registered function: returns its output text, or an error message.
pub type JobFn =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<String, String>> + Send>> + Send + Sync>;

/// Functions by name, shared between the scheduler and its runs.
#[derive(Clone, Default)]
pub struct FunctionRegistry(Arc<RwLock<FastMap<String, JobFn>>>);

impl FunctionRegistry {
    /// Registers `f` under `name`, replacing any earlier one.
    pub fn register<F, Fut>(&self, name: &str, f: F)
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<String, String>> + Send + 'static,
    {
        let f: JobFn = Arc::new(move || Box::pin(f()));
        self.0
            .write()
            .unwrap_or_else(|e| e.into_inner())
            .insert(name.to_string(), f);
    }

    /// The function registered under `name`.
    pub fn get(&self, name: &str) -> Option<JobFn> {
        self.0
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .get(name)
            .cloned()
    }
}

/// Calls the named function; a cancel stops waiting for it.
pub(super) async fn run(action: &FunctionAction, ctx: &ActionContext) -> ActionOutput {
    let Some(f) = ctx.functions.get(&action.name) else {
        return ActionOutput::failed(format!("no function is registered under '{}'", action.name));
    };
    tokio::select! {
        // The function first: one that is done on its first poll never arms the cancel wait.
        biased;
        result = f() => match result {
            Ok(stdout) => ActionOutput { success: true, stdout, ..Default::default() },
            Err(error) => ActionOutput::failed(error),
        },
        _ = ctx.cancel.cancelled() => ActionOutput::failed("cancelled"),
    }
}
