//! Three real `kairos serve` nodes on one PostgreSQL database (the private server `make test`
//! starts, named by KAIROS_TEST_PG; without it this test fails). 500 jobs fire every second;
//! each run is an HTTP request to a counter in this test, so executions are counted outside
//! Kairos. One node is killed with SIGKILL at a random moment and restarted. Every job's
//! fire times in the window have exactly one run row each, none ran twice, the counter saw
//! exactly the succeeded runs, and the kill was taken over within the lease.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration as StdDuration, Instant};

use chrono::{DateTime, Duration, Utc};
use kairos_core::history::{RunQuery, RunState};
use kairos_core::job::Job;
use kairos_core::store::{JobStore, PgStore};
use rand::Rng;
use serde_json::json;

const JOBS: usize = 500;
const SECONDS: i64 = 30;

/// A fresh database on the test server, dropped at the end.
struct TestDb {
    admin: String,
    name: String,
    url: String,
}

fn psql(url: &str, sql: &str) {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let (client, conn) = tokio_postgres::connect(url, tokio_postgres::NoTls)
            .await
            .unwrap_or_else(|e| panic!("cannot connect to {url}: {e}"));
        let task = tokio::spawn(conn);
        client.batch_execute(sql).await.unwrap();
        drop(client);
        let _ = task.await;
    });
}

impl TestDb {
    fn new() -> TestDb {
        let admin = std::env::var("KAIROS_TEST_PG").expect(
            "this test needs PostgreSQL: run it through `make test` (scripts/with-pg.sh), or \
             set KAIROS_TEST_PG=postgres://USER@HOST:PORT/DB",
        );
        let name = format!("kairos_cluster_{:08x}", rand::thread_rng().gen::<u32>());
        psql(&admin, &format!("CREATE DATABASE {name}"));
        let base = admin.rsplit_once('/').unwrap().0;
        TestDb {
            url: format!("{base}/{name}"),
            admin,
            name,
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        psql(
            &self.admin,
            &format!("DROP DATABASE IF EXISTS {} WITH (FORCE)", self.name),
        );
    }
}

/// Counts GET /hit/<job> requests, answering 200 to each.
fn counter() -> (String, Arc<Mutex<BTreeMap<String, u64>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let hits = Arc::new(Mutex::new(BTreeMap::new()));
    let counted = hits.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counted = counted.clone();
            std::thread::spawn(move || {
                let mut reader = BufReader::new(&stream);
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    return;
                }
                if let Some(job) = line
                    .split_whitespace()
                    .nth(1)
                    .and_then(|p| p.strip_prefix("/hit/"))
                {
                    *counted.lock().unwrap().entry(job.to_string()).or_insert(0) += 1;
                }
                // Drain the headers, then answer and close.
                while reader.read_line(&mut line).is_ok_and(|n| n > 2) {
                    line.clear();
                }
                let _ = (&stream).write_all(
                    b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                );
            });
        }
    });
    (base, hits)
}

/// The nodes; whatever happens to the test, none outlives it.
struct Nodes(Vec<Child>);

