//! `/api/runs`, `/api/stats/*` and `/api/metrics/system`: run history, its aggregates, and
//! system-monitor samples.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use chrono::Duration;
use kairos_core::history::{DurationStats, RunBucket, RunQuery, RunRecord};
use kairos_core::metrics::MetricSample;
use kairos_core::problem::{self, Problem};
use kairos_core::query::MAX_PAGE as MAX_LIMIT;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::params::{window, DurationParams, MetricParams, RunListParams, RunStatsParams};
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, Query};
use crate::AppState;

/// Most buckets one aggregate query may ask for.
const MAX_BUCKETS: i64 = 10_000;
/// The widest bucket, in seconds: ten years.
const MAX_BUCKET_S: i64 = 10 * 366 * 86_400;
/// Most points one metrics query may ask for.
const MAX_POINTS: usize = 5000;

/// A page of runs, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunList {
    /// Runs without their output (fetch one run for its stdout and stderr).
    items: Vec<RunView>,
}

/// A run as the API shows it: its record, and its error's code for a UI to translate.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunView {
    /// The record.
    #[serde(flatten)]
    run: RunRecord,
    /// The error's stable code and parameters, when the catalog knows the error.
    #[serde(skip_serializing_if = "Option::is_none")]
    problem: Option<Problem>,
}

impl From<RunRecord> for RunView {
    fn from(run: RunRecord) -> Self {
        let problem = run.error.as_deref().and_then(problem::recognize);
        RunView { run, problem }
    }
}

/// Run counts per time bucket and state.
#[derive(Serialize, ToSchema)]
pub(crate) struct BucketList {
    /// One row per bucket and state that has runs.
    buckets: Vec<RunBucket>,
}

/// Duration percentiles per job.
#[derive(Serialize, ToSchema)]
pub(crate) struct DurationList {
    /// One row per job that has finished runs.
    items: Vec<DurationStats>,
}

/// System-monitor samples.
#[derive(Serialize, ToSchema)]
pub(crate) struct MetricList {
    /// Samples, oldest first, averaged down to at most `points`.
    items: Vec<MetricSample>,
}

/// A run without its captured output and parameters (`GET /api/runs/{id}` has them).
fn run_summary(mut run: RunRecord) -> RunView {
    run.stdout = Box::default();
    run.stderr = Box::default();
    run.params = None;
    run.into()
}

/// Run history, newest first.
#[utoipa::path(get, path = "/api/runs", tag = "runs",
    params(RunListParams),
    responses(
        (status = 200, description = "Runs, newest first, without stdout/stderr and parameters", body = RunList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "limit out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    Query(p): Query<RunListParams>,
) -> ApiResult<Json<RunList>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    if p.min_duration_ms.is_some_and(|ms| ms < 0) {
        return Err(ApiError::invalid("min_duration_ms", "must be 0 or more"));
    }
    let run_query = RunQuery {
        job_id: p.job_id,
        from: p.from,
        to: p.to,
        states: p.state,
        before_id: p.before_id,
        upstream: p.upstream,
        node: p.node,
        min_duration_ms: p.min_duration_ms,
        limit,
    };
    let store = state.scheduler.store().clone();
    blocking(move || {
        let runs = store.runs(&run_query)?;
        Ok(Json(RunList {
            items: runs.into_iter().map(run_summary).collect(),
        }))
    })
    .await
}

/// One run, with its stdout and stderr: for a shell command running on this process, the
/// output so far.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = i64, Path, description = "The run id")),
    responses(
        (status = 200, description = "The run (output so far while it runs here)", body = RunView),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RunView>> {
    let id = run_id(&id)?;
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let mut run = scheduler
            .store()
            .run(id)?
            .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))?;
        if !run.state.is_final() {
            if let Some((stdout, stderr)) = scheduler.live_output(id) {
                (run.stdout, run.stderr) = (stdout.into(), stderr.into());
            }
        }
        Ok(Json(run.into()))
    })
    .await
}

/// Parses a run id from the path.
fn run_id(id: &str) -> ApiResult<i64> {
    id.parse()
        .map_err(|_| ApiError::bad_request(Some("id"), format!("'{id}' is not a run id")))
}

