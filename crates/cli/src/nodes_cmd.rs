//! `kairos nodes`: the processes sharing the database, as the Nodes screen shows them.

use std::path::Path;

use chrono::Utc;
use kairos_server::{node_list, NodeStatus};

use crate::table::Table;

/// Prints every node of the database at `db`, as a table or (`json`) one JSON document.
pub fn run(db: &Path, json: bool) -> Result<(), String> {
    let runtime = tokio::runtime::Runtime::new().map_err(|e| e.to_string())?;
    let _guard = runtime.enter();
    let scheduler = crate::job_cmd::scheduler(db)?;
    let list = node_list(&scheduler, Utc::now()).map_err(|e| e.to_string())?;
    if json {
        let text = serde_json::to_string_pretty(&list).map_err(|e| e.to_string())?;
        println!("{text}");
        return Ok(());
    }
    let mut table = Table::new([
        "NODE",
        "HOST",
        "PID",
        "STATE",
        "LABELS",
        "UPTIME",
        "HEARTBEAT",
        "SKEW",
        "RUNNING",
        "VERSION",
    ]);
    for n in &list.items {
        let state = match n.state {
            NodeStatus::Alive => "alive",
            NodeStatus::Lapsed => "lapsed",
            NodeStatus::Gone => "gone",
        };
        table.row([
            n.id.clone(),
            n.host.clone(),
            n.pid.to_string(),
            state.into(),
            if n.labels.is_empty() {
                "-".into()
            } else {
                n.labels.join(",")
            },
            duration(n.uptime_s),
            n.heartbeat.format("%Y-%m-%d %H:%M:%S").to_string(),
            format!("{} ms", n.clock_skew_ms),
            n.running.to_string(),
            n.version.clone(),
        ]);
    }
    print!("{}", table.render());
    eprintln!(
        "lease {} s, heartbeat every {} s",
        list.lease_s, list.heartbeat_s
    );
    Ok(())
}

/// `s` seconds as "3d 4h", "2h 5m", "4m 10s" or "12s".
fn duration(s: i64) -> String {
    let (d, h, m) = (s / 86_400, s / 3600 % 24, s / 60 % 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, _) => format!("{m}m {}s", s % 60),
        (0, _, _) => format!("{h}h {m}m"),
        _ => format!("{d}d {h}h"),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(super::duration(12), "12s");
        assert_eq!(super::duration(250), "4m 10s");
        assert_eq!(super::duration(7500), "2h 5m");
        assert_eq!(super::duration(3 * 86_400 + 4 * 3600 + 60), "3d 4h");
    }
}
