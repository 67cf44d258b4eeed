//! Kairos' HTTP API: one axum [`Router`] over the engine, which `kairos serve` binds to TCP and
//! the desktop app calls in-process (e.g. with `tower::ServiceExt::oneshot`).
//!
//! The built web admin is served at `/` to anyone. Every `/api/*` route but
//! `/api/openapi.json`, and `/metrics`, needs
//! `Authorization: Bearer <token>`; every route checks the `Host` and `Origin` headers
//! against [`ServerConfig::allowed_hosts`]. Errors are JSON:
//! `{"error":{"field":<string or null>,"message":<string>}}`.

#![warn(missing_docs)]

mod api;
mod error;
mod input;
mod openapi;
mod security;
mod serve;
mod ui;

use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::http::header;
use axum::routing::{get, post, put};
use axum::Router;
use kairos_core::scheduler::Scheduler;

pub use security::{load_or_create_token, token_dir};

pub use api::database::{
    DatabaseChoice, DatabaseHost, DatabaseInfo, DatabaseKind, DatabaseSource, FixedDatabase,
};
pub use api::nodes::{node_list, NodeList, NodeStatus, NodeView};
pub use openapi::json as openapi_document;
pub use serve::{serve, HEADER_READ_TIMEOUT, MAX_CONNECTIONS};

use api::{channels, database, events, jobs, nodes, prom, runs, system, tags};

/// Largest request body, except for imports.
const BODY_LIMIT: usize = 1 << 20;
/// Largest import body.
const IMPORT_LIMIT: usize = 16 << 20;

/// Who may call the API.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// The bearer token every API call must present.
    pub token: String,
    /// `host:port` names accepted in the `Host` header and, as `http://host:port`, in `Origin`.
    pub allowed_hosts: Vec<String>,
    /// The database this process runs on, and whether it can switch to another.
    pub database: Arc<dyn DatabaseHost>,
}

/// What every handler shares.
#[derive(Clone)]
pub(crate) struct AppState {
    scheduler: Scheduler,
    config: Arc<ServerConfig>,
    openapi: Arc<str>,
}

/// The whole API over `scheduler`, guarded as `config` says.
pub fn router(scheduler: Scheduler, config: ServerConfig) -> Router {
    let state = AppState {
        scheduler,
        config: Arc::new(config),
        openapi: openapi::json().into(),
    };
    Router::new()
        .route("/healthz", get(prom::healthz))
        .route("/metrics", get(prom::metrics))
        .route("/api/openapi.json", get(openapi_json))
        .route("/api/jobs", get(jobs::list_jobs).post(jobs::create_job))
        .route(
            "/api/jobs/{id}",
            get(jobs::get_job)
                .put(jobs::update_job)
                .delete(jobs::delete_job),
        )
        .route("/api/jobs/{id}/pause", post(jobs::pause_job))
        .route("/api/jobs/{id}/resume", post(jobs::resume_job))
        .route("/api/jobs/{id}/run", post(jobs::run_job))
        .route("/api/scheduler", get(system::scheduler_status))
        .route("/api/nodes", get(nodes::list_nodes))
        .route("/api/scheduler/pause", post(system::pause_scheduler))
        .route("/api/scheduler/resume", post(system::resume_scheduler))
        .route(
            "/api/settings",
            get(system::get_settings).put(system::put_settings),
        )
        .route(
            "/api/database",
            get(database::get_database).put(database::put_database),
        )
        .route("/api/database/restart", post(database::restart_on_database))
        .route("/api/export", get(system::export_jobs))
        .route(
            "/api/import",
            post(system::import_jobs).layer(DefaultBodyLimit::max(IMPORT_LIMIT)),
        )
        .route("/api/cron/preview", post(system::cron_preview))
        .route("/api/triggers/preview", post(system::trigger_preview))
        .route("/api/runs", get(runs::list_runs))
        .route("/api/runs/{id}", get(runs::get_run))
        .route("/api/runs/{id}/cancel", post(runs::cancel_run))
        .route("/api/runs/{id}/retry", post(runs::retry_step))
        .route(
            "/api/channels",
            get(channels::list_channels).post(channels::create_channel),
        )
        .route(
            "/api/channels/{id}",
            put(channels::update_channel).delete(channels::delete_channel),
        )
        .route("/api/channels/{id}/test", post(channels::test_channel))
        .route("/api/deliveries", get(channels::list_deliveries))
        .route("/api/stats/runs", get(runs::run_stats))
        .route("/api/stats/jobs", get(jobs::job_counts))
        .route("/api/tags", get(tags::list_tags))
        .route("/api/tags/{tag}/pause", post(tags::pause_tag))
        .route("/api/tags/{tag}/resume", post(tags::resume_tag))
        .route("/api/stats/durations", get(runs::duration_stats))
        .route("/api/metrics/system", get(runs::system_metrics))
        .route("/api/events", get(events::events))
        .fallback(ui::serve)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            security::guard,
        ))
        .with_state(state)
}

/// The OpenAPI document.
async fn openapi_json(
    axum::extract::State(state): axum::extract::State<AppState>,
) -> impl axum::response::IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi.to_string(),
    )
}
