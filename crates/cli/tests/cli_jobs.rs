//! `kairos job …`, `runs`, `export`, `import`, `import-crontab` as a user runs them: on a
//! database alone, and next to a running `kairos serve` that must pick the changes up.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::Value;

fn kairos(db: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kairos"))
        .arg("--db")
        .arg(db)
        .args(args)
        .output()
        .expect("kairos runs")
}

/// Runs a command that must succeed; returns its stdout.
fn ok(db: &Path, args: &[&str]) -> String {
    let o = kairos(db, args);
    assert!(
        o.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    String::from_utf8(o.stdout).unwrap()
}

fn json(db: &Path, args: &[&str]) -> Value {
    serde_json::from_str(&ok(db, args)).unwrap()
}

#[test]
fn jobs_without_a_server() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let added = json(
        &db,
        &[
            "job",
            "add",
            "--id",
            "greet",
            "--name",
            "Greeter",
            "--cron",
            "0 9 * * mon-fri",
            "--tz",
            "Europe/London",
            "--command",
            "echo hello; echo oops >&2",
            "--tag",
            "demo",
            "--json",
        ],
    );
    assert_eq!(added["trigger"]["timezone"], "Europe/London");
    let list = json(&db, &["job", "list", "--json"]);
    let job = &list.as_array().unwrap()[0];
    for key in ["id", "name", "trigger", "next_run"] {
        assert!(job.get(key).is_some(), "{key} missing from {job}");
    }
    assert!(job["next_run"].as_str().unwrap().ends_with(":00:00Z"));
    let table = ok(&db, &["job", "list"]);
    assert!(
        table.starts_with("ID     NAME     KIND   TRIGGER"),
        "{table}"
    );
    assert!(table.contains("cron 0 9 * * mon-fri (Europe/London)"));

    ok(
        &db,
        &[
            "job",
            "edit",
            "greet",
            "--name",
            "Greeter 2",
            "--timeout",
            "30",
        ],
    );
    let shown = json(&db, &["job", "show", "greet", "--json"]);
    assert_eq!(shown["name"], "Greeter 2");
    assert_eq!(shown["options"]["timeout_s"], 30);
    ok(&db, &["job", "pause", "greet"]);
    assert_eq!(
        json(&db, &["job", "show", "greet", "--json"])["paused"],
        true
    );
    ok(&db, &["job", "resume", "greet"]);

    // Run now, in the foreground: output on stdout/stderr and a history row.
    let run = kairos(&db, &["job", "run", "greet"]);
    assert!(run.status.success());
    assert_eq!(String::from_utf8_lossy(&run.stdout), "hello\n");
    assert!(String::from_utf8_lossy(&run.stderr).contains("oops"));
    let runs = json(&db, &["runs", "--json"]);
    assert_eq!(runs[0]["state"], "succeeded");
    assert_eq!(runs[0]["stdout"], "hello\n");
    let failing = kairos(
        &db,
        &[
            "job",
            "add",
            "--id",
            "bad",
            "--name",
            "bad",
            "--every",
            "1h",
            "--command",
            "exit 3",
        ],
    );
    assert!(failing.status.success());
    let run = kairos(&db, &["job", "run", "bad"]);
    assert_eq!(run.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&run.stderr).contains("failed: exited with status 3"));
    assert_eq!(
        json(&db, &["runs", "--state", "failed", "--json"])
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // Bad input: one line naming the field, exit status 2.
    let bad = kairos(
        &db,
        &[
            "job",
            "add",
            "--name",
            "x",
            "--cron",
            "* 25 * * *",
            "--command",
            "true",
        ],
    );
    assert_eq!(bad.status.code(), Some(2));
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "--cron: hour: 25 is out of range 0-23\n"
    );
    let bad = kairos(
        &db,
        &[
            "job",
            "add",
            "--name",
            "x",
            "--every",
            "soon",
            "--command",
            "true",
        ],
    );
    assert!(String::from_utf8_lossy(&bad.stderr).starts_with("--every: 'soon' is not a period"));
    let bad = kairos(&db, &["job", "show", "nope"]);
    assert_eq!(
        String::from_utf8_lossy(&bad.stderr),
        "no job with id 'nope'\n"
    );

    // Export, remove, import: the same jobs come back.
    let export = ok(&db, &["export"]);
    let file = dir.path().join("export.json");
    std::fs::write(&file, &export).unwrap();
    ok(&db, &["job", "rm", "greet", "bad"]);
    assert_eq!(json(&db, &["job", "list", "--json"]), serde_json::json!([]));
    assert_eq!(
        ok(&db, &["import", file.to_str().unwrap()]),
        "imported 2 jobs\n"
    );
    let again = json(&db, &["job", "list", "--json"]);
    assert_eq!(again.as_array().unwrap().len(), 2);
    // Importing twice is refused as a whole.
    let dup = kairos(&db, &["import", file.to_str().unwrap()]);
    assert_eq!(dup.status.code(), Some(2));
    assert_eq!(
        json(&db, &["job", "list", "--json"])
            .as_array()
            .unwrap()
            .len(),
        2
    );

    // A crontab: environment lines honoured, unsupported lines reported.
    let crontab = dir.path().join("crontab");
    std::fs::write(
        &crontab,
        "GREETING=hi\n*/5 * * * * echo $GREETING\n@reboot boot.sh\n",
    )
    .unwrap();
    let o = kairos(
        &db,
        &["import-crontab", crontab.to_str().unwrap(), "--tz", "UTC"],
    );
    assert!(o.status.success());
    assert_eq!(
        String::from_utf8_lossy(&o.stdout),
        "imported 1 jobs, skipped 1 lines\n"
    );
    assert!(String::from_utf8_lossy(&o.stderr).contains(":3: skipped: @reboot is not supported"));
    let jobs = json(&db, &["job", "list", "--tag", "crontab", "--json"]);
    assert_eq!(jobs[0]["action"]["env"]["GREETING"], "hi");
}

