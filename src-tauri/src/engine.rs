//! The engine the app hosts: the store, the scheduler and the API router over them.

use std::path::{Path, PathBuf};

use anyhow::Context;
use axum::Router;
use kairos_core::scheduler::Scheduler;
use kairos_core::store;
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

/// The database to use: `KAIROS_DB` if set (a SQLite file, or a `postgres://` URL to join a
/// cluster), else `kairos.db` in `<data dir>/kairos/`, the
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

/// Where the API token is kept: beside a SQLite file, or in `<data dir>/kairos/` for a
/// PostgreSQL URL (shared with `kairos serve` on this machine either way).
pub fn token_dir(db: &Path, data_dir: Option<PathBuf>) -> PathBuf {
    let kairos_dir = data_dir
        .unwrap_or_else(|| PathBuf::from("."))
        .join("kairos");
    kairos_server::token_dir(db, &kairos_dir)
}

impl Engine {
    /// Opens the store at `db` and starts the scheduler on the current tokio runtime; the
    /// token is kept in `token_dir`.
    pub fn start(db: &Path, token_dir: &Path) -> anyhow::Result<Engine> {
        let store = store::open(db).context("opening the database (KAIROS_DB)")?;
        let token = load_or_create_token(token_dir)
            .with_context(|| format!("keeping the API token in {}", token_dir.display()))?;
        let scheduler = Scheduler::new(store);
        scheduler.start().context("starting the scheduler")?;
        let router = router(
            scheduler.clone(),
            ServerConfig {
                token: token.clone(),
                allowed_hosts: vec![HOST_NAME.to_string()],
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
        let engine = Engine::start(&db, &token_dir(&db, None)).unwrap();
        let url = Path::new("postgres://k@h/db");
        assert_eq!(
            token_dir(url, Some(dir.path().into())),
            dir.path().join("kairos")
        );
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
