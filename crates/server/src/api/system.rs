//! The scheduler as a whole: status, pause/resume, settings, export/import, trigger previews.

use std::collections::HashMap;

use axum::extract::State;
use axum::http::StatusCode;
use axum::Json;
use chrono::{DateTime, SecondsFormat, Utc};
use kairos_core::job::{ExportDoc, Job, Settings};
use kairos_core::scheduler::SchedulerError;
use kairos_core::scheduler::Status;
use kairos_core::trigger::{parse_time_zone, CronTrigger, Trigger};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, Body};
use crate::AppState;

/// Most fire times one preview returns.
const MAX_PREVIEW: usize = 100;

/// The scheduler's status with how late its runs started.
#[derive(Serialize, ToSchema)]
pub(crate) struct SchedulerView {
    /// What the scheduler is doing.
    #[serde(flatten)]
    status: Status,
    /// Runs started since the process started, and their lateness.
    stats: StartStats,
}

/// Runs started since the process started, and how late.
#[derive(Serialize, ToSchema)]
pub(crate) struct StartStats {
    /// Runs started.
    started: u64,
    /// Mean start lateness, milliseconds.
    lateness_mean_ms: f64,
    /// Median start lateness, milliseconds.
    lateness_p50_ms: f64,
    /// 99th percentile start lateness, milliseconds.
    lateness_p99_ms: f64,
    /// Largest start lateness, milliseconds.
    lateness_max_ms: f64,
}

/// The scheduler's status with its start counters.
fn status_view(state: &AppState) -> SchedulerView {
    let stats = state.scheduler.stats();
    SchedulerView {
        status: state.scheduler.status(),
        stats: StartStats {
            started: stats.started,
            lateness_mean_ms: stats.lateness_mean_ms,
            lateness_p50_ms: stats.lateness_p50_ms,
            lateness_p99_ms: stats.lateness_p99_ms,
            lateness_max_ms: stats.lateness_max_ms,
        },
    }
}

/// Whether the scheduler runs, is paused, how many jobs and active runs it has, its next fire
/// time, and how late runs started.
#[utoipa::path(get, path = "/api/scheduler", tag = "scheduler",
    responses((status = 200, description = "The scheduler's status", body = SchedulerView)),
    security(("bearer" = [])))]
pub(crate) async fn scheduler_status(State(state): State<AppState>) -> Json<SchedulerView> {
    Json(status_view(&state))
}

/// Stops firing every job until resumed.
#[utoipa::path(post, path = "/api/scheduler/pause", tag = "scheduler",
    responses((status = 200, description = "The new status", body = SchedulerView)),
    security(("bearer" = [])))]
pub(crate) async fn pause_scheduler(State(state): State<AppState>) -> Json<SchedulerView> {
    state.scheduler.pause();
    Json(status_view(&state))
}

/// Fires jobs again; fire times that fell due meanwhile go through the misfire policy.
#[utoipa::path(post, path = "/api/scheduler/resume", tag = "scheduler",
    responses((status = 200, description = "The new status", body = SchedulerView)),
    security(("bearer" = [])))]
pub(crate) async fn resume_scheduler(State(state): State<AppState>) -> Json<SchedulerView> {
    state.scheduler.resume();
    Json(status_view(&state))
}

/// The scheduler's settings: job defaults and executor pools.
#[utoipa::path(get, path = "/api/settings", tag = "scheduler",
    responses((status = 200, description = "Settings", body = Settings)),
    security(("bearer" = [])))]
pub(crate) async fn get_settings(State(state): State<AppState>) -> Json<Settings> {
    Json(state.scheduler.settings())
}

/// Validates, saves and applies new settings.
#[utoipa::path(put, path = "/api/settings", tag = "scheduler",
    request_body(content = Settings, description = "The new settings"),
    responses(
        (status = 200, description = "The settings as saved", body = Settings),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn put_settings(
    State(state): State<AppState>,
    Body(settings): Body<Settings>,
) -> ApiResult<Json<Settings>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        scheduler.update_settings(settings)?;
        Ok(Json(scheduler.settings()))
    })
    .await
}

