//! The system-monitor action. (Being written: see the actions helper.)

use super::{ActionContext, ActionOutput};

/// A sysinfo sampler shared between monitor runs, so CPU use is measured between samples.
#[derive(Clone, Default)]
pub struct SystemMonitor {}

/// Takes one sample.
pub(super) async fn run(ctx: &ActionContext) -> ActionOutput {
    let _ = ctx;
    ActionOutput::failed("monitor actions are not built yet")
}
