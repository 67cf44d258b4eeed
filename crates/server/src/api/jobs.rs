//! `/api/jobs`: list, search, create, read, replace, delete, pause, resume and run jobs.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kairos_core::action::ActionKind;
use kairos_core::history::{RunParams, RunQuery};
use kairos_core::job::Job;
use kairos_core::query::{JobCounts, JobEntry, JobQuery, LastRun, MAX_PAGE};
use kairos_core::scheduler::{Scheduler, SchedulerError};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::api::params::ResumeParams;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, Body, Query};
use crate::AppState;

/// A job as the API shows it: its definition, its action's kind and its newest run.
#[derive(Serialize, ToSchema)]
pub(crate) struct JobView {
    /// The definition.
    #[serde(flatten)]
    job: Job,
    /// The action's kind (the same as `action.kind`).
    kind: ActionKind,
    /// The newest run, null when it never ran.
    last_run: Option<LastRun>,
}

impl From<JobEntry> for JobView {
    fn from(entry: JobEntry) -> Self {
        JobView {
            kind: entry.job.action.kind(),
            job: entry.job,
            last_run: entry.last_run,
        }
    }
}

/// A page of jobs.
#[derive(Serialize, ToSchema)]
pub(crate) struct JobList {
    /// The jobs of this page.
    items: Vec<JobView>,
    /// How many jobs match the filters, over all pages.
    total: usize,
    /// Pass as `after` for the next page; absent on the last one.
    #[serde(skip_serializing_if = "Option::is_none")]
    next: Option<String>,
}

/// A run by hand's request.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub(crate) struct RunRequest {
    /// Variables and arguments for a shell command, a body for an HTTP request.
    #[serde(default)]
    params: RunParams,
}

/// The id of a run just started.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunStarted {
    /// The run's history id.
    run_id: i64,
}

/// The view of `job` with its newest run looked up.
fn view_with_last_run(scheduler: &Scheduler, job: Job) -> ApiResult<JobView> {
    let query = RunQuery {
        job_id: Some(job.id.clone()),
        limit: 1,
        ..Default::default()
    };
    let last_run = scheduler.store().runs(&query)?.first().map(LastRun::from);
    Ok(JobView::from(JobEntry { job, last_run }))
}

/// Lists jobs, filtered, sorted and paged by the store.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs",
    params(JobQuery),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "A query parameter out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    Query(query): Query<JobQuery>,
) -> ApiResult<Json<JobList>> {
    if let Err(message) = query.cursor() {
        return Err(ApiError::bad_request(Some("after"), message));
    }
    if query.limit.is_some_and(|l| !(1..=MAX_PAGE).contains(&l)) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_PAGE}"),
        ));
    }
    let store = state.scheduler.store().clone();
    blocking(move || {
        let page = store.query_jobs(&query)?;
        Ok(Json(JobList {
            items: page.items.into_iter().map(JobView::from).collect(),
            total: page.total,
            next: page.next,
        }))
    })
    .await
}

/// How many jobs there are: all, paused, monitoring and failing (newest run failed, timed out
/// or abandoned).
#[utoipa::path(get, path = "/api/stats/jobs", tag = "jobs",
    responses((status = 200, description = "Job counts", body = JobCounts)),
    security(("bearer" = [])))]
pub(crate) async fn job_counts(State(state): State<AppState>) -> ApiResult<Json<JobCounts>> {
    let store = state.scheduler.store().clone();
    blocking(move || Ok(Json(store.count_jobs()?))).await
}

/// Adds a job; an absent or empty id gets a generated one.
#[utoipa::path(post, path = "/api/jobs", tag = "jobs",
    request_body(content = Job, description = "A job (id optional, next_run ignored)"),
    responses(
        (status = 201, description = "The job as added, with its next fire time", body = JobView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_job(
    State(state): State<AppState>,
    Body(job): Body<Job>,
) -> ApiResult<(StatusCode, Json<JobView>)> {
    let scheduler = state.scheduler.clone();
    let job = blocking(move || Ok(scheduler.add_job(job)?)).await?;
    let view = JobView::from(JobEntry {
        job,
        last_run: None,
    });
    Ok((StatusCode::CREATED, Json(view)))
}

/// One job.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = JobView),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.get_job(&id)?;
        Ok(Json(view_with_last_run(&scheduler, job)?))
    })
    .await
}

/// Replaces a job's definition; the id in the path wins over one in the body.
#[utoipa::path(put, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body(content = Job, description = "The new definition (id and next_run ignored)"),
    responses(
        (status = 200, description = "The job as saved", body = JobView),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn update_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(mut job): Body<Job>,
) -> ApiResult<Json<JobView>> {
    job.id = id;
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.update_job(job)?;
        Ok(Json(view_with_last_run(&scheduler, job)?))
    })
    .await
}

/// Removes a job (its run history stays until retention drops it).
#[utoipa::path(delete, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn delete_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scheduler = state.scheduler.clone();
    blocking(move || Ok(scheduler.remove_job(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Pauses a job: it keeps its schedule but does not fire.
#[utoipa::path(post, path = "/api/jobs/{id}/pause", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The paused job", body = JobView),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn pause_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<JobView>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.pause_job(&id)?;
        Ok(Json(view_with_last_run(&scheduler, job)?))
    })
    .await
}

/// Resumes a job from now, or with `catch_up=true` from its old next fire time (missed fire
/// times then go through the misfire policy).
#[utoipa::path(post, path = "/api/jobs/{id}/resume", tag = "jobs",
    params(("id" = String, Path, description = "The job id"), ResumeParams),
    responses(
        (status = 200, description = "The resumed job", body = JobView),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn resume_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Query(ResumeParams { catch_up }): Query<ResumeParams>,
) -> ApiResult<Json<JobView>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.resume_job(&id, catch_up)?;
        Ok(Json(view_with_last_run(&scheduler, job)?))
    })
    .await
}

/// Runs a job now, outside its schedule, with parameters when given.
#[utoipa::path(post, path = "/api/jobs/{id}/run", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body(content = Option<RunRequest>, description = "Optional: the run's parameters"),
    responses(
        (status = 202, description = "The run was submitted", body = RunStarted),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already has its maximum number of runs active", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "A parameter the job cannot take, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn run_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    request: Option<Body<RunRequest>>,
) -> ApiResult<(StatusCode, Json<RunStarted>)> {
    let scheduler = state.scheduler.clone();
    let params = request.map(|Body(r)| r.params).unwrap_or_default();
    let run_id = blocking(move || {
        scheduler.run_now_with(&id, params).map_err(|e| match e {
            // A refusal naming `id`: max instances are active.
            SchedulerError::Invalid { field, message } if field == "id" => {
                ApiError::new(StatusCode::CONFLICT, None, message)
            }
            e => e.into(),
        })
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id })))
}
