//! The API over real HTTP on 127.0.0.1: a scheduler on a real SQLite file behind
//! `kairos_server::router`, served by `axum::serve`, called with reqwest.

use std::sync::Arc;
use std::time::Duration;

use kairos_core::scheduler::Scheduler;
use kairos_core::store::{MemoryStore, SqliteStore};
use kairos_server::{
    router, DatabaseHost, DatabaseInfo, DatabaseKind, DatabaseSource, FixedDatabase, ServerConfig,
};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

const TOKEN: &str = "test-token-0123456789";

/// A running server and a client for it.
struct Server {
    base: String,
    host: String,
    http: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Server {
    async fn start() -> Server {
        Self::with_database(FixedDatabase::new(
            std::path::Path::new("/srv/kairos.db"),
            DatabaseSource::CommandLine,
            std::path::Path::new("/home/k/.local/share/kairos/kairos.db"),
        ))
        .await
    }

    async fn with_database(database: Arc<dyn DatabaseHost>) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let store = SqliteStore::open(&dir.path().join("kairos.db")).unwrap();
        let scheduler = Scheduler::new(Arc::new(store));
        scheduler.start().unwrap();
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let host = format!("127.0.0.1:{port}");
        let config = ServerConfig {
            token: TOKEN.to_string(),
            allowed_hosts: vec![host.clone(), format!("localhost:{port}")],
            database,
        };
        let app = router(scheduler, config);
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
        Server {
            base: format!("http://{host}"),
            host,
            http: reqwest::Client::new(),
            _dir: dir,
        }
    }

    /// A request with the token.
    fn req(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.http
            .request(method, format!("{}{path}", self.base))
            .bearer_auth(TOKEN)
    }

    /// Sends a request with the token and an optional JSON body; returns status and JSON.
    async fn call(&self, method: Method, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let mut req = self.req(method, path);
        if let Some(body) = body {
            req = req.json(&body);
        }
        let resp = req.send().await.unwrap();
        let status = resp.status();
        let text = resp.text().await.unwrap();
        let value = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or_else(|e| panic!("not JSON ({e}): {text}"))
        };
        (status, value)
    }

    async fn get(&self, path: &str) -> (StatusCode, Value) {
        self.call(Method::GET, path, None).await
    }

    async fn post(&self, path: &str, body: Value) -> (StatusCode, Value) {
        self.call(Method::POST, path, Some(body)).await
    }
}

/// A shell job that fires once a year (so only `run now` runs it during a test).
fn shell_job(name: &str, command: &str) -> Value {
    json!({
        "name": name,
        "trigger": {"type": "cron", "expression": "0 0 1 1 *", "timezone": "UTC"},
        "action": {"kind": "shell", "command": command},
    })
}

