//! `/metrics`: Prometheus text exposition of jobs, runs and start lateness.

use std::collections::BTreeMap;
use std::fmt::Write;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::IntoResponse;
use kairos_core::history::{RunQuery, RunState};

use crate::error::{ApiResult, ErrorBody};
use crate::input::blocking;
use crate::AppState;

/// A bucket wide enough (about 31,700 years) that all runs fall in one.
const ALL_TIME_BUCKET_S: i64 = 1_000_000_000_000;

/// Prometheus metrics: `kairos_jobs`, `kairos_jobs_paused`, `kairos_runs{state}`,
/// `kairos_active_runs`, `kairos_scheduler_paused`, `kairos_runs_started_total` and the
/// `kairos_run_start_lateness_seconds` histogram.
#[utoipa::path(get, path = "/metrics", tag = "system",
    responses(
        (status = 200, description = "Prometheus text format 0.0.4", content_type = "text/plain", body = String),
        (status = 401, description = "No or wrong token", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn metrics(State(state): State<AppState>) -> ApiResult<impl IntoResponse> {
    let scheduler = state.scheduler.clone();
    let (jobs, paused, runs) = blocking(move || {
        let schedule = scheduler.store().schedule()?;
        let paused = schedule.iter().filter(|e| e.paused).count();
        let mut runs: BTreeMap<RunState, u64> = RunState::ALL.iter().map(|s| (*s, 0)).collect();
        for bucket in scheduler
            .store()
            .run_buckets(&RunQuery::default(), ALL_TIME_BUCKET_S)?
        {
            *runs.entry(bucket.state).or_default() += bucket.count;
        }
        Ok((schedule.len(), paused, runs))
    })
    .await?;
    let status = state.scheduler.status();
    let stats = state.scheduler.stats();

    let mut out = String::new();
    let mut gauge = |name: &str, help: &str, value: String| {
        let _ = writeln!(
            out,
            "# HELP {name} {help}\n# TYPE {name} gauge\n{name} {value}"
        );
    };
    gauge(
        "kairos_jobs",
        "Jobs known to the scheduler.",
        jobs.to_string(),
    );
    gauge("kairos_jobs_paused", "Paused jobs.", paused.to_string());
    gauge(
        "kairos_active_runs",
        "Runs submitted or running now.",
        status.active_runs.to_string(),
    );
    gauge(
        "kairos_scheduler_paused",
        "1 when the whole scheduler is paused.",
        u8::from(status.paused).to_string(),
    );
    let _ = writeln!(
        out,
        "# HELP kairos_runs Runs in the history, by state.\n# TYPE kairos_runs gauge"
    );
    for (state, count) in &runs {
        let _ = writeln!(out, "kairos_runs{{state=\"{}\"}} {count}", state.as_str());
    }
    let _ = writeln!(
        out,
        "# HELP kairos_runs_started_total Runs started since the scheduler started.\n\
         # TYPE kairos_runs_started_total counter\nkairos_runs_started_total {}",
        stats.started
    );
    let name = "kairos_run_start_lateness_seconds";
    let _ = writeln!(
        out,
        "# HELP {name} How late runs started after their fire time.\n# TYPE {name} histogram"
    );
    for (le_ms, count) in &stats.lateness_buckets {
        let le = if le_ms.is_infinite() {
            "+Inf".to_string()
        } else {
            format!("{}", le_ms / 1000.0)
        };
        let _ = writeln!(out, "{name}_bucket{{le=\"{le}\"}} {count}");
    }
    let sum_s = stats.lateness_mean_ms * stats.started as f64 / 1000.0;
    let _ = writeln!(out, "{name}_sum {sum_s}\n{name}_count {}", stats.started);
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    ))
}

/// Health: `ok` while the process serves requests, can write to its store and may claim
/// fires. 507 `disk_full` when the disk holding the database is full, 503 `store_error` when
/// the store refuses writes otherwise (both as of the last heartbeat), 503 `clock_skew` while
/// the clock is further from the database's than the settings allow (it then claims no fires,
/// so another node should).
#[utoipa::path(get, path = "/healthz", tag = "system",
    responses(
        (status = 200, description = "Serving, writing and claiming fires", body = Health),
        (status = 503, description = "`store_error` or `clock_skew`: this node runs nothing", body = Health),
        (status = 507, description = "`disk_full`: the database cannot grow", body = Health),
    ))]
pub(crate) async fn healthz(State(state): State<AppState>) -> impl IntoResponse {
    let status = state.scheduler.status();
    let (code, word, message) = match &status.store_failure {
        Some(f) if f.disk_full => (
            StatusCode::INSUFFICIENT_STORAGE,
            "disk_full",
            Some(f.message.clone()),
        ),
        Some(f) => (
            StatusCode::SERVICE_UNAVAILABLE,
            "store_error",
            Some(f.message.clone()),
        ),
        None if status.clock_skewed => (StatusCode::SERVICE_UNAVAILABLE, "clock_skew", None),
        None => (StatusCode::OK, "ok", None),
    };
    let health = Health {
        status: word,
        message,
        node: status.node,
        clock_skew_ms: status.clock_skew_ms,
    };
    (code, axum::Json(health))
}

/// How this process is.
#[derive(serde::Serialize, utoipa::ToSchema)]
pub(crate) struct Health {
    /// `ok`, `disk_full`, `store_error` or `clock_skew`.
    #[schema(value_type = String, example = "ok")]
    status: &'static str,
    /// What is wrong, when something is.
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<String>,
    /// This process's node id.
    node: String,
    /// How far this machine's clock was from the database's at the last heartbeat (ms).
    clock_skew_ms: i64,
}
