//! A web service that owns a scheduler: `POST /jobs` adds a shell job, `GET /jobs` lists them.
//! The Rust counterpart of running APScheduler inside Flask or FastAPI.
//!
//! `cargo run -p kairos-core --example web_service` then
//! `curl -d '{"id":"hello","every_s":5,"command":"echo hello"}' -H 'content-type: application/json' localhost:8089/jobs`
//! and `curl localhost:8089/jobs`.

mod support;

use std::time::Duration;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use kairos_core::prelude::*;
use serde::{Deserialize, Serialize};

/// What `POST /jobs` takes.
#[derive(Deserialize)]
struct NewJob {
    id: String,
    every_s: u64,
    command: String,
}

/// What `GET /jobs` lists.
#[derive(Serialize)]
struct JobSummary {
    id: String,
    schedule: String,
    next_run: Option<String>,
}

async fn add_job(
    State(scheduler): State<Scheduler>,
    Json(new): Json<NewJob>,
) -> Result<(StatusCode, Json<JobSummary>), (StatusCode, String)> {
    let job = Job::every(Duration::from_secs(new.every_s))
        .id(&new.id)
        .shell(&new.command);
    match scheduler.add(job) {
        Ok(job) => Ok((StatusCode::CREATED, Json(summary(&job)))),
        Err(kairos_core::Error::Invalid { field, message }) => {
            Err((StatusCode::BAD_REQUEST, format!("{field}: {message}")))
        }
        Err(e) => Err((StatusCode::INTERNAL_SERVER_ERROR, e.to_string())),
    }
}

async fn list_jobs(
    State(scheduler): State<Scheduler>,
) -> Result<Json<Vec<JobSummary>>, (StatusCode, String)> {
    let jobs = scheduler
        .list_jobs()
        .map_err(|e| (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()))?;
    Ok(Json(jobs.iter().map(summary).collect()))
}

fn summary(job: &Job) -> JobSummary {
    JobSummary {
        id: job.id.clone(),
        schedule: job.trigger.summary(),
        next_run: job.next_run.map(|t| t.to_rfc3339()),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let signal = kairos_core::scheduler::stop_signal();
    let scheduler = Scheduler::builder().build()?;
    scheduler.start()?;

    let app = Router::new()
        .route("/jobs", get(list_jobs).post(add_job))
        .with_state(scheduler.clone());
    let addr = std::env::var("KAIROS_EXAMPLE_ADDR").unwrap_or_else(|_| "127.0.0.1:8089".into());
    let listener = tokio::net::TcpListener::bind(&addr).await?;
    println!("listening on http://{addr}");
    axum::serve(listener, app)
        .with_graceful_shutdown(async {
            tokio::select! {
                _ = support::stop() => {}
                _ = signal => {}
            }
        })
        .await?;

    scheduler.shutdown(Duration::from_secs(10)).await;
    println!("shut down");
    Ok(())
}
