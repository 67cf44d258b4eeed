//! Shell command actions. (Being written: see the actions helper.)

use super::{ActionContext, ActionOutput, ShellAction};

/// Runs the command; on cancel the process group gets SIGTERM, then SIGKILL.
pub(super) async fn run(action: &ShellAction, ctx: &ActionContext) -> ActionOutput {
    let _ = (action, ctx);
    ActionOutput::failed("shell actions are not built yet")
}
