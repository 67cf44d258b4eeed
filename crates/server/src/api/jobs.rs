//! `/api/jobs`: list, search, create, read, replace, delete, pause, resume and run jobs.

use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::Json;
use kairos_core::action::Action;
use kairos_core::history::{RunQuery, RunRecord};
use kairos_core::job::Job;
use kairos_core::scheduler::{Scheduler, SchedulerError};
use serde::Serialize;
use serde_json::{json, Value};
use utoipa::ToSchema;

use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, from_value, JsonValue, Params};
use crate::AppState;

/// Action kinds a job can have, as `kind` names them.
const KINDS: [&str; 4] = ["shell", "http", "monitor", "function"];
/// Sort orders of the job list.
const SORTS: [&str; 4] = ["name", "-name", "next_run", "-next_run"];
/// Most jobs one page returns.
pub(crate) const MAX_LIMIT: usize = 1000;

/// A page of jobs.
#[derive(Serialize, ToSchema)]
pub(crate) struct JobList {
    /// Jobs (the Job JSON plus `kind` and `last_run`).
    #[schema(value_type = Vec<Object>)]
    items: Vec<Value>,
    /// How many jobs match the filters, over all pages.
    total: usize,
}

/// The id of a run just started.
#[derive(Serialize, ToSchema)]
pub(crate) struct RunStarted {
    /// The run's history id.
    run_id: i64,
}

/// The `kind` name of an action.
pub(crate) fn kind_of(action: &Action) -> &'static str {
    match action {
        Action::Shell(_) => "shell",
        Action::Http(_) => "http",
        Action::Monitor(_) => "monitor",
        Action::Function(_) => "function",
    }
}

/// A job as the API shows it: its JSON plus `kind` and a summary of its newest run.
fn job_view(job: &Job, last: Option<&RunRecord>) -> Value {
    let mut value = serde_json::to_value(job).unwrap_or(Value::Null);
    if let Value::Object(map) = &mut value {
        map.insert("kind".into(), kind_of(&job.action).into());
        let last_run = last.map_or(Value::Null, |r| {
            json!({"id": r.id, "state": r.state, "scheduled": r.scheduled, "finished": r.finished})
        });
        map.insert("last_run".into(), last_run);
    }
    value
}

/// The view of `job` with its newest run looked up.
fn view_with_last_run(scheduler: &Scheduler, job: &Job) -> ApiResult<Value> {
    let query = RunQuery {
        job_id: Some(job.id.clone()),
        limit: 1,
        ..Default::default()
    };
    let last = scheduler.store().runs(&query)?;
    Ok(job_view(job, last.first()))
}

/// Reads a job definition from a request body: `id` optional (or forced to `path_id`),
/// `next_run` ignored (the scheduler computes it).
pub(crate) fn job_from_body(mut value: Value, path_id: Option<&str>) -> ApiResult<Job> {
    let Value::Object(map) = &mut value else {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            None,
            "the body must be a JSON object (a job)",
        ));
    };
    match path_id {
        Some(id) => {
            map.insert("id".into(), id.into());
        }
        None => {
            if map.get("id").is_none_or(Value::is_null) {
                map.insert("id".into(), "".into());
            }
        }
    }
    map.remove("next_run");
    from_value(value)
}

