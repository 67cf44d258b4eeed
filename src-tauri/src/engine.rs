//! The engine the app hosts: the store, the scheduler and the API router over them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use kairos_core::scheduler::Scheduler;
use kairos_core::store::JobStore;
use kairos_server::{load_or_create_token, router, DatabaseHost, ServerConfig};

use crate::protocol::HOST_NAME;

/// The running engine and the router the webview talks to.
pub struct Engine {
    /// The scheduler; clones share it.
    pub scheduler: Scheduler,
    /// The same API `kairos serve` binds to TCP, here answered in-process.
    pub router: Router,
    /// The API token (kept next to the database, shared with `kairos serve`).
    pub token: String,
}

/// Where the API token is kept: beside a SQLite file, or in `<data dir>/kairos/` for a
/// PostgreSQL URL (shared with `kairos serve` on this machine either way).
pub fn token_dir(db: &Path, data_dir: Option<PathBuf>) -> PathBuf {
    let kairos_dir = data_dir
        .unwrap_or_else(|| PathBuf::from("."))
        .join("kairos");
    kairos_server::token_dir(db, &kairos_dir)
}

impl Engine {
    /// Starts the scheduler over `store` on the current tokio runtime; the token is kept in
    /// `token_dir`, and `database` tells the API which database this is.
    pub fn start(
        store: Arc<dyn JobStore>,
        token_dir: &Path,
        database: Arc<dyn DatabaseHost>,
    ) -> anyhow::Result<Engine> {
        let token = load_or_create_token(token_dir)
            .with_context(|| format!("keeping the API token in {}", token_dir.display()))?;
        let scheduler = Scheduler::new(store);
        scheduler.start().context("starting the scheduler")?;
        let router = router(
            scheduler.clone(),
            ServerConfig {
                token: token.clone(),
                allowed_hosts: vec![HOST_NAME.to_string()],
                database,
            },
        );
        tracing::info!("scheduling jobs as node {}", scheduler.node().id);
        Ok(Engine {
            scheduler,
            router,
            token,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::database::{choose, DesktopDatabase, Places};

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn start_creates_the_database_and_a_token_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let places = Places::new(None, Some(dir.path().into()));
        let (choice, store) = crate::database::open(choose(None, &places), &places).unwrap();
        let db = choice.location.clone();
        assert_eq!(db, dir.path().join("kairos/kairos.db"));
        let host = DesktopDatabase::new(places, choice, Box::new(|| {}));
        let engine = Engine::start(store, &token_dir(&db, None), Arc::new(host)).unwrap();
        let url = Path::new("postgres://k@h/db");
        assert_eq!(
            token_dir(url, Some(dir.path().into())),
            dir.path().join("kairos")
        );
        assert!(db.exists());
        let token = std::fs::read_to_string(dir.path().join("kairos/token")).unwrap();
        assert_eq!(token.trim(), engine.token);
        assert!(engine.scheduler.status().running);
        engine
            .scheduler
            .shutdown(std::time::Duration::from_secs(1))
            .await;
    }
}
