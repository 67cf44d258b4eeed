//! `kairos serve`: the scheduler with the web admin and the REST + SSE API on loopback.

use std::net::SocketAddr;
use std::path::Path;
use std::time::Duration;

use kairos_core::scheduler::Scheduler;
use kairos_server::{load_or_create_token, router, ServerConfig};

/// How long running jobs may take to finish after a shutdown signal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(30);

/// Where `kairos serve` listens unless told otherwise.
pub const DEFAULT_BIND: &str = "127.0.0.1:7878";

/// Runs the scheduler and the API on the database at `db` until SIGINT or SIGTERM.
pub fn run(db: &Path, bind: &str, allow_remote: bool, labels: Vec<String>) -> Result<(), String> {
    if let Some(bad) = labels
        .iter()
        .find(|l| l.trim().is_empty() || l.len() > 64 || l.chars().any(char::is_control))
    {
        return Err(format!(
            "--label: '{bad}' is not a label (1-64 characters, no control characters)"
        ));
    }
    let addr: SocketAddr = bind
        .parse()
        .map_err(|_| format!("--bind: '{bind}' is not an address such as 127.0.0.1:7878"))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "--bind: {addr} is reachable from other machines; pass --allow-remote to serve them (the token is then their only barrier)"
        ));
    }
    let store = crate::job_cmd::open_store(db)?;
    let dir = crate::state_dir(db);
    std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
    let token = load_or_create_token(&dir)
        .map_err(|e| format!("cannot keep the API token in {}: {e}", dir.display()))?;
    let runtime = kairos_core::scheduler::runtime().map_err(|e| e.to_string())?;
    runtime.block_on(async {
        let listener = tokio::net::TcpListener::bind(addr)
            .await
            .map_err(|e| format!("--bind: cannot listen on {addr}: {e}"))?;
        let local = listener.local_addr().map_err(|e| e.to_string())?;
        let scheduler = Scheduler::new(store);
        scheduler.set_node_labels(labels);
        scheduler.start().map_err(|e| e.to_string())?;
        let port = local.port();
        let mut allowed_hosts = vec![
            local.to_string(),
            format!("localhost:{port}"),
            format!("127.0.0.1:{port}"),
            format!("[::1]:{port}"),
        ];
        allowed_hosts.dedup();
        let app = router(
            scheduler.clone(),
            ServerConfig {
                token: token.clone(),
                allowed_hosts,
            },
        );
        let node = scheduler.node();
        eprintln!(
            "Kairos is scheduling jobs from {} as node {} on {}",
            crate::shown(db),
            node.id,
            node.host
        );
        eprintln!(
            "Open the admin (the token is kept in {}):",
            dir.join("token").display()
        );
        println!("http://{local}/?token={token}");
        axum::serve(listener, app)
            .with_graceful_shutdown(wait_for_signal())
            .await
            .map_err(|e| format!("the server failed: {e}"))?;
        eprintln!(
            "Shutting down: waiting up to {} s for running jobs",
            SHUTDOWN_GRACE.as_secs()
        );
        scheduler.shutdown(SHUTDOWN_GRACE).await;
        Ok(())
    })
}

/// Resolves at SIGINT or SIGTERM.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
        }
    }
}
