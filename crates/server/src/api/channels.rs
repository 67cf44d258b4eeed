//! `/api/channels` and `/api/deliveries`: alert channels (secrets masked), a test send, and
//! the record of every delivery attempt.

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use kairos_core::alert::{Channel, Delivery};
use serde::Serialize;
use utoipa::ToSchema;

use crate::api::params::DeliveryParams;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::{blocking, Body, Query};
use crate::AppState;

/// The alert channels.
#[derive(Serialize, ToSchema)]
pub(crate) struct ChannelList {
    /// Every channel, secrets masked.
    items: Vec<Channel>,
}

/// Alert delivery attempts, newest first.
#[derive(Serialize, ToSchema)]
pub(crate) struct DeliveryList {
    /// The attempts.
    items: Vec<Delivery>,
}

/// Every alert channel, its secrets masked.
#[utoipa::path(get, path = "/api/channels", tag = "alerts",
    responses((status = 200, description = "The channels", body = ChannelList)),
    security(("bearer" = [])))]
pub(crate) async fn list_channels(State(state): State<AppState>) -> ApiResult<Json<ChannelList>> {
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let items = scheduler.channels()?.iter().map(Channel::masked).collect();
        Ok(Json(ChannelList { items }))
    })
    .await
}

/// Adds an alert channel; an absent or empty id gets a generated one.
#[utoipa::path(post, path = "/api/channels", tag = "alerts",
    request_body(content = Channel, description = "A channel (id optional)"),
    responses(
        (status = 201, description = "The channel as added, secrets masked", body = Channel),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn create_channel(
    State(state): State<AppState>,
    Body(channel): Body<Channel>,
) -> ApiResult<(StatusCode, Json<Channel>)> {
    let scheduler = state.scheduler.clone();
    let channel = blocking(move || Ok(scheduler.add_channel(channel)?)).await?;
    Ok((StatusCode::CREATED, Json(channel.masked())))
}

/// Replaces an alert channel; masked secrets sent back keep their stored values.
#[utoipa::path(put, path = "/api/channels/{id}", tag = "alerts",
    params(("id" = String, Path, description = "The channel id")),
    request_body(content = Channel, description = "The new definition (id ignored)"),
    responses(
        (status = 200, description = "The channel as saved, secrets masked", body = Channel),
        (status = 400, description = "Malformed JSON", body = ErrorBody),
        (status = 404, description = "No such channel", body = ErrorBody),
        (status = 422, description = "A bad field, named in `field`", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn update_channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    Body(mut channel): Body<Channel>,
) -> ApiResult<Json<Channel>> {
    channel.id = id;
    let scheduler = state.scheduler.clone();
    let channel = blocking(move || Ok(scheduler.update_channel(channel)?)).await?;
    Ok(Json(channel.masked()))
}

/// Removes an alert channel; rules naming it send nothing.
#[utoipa::path(delete, path = "/api/channels/{id}", tag = "alerts",
    params(("id" = String, Path, description = "The channel id")),
    responses(
        (status = 204, description = "Removed"),
        (status = 404, description = "No such channel", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn delete_channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    let scheduler = state.scheduler.clone();
    blocking(move || Ok(scheduler.remove_channel(&id)?)).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// Sends a test message on a channel now and answers how it went (also recorded).
#[utoipa::path(post, path = "/api/channels/{id}/test", tag = "alerts",
    params(("id" = String, Path, description = "The channel id")),
    responses(
        (status = 200, description = "The attempt: `ok`, or the service's `error`", body = Delivery),
        (status = 404, description = "No such channel", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn test_channel(
    State(state): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Json<Delivery>> {
    Ok(Json(state.scheduler.test_channel(&id).await?))
}

/// Alert delivery attempts, newest first.
#[utoipa::path(get, path = "/api/deliveries", tag = "alerts",
    params(DeliveryParams),
    responses(
        (status = 200, description = "The attempts", body = DeliveryList),
        (status = 400, description = "A bad query parameter", body = ErrorBody),
        (status = 422, description = "limit out of range", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_deliveries(
    State(state): State<AppState>,
    Query(p): Query<DeliveryParams>,
) -> ApiResult<Json<DeliveryList>> {
    let limit = p.limit.unwrap_or(100);
    if !(1..=1000).contains(&limit) {
        return Err(ApiError::invalid("limit", "must be between 1 and 1000"));
    }
    let scheduler = state.scheduler.clone();
    blocking(move || {
        let items = scheduler.deliveries(p.channel.as_deref(), limit)?;
        Ok(Json(DeliveryList { items }))
    })
    .await
}