struct Serve(Child);

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn a_running_server_picks_up_cli_changes() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let mut child = Command::new(env!("CARGO_BIN_EXE_kairos"))
        .arg("--db")
        .arg(&db)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap())
        .read_line(&mut line)
        .unwrap();
    let _serve = Serve(child);
    // The admin URL, on a line of its own: http://ADDR/?token=TOKEN
    let (base, token) = line.trim().split_once("/?token=").expect("the admin URL");
    assert!(base.starts_with("http://127.0.0.1:"));
    let http = reqwest::blocking::Client::new();
    let get = |path: &str| -> Value {
        http.get(format!("{base}{path}"))
            .bearer_auth(token)
            .send()
            .unwrap()
            .json()
            .unwrap()
    };

    ok(
        &db,
        &[
            "job",
            "add",
            "--id",
            "tick",
            "--name",
            "tick",
            "--every",
            "1s",
            "--command",
            "echo tick",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let runs = get("/api/runs?job_id=tick");
        if runs["items"]
            .as_array()
            .is_some_and(|r| r.iter().any(|r| r["state"] == "succeeded"))
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the server never ran the CLI's job: {runs}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(get("/api/jobs/tick")["name"], "tick");
    ok(&db, &["job", "rm", "tick"]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while get("/api/scheduler")["jobs"] != 0 {
        assert!(Instant::now() < deadline, "the server kept the removed job");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn jobs_can_be_pinned_to_node_labels_and_released() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let args = [
        "job",
        "add",
        "--id",
        "train",
        "--name",
        "Train",
        "--every",
        "1h",
        "--command",
        "true",
        "--node-label",
        "gpu",
        "--node-label",
        "ssd",
        "--json",
    ];
    let added = json(&db, &args);
    assert_eq!(added["node_labels"], serde_json::json!(["gpu", "ssd"]));
    assert!(ok(&db, &["job", "show", "train"]).contains("runs on   nodes labelled gpu, ssd"));
    let edited = json(
        &db,
        &["job", "edit", "train", "--node-label", "tpu", "--json"],
    );
    assert_eq!(edited["node_labels"], serde_json::json!(["tpu"]));
    let released = json(&db, &["job", "edit", "train", "--any-node", "--json"]);
    assert!(released.get("node_labels").is_none(), "{released}");
}

#[test]
fn a_chain_is_set_shown_checked_and_dropped() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let add = |id: &str, extra: &[&str]| {
        let mut args = vec!["job", "add", "--id", id, "--name", id, "--every", "1h"];
        args.extend(["--command", "true"]);
        args.extend(extra);
        kairos(&db, &args)
    };
    let refused = add("extract", &["--then", "load"]);
    assert!(!refused.status.success());
    assert!(String::from_utf8_lossy(&refused.stderr).contains("then[0].job: no job with id 'load'"));
    assert!(add("load", &[]).status.success());
    assert!(add("alert", &[]).status.success());
    let added = add(
        "extract",
        &["--then", "load", "--then", "alert:failed", "--json"],
    );
    let added: Value = serde_json::from_slice(&added.stdout).unwrap();
    assert_eq!(
        added["then"],
        serde_json::json!([{"job": "load", "on": "succeeded"}, {"job": "alert", "on": "failed"}])
    );
    let shown = ok(&db, &["job", "show", "extract"]);
    assert!(
        shown.contains("then      starts 'load' when a run succeeds"),
        "{shown}"
    );
    assert!(
        shown.contains("then      starts 'alert' when a run fails"),
        "{shown}"
    );
    let bad = kairos(&db, &["job", "edit", "extract", "--then", "load:sometimes"]);
    assert!(String::from_utf8_lossy(&bad.stderr).contains("'sometimes' is not when to start it"));
    let looped = kairos(&db, &["job", "edit", "load", "--then", "extract"]);
    assert!(String::from_utf8_lossy(&looped.stderr)
        .contains("this chain loops (load → extract → load)"));
    let dropped = json(&db, &["job", "edit", "extract", "--no-then", "--json"]);
    assert!(dropped.get("then").is_none(), "{dropped}");
}

#[test]
fn a_workflow_runs_in_the_foreground_and_a_failed_step_is_retried() {
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    let flag = dir.path().join("exit-code");
    std::fs::write(&flag, "3").unwrap();
    let doc = serde_json::json!({
        "version": 1,
        "jobs": [{
            "id": "etl", "name": "ETL",
            "trigger": {"type": "date", "at": "2099-01-01T00:00:00Z"},
            "action": {"kind": "workflow", "steps": [
                {"id": "extract", "action": {"kind": "shell", "command": "echo extracted"}},
                {"id": "transform", "action": {"kind": "shell",
                    "command": format!("echo transforming; exit $(cat {})", flag.display())}},
                {"id": "load", "action": {"kind": "shell", "command": "echo loaded"}}
            ], "edges": [
                {"from": "extract", "to": "transform"},
                {"from": "transform", "to": "load"}
            ]}
        }]
    });
    let file = dir.path().join("etl.json");
    std::fs::write(&file, doc.to_string()).unwrap();
    assert_eq!(
        ok(&db, &["import", file.to_str().unwrap()]),
        "imported 1 jobs\n"
    );

    let failed = kairos(&db, &["job", "run", "etl"]);
    assert!(!failed.status.success());
    let out = String::from_utf8_lossy(&failed.stdout);
    let err = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(out, "extracted\ntransforming\n");
    assert!(err.contains(") failed: exited with status 3"), "{err}");
    assert!(
        err.contains(") skipped: not run: it follows 'transform' on success, which ended failed"),
        "{err}"
    );
    assert!(err.contains("failed: step 'transform' failed"), "{err}");

    let runs = json(&db, &["runs", "--job", "etl", "--json"]);
    let transform = runs
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["step"] == "transform")
        .unwrap()["id"]
        .as_i64()
        .unwrap();
    std::fs::write(&flag, "0").unwrap();
    let retried = ok(&db, &["runs", "retry", &transform.to_string()]);
    assert!(retried.contains("transforming\nloaded\n"), "{retried}");
    assert!(retried.ends_with("ended: succeeded\n"), "{retried}");
    // Only the failed step and the one after it ran again.
    let runs = json(&db, &["runs", "--job", "etl", "--json"]);
    let extracts = runs
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["step"] == "extract")
        .count();
    assert_eq!(extracts, 1);
    let again = kairos(&db, &["runs", "retry", &transform.to_string()]);
    assert!(String::from_utf8_lossy(&again.stderr).contains("is not step 'transform''s newest run"));
}

#[test]
fn a_listing_whose_reader_went_away_ends_quietly() {
    use std::os::fd::{FromRawFd, OwnedFd};
    use std::os::unix::process::ExitStatusExt;
    let dir = tempfile::tempdir().unwrap();
    let db = dir.path().join("kairos.db");
    ok(
        &db,
        &[
            "job",
            "add",
            "--id",
            "a",
            "--name",
            "A",
            "--every",
            "1h",
            "--command",
            "true",
        ],
    );
    // A pipe whose reading end is already closed, as after `kairos job list | head -0`.
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two descriptors; the reading one is closed at once and the
    // writing one owned from here on.
    let write = unsafe {
        assert_eq!(libc::pipe(fds.as_mut_ptr()), 0);
        libc::close(fds[0]);
        OwnedFd::from_raw_fd(fds[1])
    };
    for args in [&["job", "list"][..], &["job", "show", "a"], &["runs"]] {
        let out = Command::new(env!("CARGO_BIN_EXE_kairos"))
            .arg("--db")
            .arg(&db)
            .args(args)
            .stdout(Stdio::from(write.try_clone().unwrap()))
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert_eq!(
            out.status.signal(),
            Some(libc::SIGPIPE),
            "{args:?}: {stderr}"
        );
    }
}
