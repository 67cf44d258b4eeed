//! The OpenAPI document, generated from the handlers' `#[utoipa::path]` annotations.

use utoipa::openapi::schema::{AdditionalProperties, Schema};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, Response, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use crate::api::{channels, database, events, jobs, nodes, prom, runs, system, tags};
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
        tags::list_tags,
        tags::pause_tag,
        tags::resume_tag,
        system::scheduler_status,
        nodes::list_nodes,
        system::pause_scheduler,
        system::resume_scheduler,
        system::get_settings,
        system::put_settings,
        database::get_database,
        database::put_database,
        database::restart_on_database,
        system::export_jobs,
        system::import_jobs,
        system::cron_preview,
        system::trigger_preview,
        runs::list_runs,
        runs::get_run,
        runs::cancel_run,
        runs::retry_step,
        channels::list_channels,
        channels::create_channel,
        channels::update_channel,
        channels::delete_channel,
        channels::test_channel,
        channels::list_deliveries,
        runs::run_stats,
        runs::duration_stats,
        runs::system_metrics,
        events::events,
    ),
    components(schemas(ErrorBody, ErrorDetail, Envelope, JobSort)),
    modifiers(&Contract),
    tags(
        (name = "jobs", description = "Job definitions and their runs"),
        (name = "runs", description = "Run history, aggregates and system metrics"),
        (name = "scheduler", description = "The scheduler as a whole"),
        (name = "events", description = "Live events"),
        (name = "alerts", description = "Alert channels and their deliveries"),
        (name = "system", description = "Health and Prometheus metrics"),
    )
)]
pub(crate) struct ApiDoc;

/// What every path shares, added to the derived document: the bearer-token scheme, the 401
/// of every guarded operation, and objects that stay open to the tags (`type`, `kind`) and
/// view fields combined with them through `allOf`.
struct Contract;

impl Modify for Contract {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        // A struct denying unknown fields becomes `additionalProperties: false`, which inside
        // an `allOf` would also forbid the fields the other members add. The server still
        // refuses unknown fields (422 naming the field).
        for schema in components.schemas.values_mut() {
            if let RefOr::T(Schema::Object(object)) = schema {
                if matches!(
                    object.additional_properties.as_deref(),
                    Some(AdditionalProperties::FreeForm(false))
                ) {
                    object.additional_properties = None;
                }
            }
        }
        let unauthorized: RefOr<Response> = ResponseBuilder::new()
            .description("No token, or a wrong one")
            .content(
                "application/json",
                Content::new(Some(Ref::from_schema_name("ErrorBody"))),
            )
            .build()
            .into();
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
            ];
            for operation in operations.into_iter().flatten() {
                if operation.security.as_ref().is_some_and(|s| !s.is_empty()) {
                    operation
                        .responses
                        .responses
                        .entry("401".into())
                        .or_insert_with(|| unauthorized.clone());
                }
            }
        }
    }
}

/// The API's OpenAPI document as pretty JSON.
pub fn json() -> String {
    ApiDoc::openapi()
        .to_pretty_json()
        .unwrap_or_else(|e| format!("{{\"error\":\"{e}\"}}"))
}
