//! Nodes: the processes that share one store, each with a heartbeat and a lease.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

/// One process (a `kairos serve`, the desktop app, a library program) sharing the store.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeInfo {
    /// Unique per process start.
    pub id: String,
    /// The machine's host name.
    pub host: String,
    /// Names one kernel and process namespace: nodes with the same `instance` can check each
    /// other's process ids.
    pub instance: String,
    /// The operating system's process id.
    pub pid: u32,
    /// The Kairos version it runs.
    pub version: String,
    /// Labels that pinned jobs ask for (`kairos serve --label gpu`).
    pub labels: Vec<String>,
    /// When it started.
    pub started: DateTime<Utc>,
    /// Its last heartbeat.
    pub heartbeat: DateTime<Utc>,
    /// When it shut down or was taken over.
    pub left: Option<DateTime<Utc>>,
    /// How far its clock was from the database's at its last heartbeat, in milliseconds.
    #[serde(default)]
    pub skew_ms: i64,
    /// Its runs now submitted or running (filled in by [`JobStore::nodes`](super::JobStore::nodes)).
    #[serde(default)]
    pub running: u64,
    /// Someone there watches events (a web admin, the desktop app): other nodes share theirs.
    #[serde(default)]
    pub listening: bool,
}

/// Where a node is, as seen at one instant.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Its heartbeat is within the lease.
    Alive,
    /// Its heartbeat lapsed; its work is about to be taken over.
    Lapsed,
    /// It shut down or was taken over.
    Gone,
}

/// What a heartbeat learned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Heartbeat {
    /// The database's clock at the heartbeat (the caller's where the database has none).
    pub db_now: DateTime<Utc>,
    /// The node had been marked gone by another node (its lease had lapsed).
    pub revived: bool,
}

impl NodeInfo {
    /// This process as a node: a fresh id, the host, pid and version, started `now`.
    pub fn this_process(labels: Vec<String>, now: DateTime<Utc>) -> Self {
        use rand::Rng;
        NodeInfo {
            id: format!("{:012x}", rand::thread_rng().gen::<u64>() >> 16),
            host: host_name(),
            instance: instance_key(),
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            labels,
            started: now,
            heartbeat: now,
            left: None,
            skew_ms: 0,
            running: 0,
            listening: false,
        }
    }

    /// The node's state at `now` with leases of `lease`.
    pub fn state(&self, now: DateTime<Utc>, lease: Duration) -> NodeState {
        if self.left.is_some() {
            NodeState::Gone
        } else if self.heartbeat < now - lease {
            NodeState::Lapsed
        } else {
            NodeState::Alive
        }
    }

    /// Whether this node may run a job that asks for `wanted` labels (all of them).
    pub fn has_labels(&self, wanted: &[String]) -> bool {
        wanted.iter().all(|w| self.labels.contains(w))
    }

    /// Whether the node is known dead without waiting for its lease: it runs in this same
    /// kernel and process namespace as `me` and its process no longer exists.
    pub fn is_dead_process(&self, me: &NodeInfo) -> bool {
        self.id != me.id
            && self.left.is_none()
            && self.instance == me.instance
            && !self.instance.is_empty()
            && !process_exists(self.pid)
    }
}

/// The machine's host name, or `localhost` when it cannot be read.
fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most that much.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    let end = buf.iter().position(|b| *b == 0).unwrap_or(buf.len());
    match (rc, std::str::from_utf8(&buf[..end])) {
        (0, Ok(name)) if !name.is_empty() => name.to_string(),
        _ => "localhost".to_string(),
    }
}

/// The boot id and the process-namespace inode: equal for processes that can see each
/// other's pids. Empty where they cannot be read (then no node is declared dead by pid).
fn instance_key() -> String {
    let boot = std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default();
    let ns = std::fs::read_link("/proc/self/ns/pid")
        .map(|p| p.display().to_string())
        .unwrap_or_default();
    if boot.trim().is_empty() || ns.is_empty() {
        String::new()
    } else {
        format!("{}/{ns}", boot.trim())
    }
}

/// Whether a process with this id exists (or may: a permission error counts as existing).
fn process_exists(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    // SAFETY: signal 0 only checks for the process; nothing is sent.
    let rc = unsafe { libc::kill(pid, 0) };
    rc == 0 || std::io::Error::last_os_error().raw_os_error() != Some(libc::ESRCH)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_dead_process_on_this_machine_is_known_dead() {
        let now = Utc::now();
        let me = NodeInfo::this_process(vec![], now);
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        child.wait().unwrap();
        let dead = NodeInfo {
            id: "other".into(),
            pid,
            ..me.clone()
        };
        assert!(dead.is_dead_process(&me));
        let alive = NodeInfo {
            id: "other".into(),
            pid: std::process::id(),
            ..me.clone()
        };
        assert!(!alive.is_dead_process(&me));
        assert!(!me.is_dead_process(&me), "never itself");
        let elsewhere = NodeInfo {
            instance: "another-machine".into(),
            ..dead
        };
        assert!(!elsewhere.is_dead_process(&me));
    }

    #[test]
    fn state_follows_the_lease() {
        let now = Utc::now();
        let mut node = NodeInfo::this_process(vec!["gpu".into()], now);
        let lease = Duration::seconds(8);
        assert_eq!(
            node.state(now + Duration::seconds(8), lease),
            NodeState::Alive
        );
        assert_eq!(
            node.state(now + Duration::seconds(9), lease),
            NodeState::Lapsed
        );
        node.left = Some(now);
        assert_eq!(node.state(now, lease), NodeState::Gone);
        assert!(node.has_labels(&["gpu".into()]));
        assert!(node.has_labels(&[]));
        assert!(!node.has_labels(&["gpu".into(), "ssd".into()]));
    }
}