/// Lists jobs, filtered, sorted and paged.
#[utoipa::path(get, path = "/api/jobs", tag = "jobs",
    params(
        ("q" = Option<String>, Query, description = "Case-insensitive search in id, name, description and tags"),
        ("tag" = Option<String>, Query, description = "Only jobs with this tag"),
        ("kind" = Option<String>, Query, description = "Only jobs whose action is of this kind: shell, http, monitor, function"),
        ("paused" = Option<bool>, Query, description = "Only paused (true) or unpaused (false) jobs"),
        ("offset" = Option<usize>, Query, description = "Jobs to skip"),
        ("limit" = Option<usize>, Query, description = "Page size, 1-1000 (default 100)"),
        ("sort" = Option<String>, Query, description = "name, -name, next_run or -next_run (default name)"),
    ),
    responses(
        (status = 200, description = "A page of jobs", body = JobList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_jobs(
    State(state): State<AppState>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<JobList>> {
    let p = Params::parse(
        query.as_deref(),
        &["q", "tag", "kind", "paused", "offset", "limit", "sort"],
    )?;
    let search = p.get("q").map(str::to_lowercase);
    let tag = p.get("tag").map(str::to_lowercase);
    let kind = p.get("kind").map(str::to_string);
    if let Some(k) = kind.as_deref().filter(|k| !KINDS.contains(k)) {
        return Err(ApiError::bad_request(
            Some("kind"),
            format!("unknown kind '{k}'; expected one of: {}", KINDS.join(", ")),
        ));
    }
    let paused = p.boolean("paused")?;
    let offset = p.number::<usize>("offset")?.unwrap_or(0);
    let limit = p.number::<usize>("limit")?.unwrap_or(100);
    if !(1..=MAX_LIMIT).contains(&limit) {
        return Err(ApiError::invalid(
            "limit",
            format!("must be between 1 and {MAX_LIMIT}"),
        ));
    }
    let sort = p.get("sort").unwrap_or("name").to_string();
    if !SORTS.contains(&sort.as_str()) {
        return Err(ApiError::bad_request(
            Some("sort"),
            format!(
                "unknown order '{sort}'; expected one of: {}",
                SORTS.join(", ")
            ),
        ));
    }
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let mut jobs = scheduler.list_jobs()?;
        jobs.retain(|job| {
            search.as_deref().is_none_or(|s| {
                job.id.to_lowercase().contains(s)
                    || job.name.to_lowercase().contains(s)
                    || job.description.to_lowercase().contains(s)
                    || job.tags.iter().any(|t| t.to_lowercase().contains(s))
            }) && tag
                .as_deref()
                .is_none_or(|t| job.tags.iter().any(|jt| jt.to_lowercase() == t))
                && kind.as_deref().is_none_or(|k| kind_of(&job.action) == k)
                && paused.is_none_or(|p| job.paused == p)
        });
        let by_name = |a: &Job, b: &Job| {
            a.name
                .to_lowercase()
                .cmp(&b.name.to_lowercase())
                .then_with(|| a.id.cmp(&b.id))
        };
        match sort.as_str() {
            "name" => jobs.sort_by(by_name),
            "-name" => jobs.sort_by(|a, b| by_name(b, a)),
            // Jobs that never fire again sort last either way.
            "next_run" => jobs.sort_by(|a, b| {
                (a.next_run.is_none(), a.next_run)
                    .cmp(&(b.next_run.is_none(), b.next_run))
                    .then_with(|| by_name(a, b))
            }),
            _ => jobs.sort_by(|a, b| {
                (a.next_run.is_none(), std::cmp::Reverse(a.next_run))
                    .cmp(&(b.next_run.is_none(), std::cmp::Reverse(b.next_run)))
                    .then_with(|| by_name(a, b))
            }),
        }
        let total = jobs.len();
        let items = jobs
            .iter()
            .skip(offset)
            .take(limit)
            .map(|job| view_with_last_run(&scheduler, job))
            .collect::<ApiResult<Vec<_>>>()?;
        Ok(Json(JobList { items, total }))
    })
    .await
}

/// Adds a job; an absent or empty id gets a generated one.
#[utoipa::path(post, path = "/api/jobs", tag = "jobs",
    request_body(content = Object, description = "A job (id optional, next_run ignored)"),
    responses(
        (status = 201, description = "The job as added, with its next fire time", body = Object),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 413, description = "Body over 1 MiB", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_job(
    State(state): State<AppState>,
    JsonValue(body): JsonValue,
) -> ApiResult<(StatusCode, Json<Value>)> {
    let job = job_from_body(body, None)?;
    let scheduler = state.scheduler.clone();
    let job = blocking(move || Ok(scheduler.add_job(job)?)).await?;
    Ok((StatusCode::CREATED, Json(job_view(&job, None))))
}

/// One job.
#[utoipa::path(get, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 200, description = "The job", body = Object),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn get_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.get_job(&id)?;
        Ok(Json(view_with_last_run(&scheduler, &job)?))
    })
    .await
}

/// Replaces a job's definition; the id in the path wins over one in the body.
#[utoipa::path(put, path = "/api/jobs/{id}", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    request_body(content = Object, description = "The new definition (id and next_run ignored)"),
    responses(
        (status = 200, description = "The job as saved", body = Object),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn update_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    JsonValue(body): JsonValue,
) -> ApiResult<Json<Value>> {
    let job = job_from_body(body, Some(&id))?;
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.update_job(job)?;
        Ok(Json(view_with_last_run(&scheduler, &job)?))
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
        (status = 200, description = "The paused job", body = Object),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn pause_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.pause_job(&id)?;
        Ok(Json(view_with_last_run(&scheduler, &job)?))
    })
    .await
}

/// Resumes a job from now, or with `catch_up=true` from its old next fire time (missed fire
/// times then go through the misfire policy).
#[utoipa::path(post, path = "/api/jobs/{id}/resume", tag = "jobs",
    params(
        ("id" = String, Path, description = "The job id"),
        ("catch_up" = Option<bool>, Query, description = "Run fire times missed while paused (default false)"),
    ),
    responses(
        (status = 200, description = "The resumed job", body = Object),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 404, description = "No such job", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn resume_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
    RawQuery(query): RawQuery,
) -> ApiResult<Json<Value>> {
    let catch_up = Params::parse(query.as_deref(), &["catch_up"])?
        .boolean("catch_up")?
        .unwrap_or(false);
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let job = scheduler.resume_job(&id, catch_up)?;
        Ok(Json(view_with_last_run(&scheduler, &job)?))
    })
    .await
}

/// Runs a job now, outside its schedule.
#[utoipa::path(post, path = "/api/jobs/{id}/run", tag = "jobs",
    params(("id" = String, Path, description = "The job id")),
    responses(
        (status = 202, description = "The run was submitted", body = RunStarted),
        (status = 404, description = "No such job", body = ErrorBody),
        (status = 409, description = "The job already has its maximum number of runs active", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn run_job(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<(StatusCode, Json<RunStarted>)> {
    let scheduler = state.scheduler.clone();
    let run_id = blocking(move || {
        scheduler.run_now(&id).map_err(|e| match e {
            // The only refusal run_now makes of a known job: max instances are active.
            SchedulerError::Invalid { message, .. } => {
                ApiError::new(StatusCode::CONFLICT, None, message)
            }
            e => e.into(),
        })
    })
    .await?;
    Ok((StatusCode::ACCEPTED, Json(RunStarted { run_id })))
}
