//! The engine the app hosts: the store, the scheduler and the API router over them.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context;
use axum::Router;
use kairos_core::scheduler::Scheduler;
use kairos_core::store::SqliteStore;
use kairos_server::{load_or_create_token, router, ServerConfig};

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

/// The database to use: `KAIROS_DB` if set, else `kairos.db` in `<data dir>/kairos/`, the
/// CLI's default, so `kairos job …` and the app share their jobs.
pub fn db_path(env: Option<std::ffi::OsString>, data_dir: Option<PathBuf>) -> PathBuf {
    match env.filter(|v| !v.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => data_dir
            .unwrap_or_else(|| PathBuf::from("."))
            .join("kairos")
            .join("kairos.db"),
    }
}

impl Engine {
    /// Opens the store at `db` and starts the scheduler on the current tokio runtime.
    pub fn start(db: &Path) -> anyhow::Result<Engine> {
        let dir = db
            .parent()
            .filter(|d| !d.as_os_str().is_empty())
            .unwrap_or(Path::new("."));
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let store = SqliteStore::open(db)
            .with_context(|| format!("opening the database {}", db.display()))?;
        let token = load_or_create_token(dir)
            .with_context(|| format!("keeping the API token in {}", dir.display()))?;
        let scheduler = Scheduler::new(Arc::new(store));
        scheduler.start().context("starting the scheduler")?;
        let router = router(
            scheduler.clone(),
            ServerConfig {
                token: token.clone(),
                allowed_hosts: vec![HOST_NAME.to_string()],
            },
        );
        tracing::info!("scheduling jobs from {}", db.display());
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

    #[test]
    fn kairos_db_wins_over_the_data_dir() {
        let data = Some(PathBuf::from("/home/u/.local/share"));
        assert_eq!(
            db_path(Some("/tmp/x.db".into()), data.clone()),
            PathBuf::from("/tmp/x.db")
        );
        assert_eq!(
            db_path(None, data.clone()),
            PathBuf::from("/home/u/.local/share/kairos/kairos.db")
        );
        assert_eq!(
            db_path(Some("".into()), data),
            PathBuf::from("/home/u/.local/share/kairos/kairos.db")
        );
        assert_eq!(db_path(None, None), PathBuf::from("./kairos/kairos.db"));
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn start_creates_the_database_and_a_token_beside_it() {
        let dir = tempfile::tempdir().unwrap();
        let db = dir.path().join("sub/kairos.db");
        let engine = Engine::start(&db).unwrap();
        assert!(db.exists());
        let token = std::fs::read_to_string(dir.path().join("sub/token")).unwrap();
        assert_eq!(token.trim(), engine.token);
        assert!(engine.scheduler.status().running);
        engine
            .scheduler
            .shutdown(std::time::Duration::from_secs(1))
            .await;
    }
}
