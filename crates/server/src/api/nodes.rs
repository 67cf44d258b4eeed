//! `/api/nodes`: the processes sharing the store, for the Nodes screen and `kairos nodes`.

use axum::extract::State;
use axum::Json;
use chrono::{DateTime, Utc};
use kairos_core::scheduler::{Scheduler, SchedulerError};
use kairos_core::store::{NodeInfo, NodeState};
use serde::Serialize;
use utoipa::ToSchema;

use crate::error::{ApiResult, ErrorBody};
use crate::input::blocking;
use crate::AppState;

/// A node's state: alive (heartbeat within the lease), lapsed (about to be taken over), gone.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeStatus {
    /// Its heartbeat is within the lease.
    Alive,
    /// Its heartbeat lapsed; its runs are about to be taken over.
    Lapsed,
    /// It shut down or was taken over.
    Gone,
}

impl From<NodeState> for NodeStatus {
    fn from(state: NodeState) -> Self {
        match state {
            NodeState::Alive => NodeStatus::Alive,
            NodeState::Lapsed => NodeStatus::Lapsed,
            NodeState::Gone => NodeStatus::Gone,
        }
    }
}

/// One process sharing the store.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeView {
    /// Unique per process start.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// The operating system's process id.
    pub pid: u32,
    /// The Kairos version it runs.
    pub version: String,
    /// Labels that pinned jobs ask for.
    pub labels: Vec<String>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat: DateTime<Utc>,
    /// When it shut down or was taken over.
    pub left: Option<DateTime<Utc>>,
    /// Seconds since it started (until it left).
    pub uptime_s: i64,
    /// How far its clock was from the database's at its last heartbeat, in milliseconds.
    pub clock_skew_ms: i64,
    /// Its runs now submitted or running.
    pub running: u64,
    /// Alive, lapsed or gone.
    pub state: NodeStatus,
    /// The node answering this request.
    pub this: bool,
}

/// Every node that shares the store, oldest first.
#[derive(Debug, Serialize, ToSchema)]
pub struct NodeList {
    /// The nodes, gone ones for a day after they left.
    pub items: Vec<NodeView>,
    /// Seconds without a heartbeat after which a node's work is taken over.
    pub lease_s: u32,
    /// Seconds between heartbeats.
    pub heartbeat_s: u32,
}

/// `node` as seen at `now` by the node `me`.
fn view(node: NodeInfo, now: DateTime<Utc>, lease: chrono::Duration, me: &str) -> NodeView {
    let state = node.state(now, lease).into();
    NodeView {
        uptime_s: (node.left.unwrap_or(now) - node.started)
            .num_seconds()
            .max(0),
        this: node.id == me,
        id: node.id,
        host: node.host,
        pid: node.pid,
        version: node.version,
        labels: node.labels,
        started: node.started,
        heartbeat: node.heartbeat,
        left: node.left,
        clock_skew_ms: node.skew_ms,
        running: node.running,
        state,
    }
}

/// The processes (nodes) sharing this store: `kairos serve` instances, desktop apps, and
/// programs using the library, each with its heartbeat, state and running runs.
#[utoipa::path(get, path = "/api/nodes", tag = "scheduler",
    responses(
        (status = 200, description = "Every node, oldest first", body = NodeList),
        (status = 500, description = "The store failed", body = ErrorBody),
    ),
    security(("bearer" = [])))]
pub(crate) async fn list_nodes(State(state): State<AppState>) -> ApiResult<Json<NodeList>> {
    let scheduler = state.scheduler.clone();
    blocking(move || Ok(Json(node_list(&scheduler, Utc::now())?))).await
}

/// Every node sharing `scheduler`'s store as seen at `now` (for the API and `kairos nodes`).
pub fn node_list(scheduler: &Scheduler, now: DateTime<Utc>) -> Result<NodeList, SchedulerError> {
    let cluster = scheduler.settings().cluster;
    let me = scheduler.node().id;
    let items = scheduler
        .nodes()?
        .into_iter()
        .map(|n| view(n, now, cluster.lease(), &me))
        .collect();
    Ok(NodeList {
        items,
        lease_s: cluster.lease_s,
        heartbeat_s: cluster.heartbeat_s,
    })
}
