//! `/api/tags`: jobs grouped by tag, and pausing or resuming a whole group.

use axum::extract::{Path, State};
use axum::Json;
use kairos_core::query::TagCount;
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::params::ResumeParams;
use crate::error::{ApiResult, ErrorBody};
use crate::input::{blocking, Query};
use crate::AppState;

/// Every tag with its jobs.
#[derive(Serialize, ToSchema)]
pub(crate) struct TagList {
    /// By tag, case-insensitively.
    items: Vec<TagCount>,
}

/// What a group change did.
#[derive(Serialize, ToSchema)]
pub(crate) struct GroupChange {
    /// The tag.
    tag: String,
    /// How many jobs were paused or resumed (those already so are left alone).
    changed: usize,
}

/// The tags jobs carry, each with how many jobs have it and how many of those are paused.
#[utoipa::path(get, path = "/api/tags", tag = "jobs",
    responses((status = 200, description = "Tags and their job counts", body = TagList)),
    security(("bearer" = [])))]
pub(crate) async fn list_tags(State(state): State<AppState>) -> ApiResult<Json<TagList>> {
    let store = state.scheduler.store().clone();
    blocking(move || {
        Ok(Json(TagList {
            items: store.tag_counts()?,
        }))
    })
    .await
}

/// Pauses every job with the tag (case-insensitively).
#[utoipa::path(post, path = "/api/tags/{tag}/pause", tag = "jobs",
    params(("tag" = String, Path, description = "The tag")),
    responses(
        (status = 200, description = "How many jobs were paused", body = GroupChange),
        (status = 400, description = "A bad request", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn pause_tag(
    State(state): State<AppState>,
    Path(tag): Path<String>,
) -> ApiResult<Json<GroupChange>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let changed = scheduler.pause_tag(&tag)?;
        Ok(Json(GroupChange { tag, changed }))
    })
    .await
}

/// Resumes every paused job with the tag, from now or (`catch_up=true`) from their old next
/// fire times.
#[utoipa::path(post, path = "/api/tags/{tag}/resume", tag = "jobs",
    params(("tag" = String, Path, description = "The tag"), ResumeParams),
    responses(
        (status = 200, description = "How many jobs were resumed", body = GroupChange),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn resume_tag(
    State(state): State<AppState>,
    Path(tag): Path<String>,
    Query(ResumeParams { catch_up }): Query<ResumeParams>,
) -> ApiResult<Json<GroupChange>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let changed = scheduler.resume_tag(&tag, catch_up)?;
        Ok(Json(GroupChange { tag, changed }))
    })
    .await
}
