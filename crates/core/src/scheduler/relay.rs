//! Events across nodes: while another node has someone watching (a web admin, the desktop
//! app), this node shares its events through the store; while someone watches here, the
//! other nodes' events are read back and passed to this node's listeners, marked with the
//! node they happened on.

use std::sync::Arc;
use std::time::Duration;

use super::SchedulerInner;
use crate::events::{Envelope, Listener};

/// How long events gather before they are shared in one write.
const GATHER: Duration = Duration::from_millis(100);
/// Most events shared in one write.
const BATCH: usize = 512;
/// How often other nodes' events are read from a store that cannot announce them.
const POLL_EVERY: Duration = Duration::from_millis(500);

/// Relays events until the scheduler stops; re-decides what to relay whenever a heartbeat
/// finds that who listens changed.
pub(super) async fn relay(inner: Arc<SchedulerInner>) {
    let signal = inner.store.events_signal();
    let mut outgoing: Option<Listener> = None;
    let mut batch: Vec<Envelope> = Vec::new();
    let mut cursor: Option<i64> = None;
    loop {
        if inner.others_listening() {
            outgoing.get_or_insert_with(|| inner.bus.subscribe_relay());
        } else {
            outgoing = None;
        }
        let wanted = inner.bus.has_watchers() && !inner.alone();
        if !wanted {
            // Nobody here to tell, or nobody else to hear from: read nothing.
            cursor = None;
        } else if cursor.is_none() {
            cursor = pull(&inner, None).await;
        }
        // A first read that failed is tried again shortly.
        let retry = wanted && cursor.is_none();
        let incoming = async {
            match &signal {
                Some(signal) => signal.notified().await,
                None => tokio::time::sleep(POLL_EVERY).await,
            }
        };
        let next = async {
            match outgoing.as_mut() {
                Some(listener) => listener.recv().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            event = next => {
                // Events from other nodes are theirs to share.
                if let Some(event) = event.filter(|e| e.node.is_none()) {
                    batch.push(event);
                }
                if batch.len() >= BATCH {
                    share(&inner, &mut batch);
                }
            }
            _ = tokio::time::sleep(GATHER), if !batch.is_empty() => share(&inner, &mut batch),
            _ = incoming, if cursor.is_some() => cursor = pull(&inner, cursor).await,
            _ = inner.relay_wake.notified() => {}
            _ = tokio::time::sleep(POLL_EVERY), if retry => {}
            _ = inner.stop.cancelled() => {
                share(&inner, &mut batch);
                return;
            }
        }
    }
}

/// Writes the gathered events for the other nodes.
fn share(inner: &SchedulerInner, batch: &mut Vec<Envelope>) {
    if !batch.is_empty() {
        inner
            .store
            .publish_events(&inner.node_id, std::mem::take(batch));
    }
}

/// Passes on every event other nodes shared after `cursor` (none when starting) and returns
/// the cursor after them; keeps the old one when the store cannot be read.
async fn pull(inner: &Arc<SchedulerInner>, cursor: Option<i64>) -> Option<i64> {
    let reader = inner.clone();
    let read = tokio::task::spawn_blocking(move || {
        let mut at = cursor;
        loop {
            let (events, next) = reader.store.events_after(&reader.node_id, at)?;
            let full = events.len() as i64 >= crate::store::EVENTS_PAGE;
            for event in events {
                reader.bus.relay(event);
            }
            at = Some(next);
            if !full || cursor.is_none() {
                return Ok::<_, crate::store::StoreError>(at);
            }
        }
    })
    .await;
    match read {
        Ok(Ok(next)) => next,
        Ok(Err(e)) => {
            tracing::warn!("cannot read other nodes' events: {e}");
            cursor
        }
        Err(_) => cursor,
    }
}