impl Drop for Nodes {
    fn drop(&mut self) {
        for child in &mut self.0 {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// A node whose log goes to `<temp>/kairos-cluster-<label>.log`.
fn serve(url: &str, label: &str) -> Child {
    let log = std::fs::File::create(log_path(label)).unwrap();
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .args([
            "serve",
            "--bind",
            "127.0.0.1:0",
            "--label",
            label,
            "--db",
            url,
        ])
        .env("HOME", std::env::temp_dir())
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("kairos serve starts")
}

fn log_path(label: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("kairos-cluster-{label}.log"))
}

fn wait_until(secs: u64, what: &str, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + StdDuration::from_secs(secs);
    while !done() {
        assert!(Instant::now() < deadline, "timed out waiting for {what}");
        std::thread::sleep(StdDuration::from_millis(100));
    }
}

#[test]
fn three_nodes_run_every_fire_once_through_a_sigkill() {
    let db = TestDb::new();
    let (base, hits) = counter();
    let store = PgStore::open(&db.url).unwrap();
    let start = (Utc::now() + Duration::seconds(3)).with_timezone(&Utc);
    let start = DateTime::from_timestamp(start.timestamp(), 0).unwrap();
    let jobs: Vec<Job> = (0..JOBS)
        .map(|i| {
            let mut job: Job = serde_json::from_value(json!({
                "id": format!("j{i:03}"),
                "name": format!("job {i}"),
                "trigger": {"type": "interval", "seconds": 1, "start": start},
                "action": {"kind": "http", "url": format!("{base}/hit/j{i:03}")},
                // Every fire gets a row: run, or missed once 5 s late (none coalesced away).
                "options": {"misfire_grace_time_s": 5, "coalesce": "all"},
            }))
            .unwrap();
            job.next_run = Some(start);
            job
        })
        .collect();
    store.add_jobs(&jobs).unwrap();
    // Enough workers that a debug build on two cores keeps up with 500 requests a second.
    let mut settings = kairos_core::job::Settings::default();
    settings.pools.insert("default".into(), 64);
    store.save_settings(&settings).unwrap();

    let mut nodes = Nodes(["a", "b", "c"].iter().map(|l| serve(&db.url, l)).collect());
    let nodes = &mut nodes.0;
    let end = start + Duration::seconds(SECONDS);
    let kill_after = rand::thread_rng().gen_range(5..SECONDS - 12);
    let kill_at = start + Duration::seconds(kill_after);
    wait_until(60, "the kill moment", || Utc::now() >= kill_at);
    let victim = rand::thread_rng().gen_range(0..nodes.len());
    let victim_pid = nodes[victim].id();
    nodes[victim].kill().unwrap(); // SIGKILL
    nodes[victim].wait().unwrap();
    let killed = Instant::now();
    wait_until(15, "the killed node to be taken over", || {
        store
            .nodes()
            .unwrap()
            .iter()
            .any(|n| n.pid == victim_pid && n.left.is_some())
    });
    let takeover = killed.elapsed();
    nodes[victim] = serve(&db.url, "restarted");

    wait_until(SECONDS as u64 + 30, "the window to end", || {
        Utc::now() > end + Duration::seconds(2)
    });
    for (node, label) in nodes.iter_mut().zip(["a", "b", "c"]) {
        unsafe { libc::kill(node.id() as i32, libc::SIGTERM) };
        let status = node.wait().unwrap();
        let label = if status.success() || label != ["a", "b", "c"][victim] {
            label
        } else {
            "restarted"
        };
        let log = std::fs::read_to_string(log_path(label)).unwrap_or_default();
        assert!(status.success(), "node {label}: {status:?}\n{log}");
    }

    // Every fire in [start, end) of every job has exactly one run row.
    store.flush().unwrap();
    let mut succeeded: BTreeMap<String, u64> = BTreeMap::new();
    let mut abandoned: BTreeMap<String, u64> = BTreeMap::new();
    let mut other = BTreeMap::new();
    for job in &jobs {
        let runs = store
            .runs(&RunQuery {
                job_id: Some(job.id.clone()),
                limit: 10_000,
                ..Default::default()
            })
            .unwrap();
        let mut seen = BTreeSet::new();
        for r in &runs {
            assert!(
                seen.insert((r.scheduled, r.attempt)),
                "fire {} of {} ran twice",
                r.scheduled,
                job.id
            );
            match r.state {
                RunState::Succeeded => *succeeded.entry(job.id.clone()).or_insert(0) += 1,
                s => {
                    if s == RunState::Abandoned {
                        *abandoned.entry(job.id.clone()).or_insert(0) += 1;
                    }
                    *other.entry(s.as_str()).or_insert(0) += 1
                }
            }
        }
        let fires: BTreeSet<i64> = runs
            .iter()
            .map(|r| r.scheduled.timestamp())
            .filter(|t| *t < end.timestamp())
            .collect();
        let expected: BTreeSet<i64> = (start.timestamp()..end.timestamp()).collect();
        assert_eq!(fires, expected, "fires of {} in the window", job.id);
    }
    eprintln!(
        "{JOBS} jobs × {SECONDS} s on 3 nodes; node killed at {kill_after} s, taken over in \
         {} ms; runs not succeeded: {other:?}",
        takeover.as_millis()
    );
    // The counter outside Kairos saw each succeeded run once, plus at most the runs in flight
    // on the killed node (their request may have left before the kill).
    let hits = hits.lock().unwrap().clone();
    for job in &jobs {
        let seen = hits.get(&job.id).copied().unwrap_or(0);
        let ok = succeeded.get(&job.id).copied().unwrap_or(0);
        let lost = abandoned.get(&job.id).copied().unwrap_or(0);
        assert!(
            (ok..=ok + lost).contains(&seen),
            "{}: {seen} requests for {ok} succeeded and {lost} abandoned runs",
            job.id
        );
    }
    assert!(takeover < StdDuration::from_secs(10), "{takeover:?}");
}