fn assert_error(body: &Value, field: Option<&str>) {
    assert_eq!(
        body["error"]["field"].as_str(),
        field,
        "unexpected error body: {body}"
    );
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| !m.is_empty()),
        "no message: {body}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_crud_cycle() {
    let s = Server::start().await;
    let (status, job) = s.post("/api/jobs", shell_job("backup", "echo hi")).await;
    assert_eq!(status, StatusCode::CREATED, "{job}");
    let id = job["id"].as_str().unwrap().to_string();
    assert!(!id.is_empty());
    assert_eq!(job["kind"], "shell");
    assert_eq!(job["last_run"], Value::Null);
    assert!(job["next_run"].as_str().unwrap().starts_with(&format!(
        "{}-01-01T00:00:00",
        chrono::Utc::now()
            .format("%Y")
            .to_string()
            .parse::<i32>()
            .unwrap()
            + 1
    )));

    let (status, got) = s.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(got["name"], "backup");

    let mut changed = shell_job("nightly backup", "echo hi");
    changed["id"] = json!("ignored-id");
    changed["tags"] = json!(["ops"]);
    let (status, put) = s
        .call(Method::PUT, &format!("/api/jobs/{id}"), Some(changed))
        .await;
    assert_eq!(status, StatusCode::OK, "{put}");
    assert_eq!(put["id"], id.as_str());
    assert_eq!(put["name"], "nightly backup");
    assert_eq!(put["tags"], json!(["ops"]));

    let (status, paused) = s.post(&format!("/api/jobs/{id}/pause"), json!(null)).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paused["paused"], true);
    let (status, resumed) = s
        .post(
            &format!("/api/jobs/{id}/resume?catch_up=false"),
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(resumed["paused"], false);
    let (status, body) = s
        .post(
            &format!("/api/jobs/{id}/resume?catch_up=maybe"),
            json!(null),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("catch_up"));

    // A given id is kept; adding it twice is refused naming `id`.
    let mut named = shell_job("named", "true");
    named["id"] = json!("my-job");
    assert_eq!(
        s.post("/api/jobs", named.clone()).await.0,
        StatusCode::CREATED
    );
    let (status, body) = s.post("/api/jobs", named).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("id"));

    let (status, _) = s
        .call(Method::DELETE, &format!("/api/jobs/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NO_CONTENT);
    let (status, body) = s.get(&format!("/api/jobs/{id}")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, None);
    let (status, _) = s
        .call(Method::DELETE, &format!("/api/jobs/{id}"), None)
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _) = s
        .call(Method::PUT, "/api/jobs/nope", Some(shell_job("x", "true")))
        .await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_searches_filters_sorts_and_pages() {
    let s = Server::start().await;
    for (i, (name, tag)) in [
        ("Alpha report", "reports"),
        ("beta cleanup", "ops"),
        ("Gamma report", "reports"),
        ("delta sync", "ops"),
    ]
    .iter()
    .enumerate()
    {
        let mut job = shell_job(name, "true");
        job["id"] = json!(format!("job-{i}"));
        job["tags"] = json!([tag]);
        assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    }
    let monitor = json!({
        "id": "mon", "name": "Epsilon monitor", "description": "samples the REPORT host",
        "trigger": {"type": "interval", "minutes": 5},
        "action": {"kind": "monitor"},
    });
    assert_eq!(s.post("/api/jobs", monitor).await.0, StatusCode::CREATED);
    s.post("/api/jobs/job-3/pause", json!(null)).await;

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, all) = s.get("/api/jobs").await;
    assert_eq!(all["total"], 5);
    assert_eq!(
        names(&all),
        [
            "Alpha report",
            "beta cleanup",
            "delta sync",
            "Epsilon monitor",
            "Gamma report"
        ]
    );
    // `q` looks at id, name, description and tags, case-insensitively.
    let (_, found) = s.get("/api/jobs?q=report").await;
    assert_eq!(
        names(&found),
        ["Alpha report", "Epsilon monitor", "Gamma report"]
    );
    let (_, found) = s.get("/api/jobs?q=JOB-1").await;
    assert_eq!(names(&found), ["beta cleanup"]);
    let (_, found) = s.get("/api/jobs?tag=ops").await;
    assert_eq!(names(&found), ["beta cleanup", "delta sync"]);
    let (_, found) = s.get("/api/jobs?kind=monitor").await;
    assert_eq!(names(&found), ["Epsilon monitor"]);
    assert_eq!(found["items"][0]["kind"], "monitor");
    let (_, found) = s.get("/api/jobs?paused=true").await;
    assert_eq!(names(&found), ["delta sync"]);
    let (_, page) = s.get("/api/jobs?sort=-name&offset=1&limit=2").await;
    assert_eq!(page["total"], 5);
    assert_eq!(names(&page), ["Epsilon monitor", "delta sync"]);
    let (_, by_next) = s.get("/api/jobs?sort=next_run").await;
    assert_eq!(names(&by_next)[0], "Epsilon monitor");

    let (status, body) = s.get("/api/jobs?limit=0").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("limit"));
    let (status, body) = s.get("/api/jobs?limit=ten").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("limit"));
    let (status, body) = s.get("/api/jobs?kind=ftp").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("kind"));
    let (status, body) = s.get("/api/jobs?sort=age").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("sort"));
    let (status, body) = s.get("/api/jobs?colour=red").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("colour"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_records_history_and_stats() {
    let s = Server::start().await;
    let mut job = shell_job("greeter", "echo hello");
    job["id"] = json!("greeter");
    assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    let (status, started) = s.post("/api/jobs/greeter/run", json!(null)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();

    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let run = loop {
        let (status, run) = s.get(&format!("/api/runs/{run_id}")).await;
        if status == StatusCode::OK && run["state"] == "succeeded" {
            break run;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "run never finished: {run}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(run["stdout"], "hello\n");
    assert_eq!(run["job_id"], "greeter");
    assert_eq!(run["exit_code"], 0);

    let (status, runs) = s
        .get("/api/runs?job_id=greeter&state=succeeded,failed")
        .await;
    assert_eq!(status, StatusCode::OK);
    let items = runs["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert_eq!(items[0]["id"], run_id);
    assert!(items[0].get("stdout").is_none(), "lists leave output out");
    let (_, none) = s.get("/api/runs?state=failed").await;
    assert_eq!(none["items"], json!([]));
    let (status, body) = s.get("/api/runs?state=exploded").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("state"));
    let (status, body) = s.get("/api/runs?from=yesterday").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("from"));
    let (status, _) = s.get("/api/runs/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, body) = s.get("/api/runs/abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("id"));

    let (_, job) = s.get("/api/jobs/greeter").await;
    assert_eq!(job["last_run"]["state"], "succeeded");
    assert!(job["last_run"]["finished"].is_string());

    let (status, stats) = s.get("/api/stats/runs?bucket_s=600").await;
    assert_eq!(status, StatusCode::OK, "{stats}");
    let buckets = stats["buckets"].as_array().unwrap();
    assert!(buckets
        .iter()
        .any(|b| b["state"] == "succeeded" && b["count"] == 1));
    let (status, body) = s.get("/api/stats/runs?bucket_s=1").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("bucket_s"));
    let (status, durations) = s.get("/api/stats/durations?job_id=greeter").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(durations["items"][0]["job_id"], "greeter");
    assert_eq!(durations["items"][0]["count"], 1);

    let (status, samples) = s.get("/api/metrics/system?points=10").await;
    assert_eq!(status, StatusCode::OK);
    assert!(samples["items"].is_array());
    let (status, body) = s.get("/api/metrics/system?points=5001").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("points"));

    let (status, sched) = s.get("/api/scheduler").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(sched["running"], true);
    assert_eq!(sched["jobs"], 1);
    assert!(sched["stats"]["started"].as_u64().unwrap() >= 1);
    let (_, paused) = s.post("/api/scheduler/pause", json!(null)).await;
    assert_eq!(paused["paused"], true);
    let (_, resumed) = s.post("/api/scheduler/resume", json!(null)).await;
    assert_eq!(resumed["paused"], false);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_now_beyond_max_instances_is_a_conflict() {
    let s = Server::start().await;
    let mut job = shell_job("sleeper", "sleep 5");
    job["id"] = json!("sleeper");
    job["options"] = json!({"max_instances": 1});
    assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    assert_eq!(
        s.post("/api/jobs/sleeper/run", json!(null)).await.0,
        StatusCode::ACCEPTED
    );
    let (status, body) = s.post("/api/jobs/sleeper/run", json!(null)).await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    assert_error(&body, None);
    let (status, _) = s.post("/api/jobs/ghost/run", json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_by_hand_takes_parameters_and_records_them() {
    let s = Server::start().await;
    let mut job = shell_job("report", "echo \"$1/$2/$REGION\"");
    job["id"] = json!("report");
    assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    let params = json!({"env": {"REGION": "eu west"}, "args": ["2026", "12"]});
    let (status, started) = s
        .post("/api/jobs/report/run", json!({"params": params}))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{started}");
    let run_id = started["run_id"].as_i64().unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    let run = loop {
        let (_, run) = s.get(&format!("/api/runs/{run_id}")).await;
        if run["state"] == "succeeded" {
            break run;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(run["stdout"], "2026/12/eu west\n");
    assert_eq!(run["params"], params);
    assert!(run["usage"]["cpu_ms"].is_u64(), "{run}");
    assert!(run["usage"]["peak_rss_kib"].as_u64().unwrap() > 0, "{run}");

    // What the job cannot take, or a misspelt field, is named.
    let bad = [
        (json!({"params": {"body": "{}"}}), "params.body"),
        (json!({"params": {"env": {"A=B": "c"}}}), "params.env"),
        (json!({"params": {"args": "not a list"}}), "params.args"),
        (json!({"params": {"arguments": []}}), "params.arguments"),
        (json!({"parameters": {}}), "parameters"),
    ];
    for (body, field) in bad {
        let (status, answer) = s.post("/api/jobs/report/run", body.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}: {answer}");
        assert_error(&answer, Some(field));
    }
    let (_, runs) = s.get("/api/runs?job_id=report").await;
    assert_eq!(
        runs["items"].as_array().unwrap().len(),
        1,
        "refusals ran nothing"
    );
    // Lists stay small: a run's parameters are read with the run.
    assert_eq!(runs["items"][0]["params"], Value::Null, "{runs}");

    // A failed run's error comes with its code, in the list and the run.
    let mut job = shell_job("failer", "exit 3");
    job["id"] = json!("failer");
    assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    let (_, started) = s.post("/api/jobs/failer/run", json!(null)).await;
    let run_id = started["run_id"].as_i64().unwrap();
    let problem = json!({"code": "exited", "params": {"status": "3"}});
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let (_, run) = s.get(&format!("/api/runs/{run_id}")).await;
        if run["state"] == "failed" {
            assert_eq!(run["problem"], problem, "{run}");
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "{run}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let (_, runs) = s.get("/api/runs?job_id=failer").await;
    assert_eq!(runs["items"][0]["problem"], problem);
}

/// Checks a 413 JSON answer. The server answers without reading the body, so the client may
/// instead see the connection closed while it is still writing.
async fn assert_too_large(result: reqwest::Result<reqwest::Response>) {
    match result {
        Ok(resp) => {
            assert_eq!(resp.status(), StatusCode::PAYLOAD_TOO_LARGE);
            assert_eq!(resp.headers()["connection"], "close");
            let body: Value = resp.json().await.unwrap();
            assert_error(&body, None);
            assert_eq!(body["error"]["problem"]["code"], "too_large", "{body}");
        }
        Err(e) => assert!(e.is_request(), "{e}"),
    }
}

/// Reads an SSE response until `event: <name>` arrives; returns the event's data line.
async fn read_event(resp: &mut reqwest::Response, name: &str) -> Value {
    let mut text = String::new();
    let wait = async {
        loop {
            let chunk = resp.chunk().await.unwrap().expect("stream ended");
            text.push_str(&String::from_utf8_lossy(&chunk));
            let marker = format!("event: {name}\ndata: ");
            if let Some(at) = text.find(&marker) {
                let rest = &text[at + marker.len()..];
                if let Some(end) = rest.find('\n') {
                    return serde_json::from_str::<Value>(&rest[..end]).unwrap();
                }
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(10), wait)
        .await
        .unwrap_or_else(|_| panic!("no {name} event arrived"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_stream_over_sse() {
    let s = Server::start().await;
    // The token in the query, as a browser's EventSource sends it.
    let mut resp = s
        .http
        .get(format!(
            "{}/api/events?types=job_added,run_succeeded&token={TOKEN}",
            s.base
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));

    let mut job = shell_job("evented", "echo hello");
    job["id"] = json!("evented");
    assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    let added = read_event(&mut resp, "job_added").await;
    assert_eq!(added["type"], "job_added");
    assert_eq!(added["job_id"], "evented");
    assert!(added["at"].is_string());

    s.post("/api/jobs/evented/run", json!(null)).await;
    let done = read_event(&mut resp, "run_succeeded").await;
    assert_eq!(done["job_id"], "evented");

    let (status, body) = s.get("/api/events?types=job_exploded").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("types"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_needs_the_token() {
    let s = Server::start().await;
    let url = |p: &str| format!("{}{p}", s.base);
    let resp = s.http.get(url("/api/jobs")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_error(&resp.json().await.unwrap(), Some("Authorization"));
    let resp = s
        .http
        .get(url("/api/jobs"))
        .bearer_auth("wrong")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(resp.headers()["www-authenticate"], "Bearer");
    // `?token=` is only for the event stream.
    let resp = s
        .http
        .get(url(&format!("/api/jobs?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .http
        .get(url("/api/events?token=wrong"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let resp = s
        .http
        .get(url(&format!("/api/events?token={TOKEN}")))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    drop(resp);
    // Unknown API paths need the token too, then are JSON 404s.
    let resp = s.http.get(url("/api/nothing")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = s.get("/api/nothing").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_error(&body, None);
    let resp = s.http.get(url("/metrics")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);

    // Health and the API description are public.
    let resp = s.http.get(url("/healthz")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let health = resp.json::<Value>().await.unwrap();
    assert_eq!(health["status"], "ok");
    assert_eq!(health["clock_skew_ms"], 0);
    assert!(health["node"].as_str().is_some_and(|n| !n.is_empty()));
    let resp = s.http.get(url("/api/openapi.json")).send().await.unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn foreign_hosts_and_origins_are_refused() {
    let s = Server::start().await;
    let url = format!("{}/healthz", s.base);
    let resp = s
        .http
        .get(&url)
        .header("host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_error(&resp.json().await.unwrap(), Some("Host"));
    let port = s.host.rsplit(':').next().unwrap();
    let resp = s
        .http
        .get(&url)
        .header("host", format!("localhost:{port}"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);

    let resp = s
        .req(Method::POST, "/api/jobs")
        .header("origin", "http://evil.example")
        .json(&shell_job("csrf", "rm -rf ~"))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
    assert_error(&resp.json().await.unwrap(), Some("Origin"));
    let resp = s
        .req(Method::GET, "/api/jobs")
        .header("origin", format!("http://{}", s.host))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::OK);
    let (_, jobs) = s.get("/api/jobs").await;
    assert_eq!(jobs["total"], 0, "the forged request added nothing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_answered_with_the_field() {
    let s = Server::start().await;
    let send_raw = |path: &str, body: Vec<u8>| {
        s.req(Method::POST, path)
            .header("content-type", "application/json")
            .body(body)
            .send()
    };
    let resp = send_raw("/api/jobs", b"{\"name\": ".to_vec())
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_error(&body, None);
    assert_eq!(body["error"]["problem"]["code"], "malformed_json", "{body}");
    let resp = send_raw("/api/jobs", Vec::new()).await.unwrap();
    assert_eq!(resp.status(), StatusCode::BAD_REQUEST);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["error"]["problem"]["code"], "empty_body", "{body}");
    let (status, body) = s.get("/api/runs/999999").await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["problem"]["code"], "no_run", "{body}");

    let mut job = shell_job("bad cron", "true");
    job["trigger"]["expression"] = json!("60 * * * *");
    let (status, body) = s.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["field"]
        .as_str()
        .unwrap()
        .starts_with("trigger"));
    assert!(
        body["error"]["message"].as_str().unwrap().contains("60"),
        "{body}"
    );

    let mut job = shell_job("unknown field", "true");
    job["colour"] = json!("red");
    let (status, body) = s.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("colour"));
    let mut job = shell_job("bad option", "true");
    job["options"] = json!({"max_instances": "many"});
    let (status, body) = s.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("options.max_instances"));
    let (status, body) = s
        .post(
            "/api/jobs",
            json!({"trigger": {"type": "cron", "expression": "* * * * *"}}),
        )
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("name"));
    let (status, body) = s.post("/api/jobs", shell_job(" ", "true")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("name"));
    let (status, body) = s.post("/api/jobs", shell_job("empty command", "")).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("action.command"));

    let preview = |body: Value| s.post("/api/cron/preview", body);
    let (status, body) = preview(json!({"expression": "60 * * * *"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("expression"));
    // The message's code and parameters, for a UI to say in its own language.
    assert_eq!(
        body["error"]["problem"],
        json!({"code": "cron_out_of_range",
               "params": {"part": "minute", "value": "60", "min": "0", "max": "59"}}),
        "{body}"
    );
    let (status, body) =
        preview(json!({"expression": "0 9 * * *", "timezone": "Mars/Olympus"})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("timezone"));
    let (status, body) = preview(json!({"expression": "0 9 * * *", "count": 0})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("count"));
    let (status, body) = preview(json!({
        "expression": "0 9 * * *", "timezone": "Europe/London", "count": 3,
        "after": "2026-03-28T12:00:00Z",
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["times"],
        json!([
            "2026-03-29T09:00:00+01:00",
            "2026-03-30T09:00:00+01:00",
            "2026-03-31T09:00:00+01:00"
        ])
    );

    // Any trigger: the editor checks what is typed, with the bad field's path.
    let preview = |body: Value| s.post("/api/triggers/preview", body);
    let (status, body) = preview(json!({"trigger": {"type": "interval", "seconds": 0}})).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, Some("trigger.seconds"));
    let (status, body) = preview(json!({"trigger": {"type": "interval", "minutes": 90,
        "timezone": "Mars/Olympus"}}))
    .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, Some("trigger.timezone"));
    let (status, body) = preview(json!({
        "trigger": {"type": "calendar_interval", "every": 1, "unit": "months",
            "start_date": "2026-01-31", "time": "09:00:00", "timezone": "America/New_York"},
        "count": 3, "after": "2026-01-01T00:00:00Z",
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(
        body["times"],
        json!([
            "2026-01-31T09:00:00-05:00",
            "2026-03-31T09:00:00-04:00",
            "2026-05-31T09:00:00-04:00"
        ]),
        "months without a 31st are skipped, DST moves the offset"
    );
    assert_eq!(body["timezone"], "America/New_York");
    assert!(body["summary"]
        .as_str()
        .unwrap()
        .starts_with("every 1 months"));
    let (status, body) = preview(json!({
        "trigger": {"type": "date", "at": "2026-01-01T09:00:00Z"},
        "after": "2026-06-01T00:00:00Z",
    }))
    .await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["times"], json!([]), "a past date fires no more");

    // 1 MiB is the limit for ordinary bodies.
    let mut big = shell_job("big", "true");
    big["description"] = json!("x".repeat(1 << 20));
    assert_too_large(send_raw("/api/jobs", serde_json::to_vec(&big).unwrap()).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn export_then_import_round_trips() {
    let a = Server::start().await;
    for (id, name) in [("one", "First"), ("two", "Second"), ("three", "Third")] {
        let mut job = shell_job(name, "echo hello");
        job["id"] = json!(id);
        job["tags"] = json!(["moved"]);
        assert_eq!(a.post("/api/jobs", job).await.0, StatusCode::CREATED);
    }
    let (status, export) = a.get("/api/export").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(export["version"], 1);
    assert_eq!(export["jobs"].as_array().unwrap().len(), 3);

    let b = Server::start().await;
    let (status, body) = b.post("/api/import", export.clone()).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body, json!({"imported": 3}));
    let (_, again) = b.get("/api/export").await;
    assert_eq!(again, export);

    // All or none: a clash names the job, and nothing is added.
    let (status, body) = b.post("/api/import", export.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("jobs[0].id"));
    let c = Server::start().await;
    let mut twice = export.clone();
    twice["jobs"][2]["id"] = json!("one");
    let (status, body) = c.post("/api/import", twice).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("jobs[2].id"));
    let mut bad = export.clone();
    bad["jobs"][1]["trigger"]["expression"] = json!("61 * * * *");
    let (status, body) = c.post("/api/import", bad).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(body["error"]["field"]
        .as_str()
        .unwrap()
        .starts_with("jobs[1].trigger"));
    let (status, body) = c
        .post("/api/import", json!({"version": 2, "jobs": []}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("version"));
    let (_, jobs) = c.get("/api/jobs").await;
    assert_eq!(jobs["total"], 0);

    // Imports may be larger than other bodies (16 MiB).
    let mut big = export.clone();
    big["jobs"][0]["description"] = json!("x".repeat(2 << 20));
    let (status, body) = c.post("/api/import", big).await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let mut huge = export;
    huge["jobs"][0]["description"] = json!("x".repeat(17 << 20));
    assert_too_large(c.req(Method::POST, "/api/import").json(&huge).send().await).await;
    let (_, jobs) = c.get("/api/jobs").await;
    assert_eq!(jobs["total"], 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn settings_read_and_write() {
    let s = Server::start().await;
    let (status, mut settings) = s.get("/api/settings").await;
    assert_eq!(status, StatusCode::OK);
    assert!(settings["pools"]["default"].is_u64());
    settings["pools"]["slow"] = json!(2);
    settings["defaults"]["max_instances"] = json!(3);
    let (status, saved) = s
        .call(Method::PUT, "/api/settings", Some(settings.clone()))
        .await;
    assert_eq!(status, StatusCode::OK, "{saved}");
    assert_eq!(saved, settings);
    assert_eq!(s.get("/api/settings").await.1, settings);

    let mut bad = settings.clone();
    bad["pools"]["slow"] = json!(0);
    let (status, body) = s.call(Method::PUT, "/api/settings", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("pools.slow"));
    let mut bad = settings.clone();
    bad["defaults"]["coalesce"] = json!("sometimes");
    let (status, body) = s.call(Method::PUT, "/api/settings", Some(bad)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("defaults.coalesce"));
    assert_eq!(
        s.get("/api/settings").await.1,
        settings,
        "nothing half-applied"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prometheus_metrics_have_the_expected_names() {
    let s = Server::start().await;
    s.post("/api/jobs", shell_job("m", "true")).await;
    let text = s
        .req(Method::GET, "/metrics")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    for needle in [
        "kairos_jobs 1",
        "kairos_jobs_paused 0",
        "kairos_runs{state=\"succeeded\"} 0",
        "kairos_active_runs 0",
        "kairos_runs_started_total 0",
        "# TYPE kairos_run_start_lateness_seconds histogram",
        "kairos_run_start_lateness_seconds_bucket{le=\"0.001\"} 0",
        "kairos_run_start_lateness_seconds_bucket{le=\"+Inf\"} 0",
        "kairos_run_start_lateness_seconds_count 0",
        "kairos_run_start_lateness_seconds_sum 0",
    ] {
        assert!(text.contains(needle), "no '{needle}' in:\n{text}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn openapi_lists_the_paths() {
    let s = Server::start().await;
    let doc: Value = s
        .http
        .get(format!("{}/api/openapi.json", s.base))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/healthz",
        "/metrics",
        "/api/jobs",
        "/api/jobs/{id}",
        "/api/jobs/{id}/run",
        "/api/jobs/{id}/resume",
        "/api/runs",
        "/api/runs/{id}",
        "/api/stats/runs",
        "/api/stats/durations",
        "/api/metrics/system",
        "/api/cron/preview",
        "/api/triggers/preview",
        "/api/settings",
        "/api/export",
        "/api/import",
        "/api/events",
        "/api/scheduler",
    ] {
        assert!(paths.contains_key(path), "{path} missing");
    }
    assert!(paths["/api/jobs/{id}"]["delete"].is_object());
}

/// The desktop app calls the same router in-process, without a socket.
#[tokio::test]
async fn the_router_answers_in_process() {
    use tower::ServiceExt;
    let scheduler = Scheduler::new(Arc::new(MemoryStore::new()));
    let app = router(
        scheduler,
        ServerConfig {
            token: TOKEN.into(),
            allowed_hosts: vec!["kairos.localhost".into()],
            database: FixedDatabase::new(
                std::path::Path::new("kairos.db"),
                DatabaseSource::Default,
                std::path::Path::new("kairos.db"),
            ),
        },
    );
    let request = axum::http::Request::get("/api/jobs")
        .header("host", "kairos.localhost")
        .header("authorization", format!("Bearer {TOKEN}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 200);
    let body = axum::body::to_bytes(response.into_body(), 1 << 20)
        .await
        .unwrap();
    let value: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(value, json!({"items": [], "total": 0}));
}

/// The web admin is served to anyone at `/` and at its own routes; the API still needs the token.
#[tokio::test]
async fn the_ui_is_served_without_the_token() {
    let s = Server::start().await;
    for path in ["/", "/jobs/some-job", "/settings"] {
        let resp = s
            .http
            .get(format!("{}{path}", s.base))
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK, "{path}");
        let csp = resp.headers()["content-security-policy"]
            .to_str()
            .unwrap()
            .to_string();
        assert!(csp.contains("script-src 'self'"), "{csp}");
        let body = resp.text().await.unwrap();
        assert!(body.contains("<title>Kairos"), "{path}: {body}");
    }
    let resp = s
        .http
        .get(format!("{}/no-such-file.js", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::NOT_FOUND);
    let resp = s
        .http
        .get(format!("{}/api/jobs", s.base))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::UNAUTHORIZED);
    let (status, body) = s.call(Method::GET, "/api/no-such-route", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"]["message"], "no such route");
    // A forged Host is refused even for the UI.
    let resp = s
        .http
        .get(format!("{}/", s.base))
        .header("host", "evil.example:80")
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status(), StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nodes_list_this_process_and_runs_name_their_node() {
    let s = Server::start().await;
    let (status, body) = s.get("/api/nodes").await;
    assert_eq!(status, StatusCode::OK, "{body}");
    let items = body["items"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{body}");
    let me = &items[0];
    assert_eq!(me["state"], "alive");
    assert_eq!(me["this"], true);
    assert_eq!(me["pid"], std::process::id());
    assert_eq!(me["running"], 0);
    assert_eq!(body["lease_s"], 8);
    assert_eq!(body["heartbeat_s"], 2);
    let node = me["id"].as_str().unwrap().to_string();

    let job = json!({"name": "n", "trigger": {"type": "interval", "hours": 1},
                     "action": {"kind": "shell", "command": "true"}});
    let (status, created) = s.post("/api/jobs", job).await;
    assert_eq!(status, StatusCode::CREATED, "{created}");
    let id = created["id"].as_str().unwrap();
    let (status, ran) = s.post(&format!("/api/jobs/{id}/run"), json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{ran}");
    let run_id = ran["run_id"].as_i64().unwrap();
    // The run row is committed before the answer.
    let (status, run) = s.get(&format!("/api/runs/{run_id}")).await;
    assert_eq!(status, StatusCode::OK, "{run}");
    assert_eq!(run["node"], node.as_str());
    assert_eq!(run["manual"], true);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_fields_are_named_by_their_path_everywhere() {
    let s = Server::start().await;
    let with = |path: &str, value: Value| {
        let mut job = shell_job("j", "true");
        let mut at = &mut job;
        let parts: Vec<&str> = path.split('.').collect();
        for part in &parts[..parts.len() - 1] {
            if at.get(*part).is_none() {
                at[*part] = json!({});
            }
            at = &mut at[*part];
        }
        at[parts[parts.len() - 1]] = value;
        job
    };
    for (job, field) in [
        (
            with("trigger", json!({"type": "interval", "seconds": 0})),
            "trigger.seconds",
        ),
        (
            with(
                "trigger",
                json!({"type": "cron", "expression": "61 * * * *"}),
            ),
            "trigger.expression",
        ),
        (
            with(
                "trigger",
                json!({"type": "cron", "expression": "* * * * *", "timezone": "Mars/Base"}),
            ),
            "trigger.timezone",
        ),
        (
            with("options.max_instances", json!(0)),
            "options.max_instances",
        ),
        (
            with("options.retries", json!({"count": 1, "backoff_s": -1})),
            "options.retries.backoff_s",
        ),
        (
            with("action.output_cap_bytes", json!(1u64 << 40)),
            "action.output_cap_bytes",
        ),
        (with("action.command", json!(" ")), "action.command"),
    ] {
        let (status, body) = s.post("/api/jobs", job).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{field}: {body}");
        assert_error(&body, Some(field));
    }
    let mut doc = json!({"version": 1, "jobs": [shell_job("a", "true"), shell_job("b", "true"), shell_job("c", "true"), shell_job("d", "true")]});
    doc["jobs"][3]["trigger"]["expression"] = json!("0 0 31 2 *");
    let (status, body) = s.post("/api/import", doc).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, Some("jobs[3].trigger.expression"));
    assert_eq!(body["error"]["problem"]["code"], "cron_never", "{body}");
    let (status, body) = s
        .post("/api/import", json!({"version": 2, "jobs": []}))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("version"));

    let mut settings = s.get("/api/settings").await.1;
    settings["defaults"]["retries"]["factor"] = json!(0.5);
    let (status, body) = s.call(Method::PUT, "/api/settings", Some(settings)).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, Some("defaults.retries.factor"));

    // Query strings: unknown parameters and bad values are named too; none reaches a 500.
    for (path, field) in [
        ("/api/jobs?color=red", "color"),
        ("/api/jobs?kind=cobol", "kind"),
        ("/api/jobs?sort=size", "sort"),
        ("/api/jobs?offset=-1", "offset"),
    ] {
        let (status, body) = s.get(path).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}: {body}");
        assert_error(&body, Some(field));
    }
    let (status, body) = s.get("/api/jobs?limit=1001").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("limit"));
    let (status, body) = s.get("/api/stats/runs?bucket_s=9223372036854775807").await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_error(&body, Some("bucket_s"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn job_lists_filter_in_the_store_and_counts_come_in_one_call() {
    let s = Server::start().await;
    for (name, paused) in [("Backup", false), ("alpha", true), ("zeta", false)] {
        let mut job = shell_job(name, "true");
        job["paused"] = json!(paused);
        job["tags"] = json!([name.to_lowercase()]);
        assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    }
    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|j| j["name"].as_str().unwrap().to_string())
            .collect()
    };
    let (_, all) = s.get("/api/jobs?sort=-name&q=&limit=2").await;
    assert_eq!(names(&all), ["zeta", "Backup"]);
    assert_eq!(all["total"], 3);
    let (_, found) = s.get("/api/jobs?q=KUP").await;
    assert_eq!(names(&found), ["Backup"]);
    let (_, paused) = s.get("/api/jobs?paused=true&kind=shell").await;
    assert_eq!(names(&paused), ["alpha"]);
    let (_, tagged) = s.get("/api/jobs?tag=ZETA").await;
    assert_eq!(names(&tagged), ["zeta"]);
    let (_, first) = s.get("/api/jobs?limit=2").await;
    assert_eq!(names(&first), ["alpha", "Backup"]);
    let next = first["next"].as_str().expect("a cursor to the next page");
    let (_, rest) = s.get(&format!("/api/jobs?limit=2&after={next}")).await;
    assert_eq!(names(&rest), ["zeta"]);
    assert_eq!(rest.get("next"), None, "the last page has no cursor");
    let (status, body) = s.get("/api/jobs?after=zz").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_error(&body, Some("after"));
    let (status, body) = s.get(&format!("/api/jobs?sort=-name&after={next}")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "a cursor of another order");
    assert_error(&body, Some("after"));
    let (status, counts) = s.get("/api/stats/jobs").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        counts,
        json!({"total": 3, "paused": 1, "monitors": 0, "failing": 0})
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tag_is_a_group_paused_and_resumed_as_one() {
    let s = Server::start().await;
    for (name, tags) in [
        ("db dump", json!(["ops", "backup"])),
        ("logs", json!(["Ops"])),
        ("web", json!([])),
    ] {
        let mut job = shell_job(name, "true");
        job["tags"] = tags;
        assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);
    }
    let (status, tags) = s.get("/api/tags").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        tags["items"],
        json!([{"tag": "backup", "jobs": 1, "paused": 0}, {"tag": "Ops", "jobs": 2, "paused": 0}])
    );
    let (status, paused) = s.post("/api/tags/ops/pause", json!({})).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(paused, json!({"tag": "ops", "changed": 2}));
    let (_, listed) = s.get("/api/jobs?paused=true").await;
    assert_eq!(listed["total"], 2);
    let (_, tags) = s.get("/api/tags").await;
    assert_eq!(tags["items"][1]["paused"], 2);
    // Resuming the smaller group leaves the rest of the bigger one paused.
    let (_, resumed) = s.post("/api/tags/BACKUP/resume", json!({})).await;
    assert_eq!(resumed["changed"], 1);
    let (_, listed) = s.get("/api/jobs?paused=true").await;
    assert_eq!(listed["items"][0]["name"], "logs");
    let (_, none) = s.post("/api/tags/nothing/pause", json!({})).await;
    assert_eq!(none["changed"], 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_workflow_over_http_checks_its_graph_runs_its_steps_and_retries_one() {
    let s = Server::start().await;
    let dir = tempfile::tempdir().unwrap();
    let flag = dir.path().join("exit-code");
    std::fs::write(&flag, "3").unwrap();
    let step = |id: &str, command: String| json!({"id": id, "action": {"kind": "shell", "command": command}});
    let mut job = shell_job("etl", "true");
    job["id"] = json!("etl");
    job["action"] = json!({
        "kind": "workflow",
        "steps": [
            step("extract", "echo extracted".into()),
            step("load", format!("exit $(cat {})", flag.display())),
        ],
        "edges": [{"from": "extract", "to": "load"}, {"from": "load", "to": "extract"}],
    });
    let (status, body) = s.post("/api/jobs", job.clone()).await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&body, Some("action.edges"));
    assert!(body["error"]["message"]
        .as_str()
        .unwrap()
        .contains("extract → load → extract"));
    job["action"]["edges"] = json!([{"from": "extract", "to": "load"}]);
    assert_eq!(s.post("/api/jobs", job).await.0, StatusCode::CREATED);

    let (_, started) = s.post("/api/jobs/etl/run", json!(null)).await;
    let workflow = started["run_id"].as_i64().unwrap();
    let ended = |state: &'static str| {
        let s = &s;
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
            loop {
                let (_, run) = s.get(&format!("/api/runs/{workflow}")).await;
                if run["state"] == state {
                    return run;
                }
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "never {state}: {run}"
                );
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        }
    };
    assert_eq!(ended("failed").await["error"], "step 'load' failed");
    let (_, steps) = s.get(&format!("/api/runs?upstream={workflow}")).await;
    let steps = steps["items"].as_array().unwrap().clone();
    let names: Vec<_> = steps
        .iter()
        .map(|r| (r["step"].clone(), r["state"].clone()))
        .collect();
    assert_eq!(
        names,
        [
            (json!("load"), json!("failed")),
            (json!("extract"), json!("succeeded"))
        ]
    );

    // Only a step's run can be retried, and only its newest.
    let (status, body) = s
        .post(&format!("/api/runs/{workflow}/retry"), json!(null))
        .await;
    assert_eq!(status, StatusCode::CONFLICT, "{body}");
    let (status, _) = s.post("/api/runs/999999/retry", json!(null)).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    std::fs::write(&flag, "0").unwrap();
    let load = steps[0]["id"].as_i64().unwrap();
    let (status, again) = s
        .post(&format!("/api/runs/{load}/retry"), json!(null))
        .await;
    assert_eq!(status, StatusCode::ACCEPTED, "{again}");
    assert_eq!(again["id"], workflow);
    ended("succeeded").await;
    let (_, steps) = s.get(&format!("/api/runs?upstream={workflow}")).await;
    assert_eq!(
        steps["items"].as_array().unwrap().len(),
        3,
        "extract ran once"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_keeps_its_database() {
    let s = Server::start().await;
    let (status, info) = s.get("/api/database").await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["location"], "/srv/kairos.db");
    assert_eq!(info["kind"], "sqlite");
    assert_eq!(info["source"], "command_line");
    assert_eq!(info["changeable"], false);
    let (status, body) = s
        .call(
            Method::PUT,
            "/api/database",
            Some(json!({"location": "/tmp/x.db"})),
        )
        .await;
    assert_eq!(status, StatusCode::CONFLICT);
    assert_error(&body, Some("location"));
    assert!(body["error"]["message"].as_str().unwrap().contains("--db"));
    let (status, _) = s.post("/api/database/restart", json!({})).await;
    assert_eq!(status, StatusCode::CONFLICT);
}

/// A host that may switch databases, as the desktop app is: it keeps the choice in memory.
#[derive(Debug, Default)]
struct Switchable {
    next: std::sync::Mutex<Option<std::path::PathBuf>>,
    restarts: std::sync::atomic::AtomicUsize,
}

impl DatabaseHost for Switchable {
    fn info(&self) -> DatabaseInfo {
        DatabaseInfo {
            location: "/d/kairos.db".into(),
            kind: DatabaseKind::Sqlite,
            source: DatabaseSource::Default,
            default_location: "/d/kairos.db".into(),
            changeable: true,
            next: self
                .next
                .lock()
                .unwrap()
                .as_ref()
                .map(|p| p.display().to_string()),
            problem: None,
            problem_code: None,
        }
    }

    fn keep(&self, location: Option<&std::path::Path>) -> Result<(), String> {
        *self.next.lock().unwrap() = location.map(Into::into);
        Ok(())
    }

    fn restart(&self) -> Result<(), String> {
        self.restarts
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Ok(())
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_desktop_chooses_a_database_that_opens() {
    let host = Arc::new(Switchable::default());
    let s = Server::with_database(host.clone()).await;
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("new/jobs.db");
    let put = |location: Value| {
        s.call(
            Method::PUT,
            "/api/database",
            Some(json!({"location": location})),
        )
    };

    let (status, info) = put(json!(file)).await;
    assert_eq!(status, StatusCode::OK, "{info}");
    assert_eq!(info["next"], json!(file));
    assert!(
        file.exists(),
        "the file was created and migrated before it was kept"
    );

    for (bad, code) in [
        (json!("relative.db"), "database_not_absolute"),
        (json!(dir.path()), "database_is_folder"),
        (json!("mysql://h/db"), "database_scheme"),
        (
            json!("postgres://u:s3cret@127.0.0.1:1/none"),
            "database_open_failed",
        ),
        (json!("/tmp/a\0b"), "has_nul"),
        (json!(42), "invalid_type"),
    ] {
        let (status, body) = put(bad.clone()).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{bad}: {body}");
        assert_error(&body, Some("location"));
        assert_eq!(body["error"]["problem"]["code"], code, "{bad}: {body}");
        assert!(
            !body.to_string().contains("s3cret"),
            "the password is masked: {body}"
        );
        assert_eq!(
            host.info().next,
            Some(file.display().to_string()),
            "{bad} left the last good choice alone"
        );
    }
    let (status, body) = s
        .call(Method::PUT, "/api/database", Some(json!({"path": "/x.db"})))
        .await;
    assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{body}");
    assert_eq!(body["error"]["problem"]["code"], "unknown_field", "{body}");

    let (status, info) = put(Value::Null).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(info["next"], Value::Null, "null chooses the default");

    let (status, _) = s.post("/api/database/restart", json!({})).await;
    assert_eq!(status, StatusCode::ACCEPTED);
    assert_eq!(host.restarts.load(std::sync::atomic::Ordering::SeqCst), 1);
}
