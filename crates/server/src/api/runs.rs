//! `/api/runs`, `/api/stats/*` and `/api/metrics/system`: run history, its aggregates, and
//! system-monitor samples.

use axum::extract::{Path, RawQuery, State};
use axum::Json;
use chrono::Duration;
use kairos_core::history::{DurationStats, RunBucket, RunQuery, RunRecord, RunState};
use kairos_core::metrics::MetricSample;
use kairos_core::query::MAX_PAGE as MAX_LIMIT;
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, Params};
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
    /// Run records without their output (fetch one run for its stdout and stderr).
    items: Vec<RunRecord>,
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

/// A run without its captured output.
fn run_summary(mut run: RunRecord) -> RunRecord {
    run.stdout = String::new();
    run.stderr = String::new();
    run
}

/// Run history, newest first.
#[utoipa::path(get, path = "/api/runs", tag = "runs",
    params(
        ("job_id" = Option<String>, Query, description = "Only this job's runs"),
        ("from" = Option<String>, Query, description = "Only runs scheduled at or after this RFC 3339 instant"),
        ("to" = Option<String>, Query, description = "Only runs scheduled before this RFC 3339 instant"),
        ("state" = Option<String>, Query, description = "Comma-separated states, e.g. failed,timed_out"),
        ("before_id" = Option<i64>, Query, description = "Only runs with a smaller id (paging backwards)"),
        ("limit" = Option<usize>, Query, minimum = 1, maximum = 1000, description = "Page size, 1-1000 (default 100)"),
    ),
    responses(
        (status = 200, description = "Runs, newest first, without stdout/stderr", body = RunList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "limit out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_runs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<RunList>> {
    let p = Params::parse(
        query.as_deref(),
        &["job_id", "from", "to", "state", "before_id", "limit"],
    )?;
    let mut states = Vec::new();
    for name in p.list("state") {
        states.push(RunState::parse(&name).ok_or_else(|| {
            let all: Vec<_> = RunState::ALL.iter().map(|s| s.as_str()).collect();
            ApiError::bad_request(
                Some("state"),
                format!("unknown state '{name}'; expected: {}", all.join(", ")),
            )
        })?);
    }
    let limit = p.number::<usize>("limit")?.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let run_query = RunQuery {
        job_id: p.get("job_id").map(str::to_string),
        from: p.time("from")?,
        to: p.time("to")?,
        states,
        before_id: p.number("before_id")?,
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

/// One run, with its stdout and stderr.
#[utoipa::path(get, path = "/api/runs/{id}", tag = "runs",
    params(("id" = i64, Path, description = "The run id")),
    responses(
        (status = 200, description = "The run record", body = RunRecord),
        (status = 400, description = "The id is not a number", body = ErrorBody),
        (status = 404, description = "No such run", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_run(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<RunRecord>> {
    let id: i64 = id
        .parse()
        .map_err(|_| ApiError::bad_request(Some("id"), format!("'{id}' is not a run id")))?;
    let store = state.scheduler.store().clone();
    blocking(move || {
        store
            .run(id)?
            .map(Json)
            .ok_or_else(|| ApiError::not_found(format!("no run with id {id}")))
    })
    .await
}

/// Run counts per time bucket and end state.
#[utoipa::path(get, path = "/api/stats/runs", tag = "runs",
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 start (default: 7 days before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 end (default: now)"),
        ("bucket_s" = Option<i64>, Query, description = "Bucket width in seconds, 1 to 10 years (default 3600); at most 10,000 buckets"),
        ("job_id" = Option<String>, Query, description = "Only this job's runs"),
    ),
    responses(
        (status = 200, description = "Counts per bucket and state", body = BucketList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "Too many buckets or an empty window", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn run_stats(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<BucketList>> {
    let p = Params::parse(query.as_deref(), &["from", "to", "bucket_s", "job_id"])?;
    let (from, to) = p.window(Duration::days(7))?;
    let bucket_s = p.number::<i64>("bucket_s")?.unwrap_or(3600);
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
        job_id: p.get("job_id").map(str::to_string),
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
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 start (default: 7 days before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 end (default: now)"),
        ("job_id" = Option<String>, Query, description = "Only this job's runs"),
    ),
    responses(
        (status = 200, description = "Percentiles per job", body = DurationList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn duration_stats(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<DurationList>> {
    let p = Params::parse(query.as_deref(), &["from", "to", "job_id"])?;
    let (from, to) = p.window(Duration::days(7))?;
    let run_query = RunQuery {
        job_id: p.get("job_id").map(str::to_string),
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
    params(
        ("from" = Option<String>, Query, description = "RFC 3339 start (default: 1 hour before `to`)"),
        ("to" = Option<String>, Query, description = "RFC 3339 end (default: now)"),
        ("points" = Option<usize>, Query, description = "Most points to return, 1-5000 (default 300)"),
    ),
    responses(
        (status = 200, description = "Samples", body = MetricList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "points out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn system_metrics(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<MetricList>> {
    let p = Params::parse(query.as_deref(), &["from", "to", "points"])?;
    let (from, to) = p.window(Duration::hours(1))?;
    let points = p.number::<usize>("points")?.unwrap_or(300);
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
