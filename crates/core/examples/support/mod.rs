//! What the examples share: when to stop.

use std::time::Duration;

/// Never resolves, so an example runs until Ctrl-C; with `KAIROS_EXAMPLE_SECS=N` in the
/// environment (how `make test` runs the examples) it resolves after N seconds.
pub async fn stop() {
    match std::env::var("KAIROS_EXAMPLE_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        Some(secs) => tokio::time::sleep(Duration::from_secs_f64(secs)).await,
        None => std::future::pending().await,
    }
}