/// Cancels a submitted or running run, wherever it runs: a shell command's process group
/// gets SIGTERM, then SIGKILL, and the run ends `cancelled`.
#[utoipa::path(post, path = "/api/runs/{id}/cancel", tag = "runs",
    params(("id" = i64, Path, description = "The run id")),
    responses(
        (status = 202, description = "Cancel requested; the run as it stood", body = RunView),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "The run already ended", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn cancel_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let id = run_id(&id)?;
    let scheduler = state.scheduler.clone();
    let run = blocking(move || Ok(scheduler.cancel_run(id)?)).await?;
    Ok((StatusCode::ACCEPTED, Json(run_summary(run))))
}

/// Runs a workflow step again, and the steps after it, in its workflow run (which must have
/// ended); the workflow run goes on from there.
#[utoipa::path(post, path = "/api/runs/{id}/retry", tag = "runs",
    params(("id" = i64, Path, description = "The step's newest run")),
    responses(
        (status = 202, description = "The step runs again; the workflow's run, running again", body = RunView),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
        (status = 409, description = "Not a step's newest run, or its workflow run has not ended", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn retry_step(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunView>)> {
    let id = run_id(&id)?;
    let scheduler = state.scheduler.clone();
    let run = blocking(move || Ok(scheduler.retry_step(id)?)).await?;
    Ok((StatusCode::ACCEPTED, Json(run_summary(run))))
}

/// Run counts per time bucket and end state.
#[utoipa::path(get, path = "/api/stats/runs", tag = "runs",
    params(RunStatsParams),
    responses(
        (status = 200, description = "Counts per bucket and state", body = BucketList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "Too many buckets or an empty window", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn run_stats(
    State(state): State<AppState>,
    Query(p): Query<RunStatsParams>,
) -> ApiResult<Json<BucketList>> {
    let (from, to) = window(p.from, p.to, Duration::days(7))?;
    let bucket_s = p.bucket_s.unwrap_or(3600);
    if !(1..=MAX_BUCKET_S).contains(&bucket_s) {
        return Err(ApiError::invalid(
            "bucket_s",
            format!("must be between 1 and {MAX_BUCKET_S} (10 years)"),
        ));
    }
    let span_s = (to - from).num_seconds();
    let buckets = span_s / bucket_s + i64::from(span_s % bucket_s != 0);
    if buckets > MAX_BUCKETS {
        return Err(ApiError::invalid(
            "bucket_s",
            format!(
                "{buckets} buckets of {bucket_s} s would cover the window; at most {MAX_BUCKETS} \
                 are allowed, so use a larger bucket_s or a shorter window"
            ),
        ));
    }
    let run_query = RunQuery {
        job_id: p.job_id,
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let store = state.scheduler.store().clone();
    blocking(move || {
        Ok(Json(BucketList {
            buckets: store.run_buckets(&run_query, bucket_s)?,
        }))
    })
    .await
}

/// Run duration percentiles per job.
#[utoipa::path(get, path = "/api/stats/durations", tag = "runs",
    params(DurationParams),
    responses(
        (status = 200, description = "Percentiles per job", body = DurationList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "An empty window (from not before to)", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn duration_stats(
    State(state): State<AppState>,
    Query(p): Query<DurationParams>,
) -> ApiResult<Json<DurationList>> {
    let (from, to) = window(p.from, p.to, Duration::days(7))?;
    let run_query = RunQuery {
        job_id: p.job_id,
        from: Some(from),
        to: Some(to),
        ..Default::default()
    };
    let store = state.scheduler.store().clone();
    blocking(move || {
        Ok(Json(DurationList {
            items: store.duration_stats(&run_query)?,
        }))
    })
    .await
}

/// System-monitor samples, downsampled for charts.
#[utoipa::path(get, path = "/api/metrics/system", tag = "runs",
    params(MetricParams),
    responses(
        (status = 200, description = "Samples", body = MetricList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "points out of range, or an empty window", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn system_metrics(
    State(state): State<AppState>,
    Query(p): Query<MetricParams>,
) -> ApiResult<Json<MetricList>> {
    let (from, to) = window(p.from, p.to, Duration::hours(1))?;
    let points = p.points.unwrap_or(300);
    if !(1..=MAX_POINTS).contains(&points) {
        return Err(ApiError::invalid(
            "points",
            format!("must be between 1 and {MAX_POINTS}"),
        ));
    }
    let store = state.scheduler.store().clone();
    blocking(move || {
        Ok(Json(MetricList {
            items: store.metrics(from, to, points)?,
        }))
    })
    .await
}
