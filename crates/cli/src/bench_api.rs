//! `kairos bench api`: the job list API, timed in-process over a fresh store of N jobs with a
//! run each.

use std::sync::Arc;
use std::time::Instant;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use chrono::Utc;
use kairos_core::history::{RunRecord, RunState};
use kairos_core::scheduler::Scheduler;
use kairos_core::store::{Claim, JobStore};
use kairos_core::trigger::{IntervalSpec, IntervalTrigger, Trigger};
use kairos_server::ServerConfig;
use serde_json::{json, Value};
use tower::ServiceExt;

use crate::bench::{noop_job, round};

/// Jobs added (and runs claimed) per batch while filling the store.
const BATCH: usize = 10_000;
/// How many times each request is timed; the median is reported.
const REPEAT: usize = 7;
/// The `Host` the in-process requests name.
const HOST: &str = "bench.invalid:1";
/// The bearer token of the in-process API.
const TOKEN: &str = "bench";

/// Fills `store` with `jobs` jobs (mixed kinds, tags, paused and failing ones) and one run
/// each, then times the first page, a text search, a filter, a deep page and the counts (and
/// the slowest page and a common search).
pub async fn api(store: Arc<dyn JobStore>, jobs: usize) -> Result<Value, String> {
    let scheduler = Scheduler::new(store.clone());
    let hourly = Trigger::Interval(
        IntervalTrigger::new(IntervalSpec {
            hours: 1,
            ..Default::default()
        })
        .map_err(|e| e.to_string())?,
    );
    let fill = Instant::now();
    let node: kairos_core::history::ThinStr = "bench".into();
    for start in (0..jobs).step_by(BATCH) {
        let end = (start + BATCH).min(jobs);
        let specs: Vec<_> = (start..end)
            .map(|i| varied_job(i, hourly.clone()))
            .collect();
        scheduler.add_jobs(specs).map_err(|e| e.to_string())?;
        let now = Utc::now();
        let claims = (start..end)
            .map(|i| {
                let id = noop_job(i, hourly.clone()).id;
                let state = if i % 11 == 0 {
                    RunState::Failed
                } else {
                    RunState::Succeeded
                };
                let run = RunRecord::new(0, &id, now, state);
                Claim::insert(&id, vec![run], u32::MAX)
            })
            .collect();
        store.claim(&node, now, claims).map_err(|e| e.to_string())?;
    }
    store.flush().map_err(|e| e.to_string())?;
    let fill_s = fill.elapsed().as_secs_f64();
    let app = kairos_server::router(
        scheduler,
        ServerConfig {
            token: TOKEN.into(),
            allowed_hosts: vec![HOST.into()],
            database: kairos_server::FixedDatabase::new(
                std::path::Path::new("kairos.db"),
                kairos_server::DatabaseSource::Default,
                std::path::Path::new("kairos.db"),
            ),
        },
    );
    let deep = jobs.saturating_sub(100);
    let mut figures = json!({"jobs": jobs, "fill_s": round(fill_s)});
    for (name, uri) in [
        ("first_page_ms", "/api/jobs?limit=100".to_string()),
        (
            "search_ms",
            format!("/api/jobs?q=bench%20job%20{}&limit=100", jobs / 2),
        ),
        (
            "filter_ms",
            "/api/jobs?kind=shell&paused=false&limit=100".into(),
        ),
        ("deep_page_ms", format!("/api/jobs?offset={deep}&limit=100")),
        // The worst offset (pages past the middle are read from the end) and a text that
        // a fifth of the jobs match.
        (
            "middle_page_ms",
            format!("/api/jobs?offset={}&limit=100", jobs / 2),
        ),
        ("common_search_ms", "/api/jobs?q=team-1&limit=100".into()),
        ("counts_ms", "/api/stats/jobs".into()),
    ] {
        figures[name] = json!(round(median_ms(&app, &uri).await?));
    }
    Ok(figures)
}

/// A bench job with a kind, a tag and a paused state that vary with `i`.
fn varied_job(i: usize, trigger: Trigger) -> kairos_core::job::Job {
    let mut job = noop_job(i, trigger);
    job.tags = vec![format!("team-{}", i % 50)];
    job.paused = i % 7 == 0;
    if i % 3 == 0 {
        job.action = serde_json::from_value(json!({"kind": "shell", "command": "true"}))
            .expect("a shell action");
    }
    job
}

/// The median time of [`REPEAT`] calls of `GET uri`, in milliseconds.
async fn median_ms(app: &axum::Router, uri: &str) -> Result<f64, String> {
    let mut times = Vec::with_capacity(REPEAT);
    for _ in 0..REPEAT {
        let request = Request::get(uri)
            .header(header::HOST, HOST)
            .header(header::AUTHORIZATION, format!("Bearer {TOKEN}"))
            .body(Body::empty())
            .map_err(|e| e.to_string())?;
        let started = Instant::now();
        let response = app
            .clone()
            .oneshot(request)
            .await
            .map_err(|e| e.to_string())?;
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .map_err(|e| e.to_string())?;
        times.push(started.elapsed().as_secs_f64() * 1000.0);
        if status != StatusCode::OK {
            return Err(format!(
                "GET {uri}: {status}: {}",
                String::from_utf8_lossy(&body)
            ));
        }
    }
    times.sort_by(f64::total_cmp);
    Ok(times[REPEAT / 2])
}
