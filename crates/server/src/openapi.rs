//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::api::{events, jobs, nodes, prom, runs, system};
use kairos_core::events::Envelope;
use kairos_core::query::JobSort;

use crate::error::{ErrorBody, ErrorDetail};

/// The API description served at `/api/openapi.json`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Kairos API",
        description = "The Kairos job scheduler's HTTP API. Every error is \
            `{\"error\":{\"field\":…,\"message\":…}}`. Instants are RFC 3339 UTC."
    ),
    paths(
        prom::healthz,
        prom::metrics,
        jobs::list_jobs,
        jobs::create_job,
        jobs::get_job,
        jobs::update_job,
        jobs::delete_job,
        jobs::pause_job,
        jobs::resume_job,
        jobs::run_job,
        jobs::job_counts,
        system::scheduler_status,
        nodes::list_nodes,
        system::pause_scheduler,
        system::resume_scheduler,
        system::get_settings,
        system::put_settings,
        system::export_jobs,
        system::import_jobs,
        system::cron_preview,
        runs::list_runs,
        runs::get_run,
        runs::run_stats,
        runs::duration_stats,
        runs::system_metrics,
        events::events,
    ),
    components(schemas(ErrorBody, ErrorDetail, Envelope, JobSort)),
    modifiers(&BearerAuth),
    tags(
        (name = "jobs", description = "Job definitions and their runs"),
        (name = "runs", description = "Run history, aggregates and system metrics"),
        (name = "scheduler", description = "The scheduler as a whole"),
        (name = "events", description = "Live events"),
        (name = "system", description = "Health and Prometheus metrics"),
    )
)]
pub(crate) struct ApiDoc;

/// Declares the bearer-token scheme the paths refer to.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The API's OpenAPI document as pretty JSON.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
