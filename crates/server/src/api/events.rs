//! `/api/events`: the engine's events as Server-Sent Events.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use futures_util::Stream;
use kairos_core::events::{EventMask, Listener};

use crate::api::params::EventParams;
use crate::error::{ApiError, ApiResult, ErrorBody};
use crate::input::Query;
use crate::AppState;

/// Every event `type` the engine emits.
pub(crate) const EVENT_TYPES: [&str; 17] = [
    "scheduler_started",
    "scheduler_shutdown",
    "scheduler_paused",
    "scheduler_resumed",
    "clock_jumped",
    "job_added",
    "job_modified",
    "job_removed",
    "run_submitted",
    "run_started",
    "run_succeeded",
    "run_failed",
    "run_timed_out",
    "run_cancelled",
    "run_missed",
    "run_skipped",
    "run_abandoned",
];

/// A live stream of scheduler events: SSE event name = the event `type`, data = its JSON
/// (`{"type","at",…}`). Browsers may pass the token as `?token=` here (EventSource cannot
/// set headers).
#[utoipa::path(get, path = "/api/events", tag = "events",
    params(EventParams),
    responses(
        (status = 200, description = "text/event-stream of events", content_type = "text/event-stream", body = String),
        (status = 400, description = "An unknown event type", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn events(
    State(state): State<AppState>,
    Query(params): Query<EventParams>,
) -> ApiResult<Sse<impl Stream<Item = Result<SseEvent, Infallible>>>> {
    let mut wanted = HashSet::new();
    for name in params.types {
        let Some(known) = EVENT_TYPES.iter().find(|t| **t == name) else {
            return Err(ApiError::bad_request(
                Some("types"),
                format!(
                    "unknown event type '{name}'; expected: {}",
                    EVENT_TYPES.join(", ")
                ),
            ));
        };
        wanted.insert(*known);
    }
    // Subscribe before answering, so no event after this request is missed.
    let listener = state.scheduler.events().subscribe(EventMask::ALL);
    let stream = futures_util::stream::unfold(
        (listener, wanted),
        |(mut listener, wanted): (Listener, HashSet<&'static str>)| async move {
            loop {
                let envelope = listener.recv().await?;
                let data = match serde_json::to_value(&envelope) {
                    Ok(v) => v,
                    Err(e) => {
                        tracing::warn!("an event could not be serialized: {e}");
                        continue;
                    }
                };
                let name = data["type"].as_str().unwrap_or_default().to_string();
                if !wanted.is_empty() && !wanted.contains(name.as_str()) {
                    continue;
                }
                let event = SseEvent::default().event(name).data(data.to_string());
                return Some((Ok(event), (listener, wanted)));
            }
        },
    );
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}