/// How many jobs an import added.
#[derive(Serialize, ToSchema)]
pub(crate) struct Imported {
    /// Jobs added.
    imported: usize,
}

/// Every job, for [`import`](import_jobs) elsewhere.
#[utoipa::path(get, path = "/api/export", tag = "scheduler",
    responses((status = 200, description = "{version: 1, jobs: [Job…]}", body = ExportDoc)),
    security(("bearer" = [])))]
pub(crate) async fn export_jobs(State(state): State<AppState>) -> ApiResult<Json<ExportDoc>> {
    let scheduler = state.scheduler.clone();
    blocking(move || Ok(Json(ExportDoc::new(scheduler.list_jobs()?)))).await
}

/// Adds every job of an export, all or none.
#[utoipa::path(post, path = "/api/import", tag = "scheduler",
    request_body(content = ExportDoc, description = "An export document"),
    responses(
        (status = 200, description = "All jobs were added", body = Imported),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over 16 MiB", body = ErrorBody),
        (status = 422, description = "A bad field (e.g. `jobs[3].id` for a duplicate); nothing was added", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn import_jobs(
    State(state): State<AppState>,
    Body(doc): Body<ExportDoc>,
) -> ApiResult<Json<Imported>> {
    doc.check_version()
        .map_err(|message| ApiError::invalid("version", message))?;
    let mut seen: HashMap<&str, usize> = HashMap::new();
    for (i, job) in doc.jobs.iter().enumerate() {
        if job.id.is_empty() {
            continue;
        }
        if let Some(first) = seen.insert(&job.id, i) {
            return Err(ApiError::invalid(
                &format!("jobs[{i}].id"),
                format!("'{}' is also the id of jobs[{first}]", job.id),
            ));
        }
    }
    let scheduler = state.scheduler.clone();
    blocking(move || {
        for (i, job) in doc.jobs.iter().enumerate() {
            if !job.id.is_empty() && scheduler.store().get_job(&job.id)?.is_some() {
                return Err(ApiError::invalid(
                    &format!("jobs[{i}].id"),
                    format!("a job with id '{}' already exists", job.id),
                ));
            }
        }
        let settings = scheduler.settings();
        let added = scheduler.add_jobs(doc.jobs.clone()).map_err(|e| match e {
            SchedulerError::Invalid { field, message } => {
                let field = match culprit(&doc.jobs, &settings, &field) {
                    Some(i) => format!("jobs[{i}].{field}"),
                    None => field,
                };
                ApiError::invalid(&field, message)
            }
            e => e.into(),
        })?;
        Ok(Json(Imported {
            imported: added.len(),
        }))
    })
    .await
}

/// Which job of an import the engine's refusal about `field` is most likely about, so the
/// error can name `jobs[i].field`; `None` when no job obviously is.
fn culprit(jobs: &[Job], settings: &Settings, field: &str) -> Option<usize> {
    jobs.iter().position(|job| match field {
        "name" => job.name.trim().is_empty(),
        "id" => job.id.len() > 128 || job.id.chars().any(|c| c.is_control() || c == '/'),
        "pool" => !settings.pools.contains_key(&job.pool),
        f if f.starts_with("action") => job.action.validate().is_err_and(|e| e.field == f),
        f if f.starts_with("options") => job.options.validate().is_err_and(|e| e.field == f),
        _ => false,
    })
}

fn utc_name() -> String {
    "UTC".to_string()
}

fn ten() -> usize {
    10
}

/// What to preview: a cron expression in a time zone.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct PreviewRequest {
    /// A cron expression (5, 6 or 7 fields, or `@daily` and friends).
    expression: String,
    /// IANA time zone the expression is read in (default UTC).
    #[serde(default = "utc_name")]
    timezone: String,
    /// How many fire times, 1-100 (default 10).
    #[serde(default = "ten")]
    count: usize,
    /// Fire times strictly after this RFC 3339 instant (default now).
    #[serde(default)]
    after: Option<DateTime<Utc>>,
}

/// The next fire times of a cron expression.
#[derive(Serialize, ToSchema)]
pub(crate) struct PreviewResponse {
    /// RFC 3339 instants with the zone's offset at each.
    times: Vec<String>,
}

/// The next fire times of a cron expression, computed by the engine.
#[utoipa::path(post, path = "/api/cron/preview", tag = "scheduler",
    request_body = PreviewRequest,
    responses(
        (status = 200, description = "Fire times", body = PreviewResponse),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "A bad expression, timezone or count", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn cron_preview(
    Body(req): Body<PreviewRequest>,
) -> ApiResult<Json<PreviewResponse>> {
    let tz =
        parse_time_zone(&req.timezone).map_err(|e| ApiError::invalid("timezone", e.to_string()))?;
    let trigger = CronTrigger::new(&req.expression, tz)
        .map_err(|e| ApiError::invalid("expression", e.to_string()))?;
    let times = fire_times(&Trigger::Cron(trigger), req.count, req.after)?;
    Ok(Json(PreviewResponse { times }))
}

/// What to preview: any trigger.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct TriggerPreviewRequest {
    /// The trigger, as a job holds it.
    trigger: Trigger,
    /// How many fire times, 1-100 (default 10).
    #[serde(default = "ten")]
    count: usize,
    /// Fire times strictly after this RFC 3339 instant (default now).
    #[serde(default)]
    after: Option<DateTime<Utc>>,
}

/// A trigger's next fire times and summary.
#[derive(Serialize, ToSchema)]
pub(crate) struct TriggerPreview {
    /// RFC 3339 instants with the offset of the trigger's zone at each; fewer than asked
    /// (or none) when the trigger runs out.
    times: Vec<String>,
    /// The engine's one-line summary, e.g. `every 1h 30m` (English).
    summary: String,
    /// The zone the times are given in.
    timezone: String,
}

/// The next fire times of any trigger, computed by the engine: the editor's check of a trigger
/// as it is typed (a bad field is named by its path, e.g. `trigger.seconds`).
#[utoipa::path(post, path = "/api/triggers/preview", tag = "scheduler",
    request_body = TriggerPreviewRequest,
    responses(
        (status = 200, description = "Fire times", body = TriggerPreview),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "A bad trigger or count", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn trigger_preview(
    Body(req): Body<TriggerPreviewRequest>,
) -> ApiResult<Json<TriggerPreview>> {
    // Combined triggers may search a long way: off the async workers.
    blocking(move || {
        let times = fire_times(&req.trigger, req.count, req.after)?;
        Ok(Json(TriggerPreview {
            times,
            summary: req.trigger.summary(),
            timezone: req.trigger.timezone().to_string(),
        }))
    })
    .await
}

/// `count` fire times of `trigger` strictly after `after` (default now), in its zone.
fn fire_times(
    trigger: &Trigger,
    count: usize,
    after: Option<DateTime<Utc>>,
) -> ApiResult<Vec<String>> {
    if !(1..=MAX_PREVIEW).contains(&count) {
        return Err(ApiError::invalid(
            "count",
            format!("must be between 1 and {MAX_PREVIEW}"),
        ));
    }
    let tz = trigger.timezone();
    Ok(trigger
        .preview(after.unwrap_or_else(Utc::now), count)
        .into_iter()
        .map(|t| {
            t.with_timezone(&tz)
                .to_rfc3339_opts(SecondsFormat::Secs, false)
        })
        .collect())
}

/// Answers unknown paths.
pub(crate) async fn not_found() -> ApiError {
    ApiError::not_found("no such route")
}

/// Answers known paths called with the wrong method.
pub(crate) async fn method_not_allowed() -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        None,
        "this route does not take that method",
    )
}
