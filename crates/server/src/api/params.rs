//! The query parameters of the API's GET routes, as typed structs: the `Query` extractor reads
//! them (an unknown or malformed parameter is a 400 naming it) and the OpenAPI document
//! describes them from the same definitions.

use chrono::{DateTime, Duration, Utc};
use kairos_core::history::RunState;
use serde::{Deserialize, Deserializer};
use utoipa::IntoParams;

use crate::error::{ApiError, ApiResult};

/// `?catch_up=` of resuming a job.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct ResumeParams {
    /// Run fire times missed while paused (default false).
    pub catch_up: bool,
}

/// Which alert deliveries to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DeliveryParams {
    /// Only this channel's deliveries.
    pub channel: Option<String>,
    /// How many, 1-1000 (default 100).
    pub limit: Option<usize>,
}

/// Which runs to list.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunListParams {
    /// Only this job's runs.
    pub job_id: Option<String>,
    /// Only runs scheduled at or after this RFC 3339 instant.
    #[serde(deserialize_with = "instant")]
    pub from: Option<DateTime<Utc>>,
    /// Only runs scheduled before this RFC 3339 instant.
    #[serde(deserialize_with = "instant")]
    pub to: Option<DateTime<Utc>>,
    /// Comma-separated states, e.g. `failed,timed_out`.
    #[serde(deserialize_with = "comma_list")]
    #[param(value_type = Option<String>, example = "failed,timed_out")]
    pub state: Vec<RunState>,
    /// Only runs with a smaller id (paging backwards).
    pub before_id: Option<i64>,
    /// Only the runs this run started: a workflow run's steps, or a chain's followers.
    pub upstream: Option<i64>,
    /// Only runs claimed by this node (its id, as `/api/nodes` lists it).
    pub node: Option<String>,
    /// Only finished runs that ran at least this many milliseconds.
    #[param(minimum = 0)]
    pub min_duration_ms: Option<i64>,
    /// Page size, 1-1000 (default 100).
    #[param(minimum = 1, maximum = 1000)]
    pub limit: Option<usize>,
}

/// A time window and, for run counts, the bucket width.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct RunStatsParams {
    /// RFC 3339 start (default: 7 days before `to`).
    #[serde(deserialize_with = "instant")]
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339 end (default: now).
    #[serde(deserialize_with = "instant")]
    pub to: Option<DateTime<Utc>>,
    /// Bucket width in seconds, 1 to 10 years (default 3600); at most 10,000 buckets.
    #[param(minimum = 1)]
    pub bucket_s: Option<i64>,
    /// Only this job's runs.
    pub job_id: Option<String>,
}

/// A time window for duration percentiles.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct DurationParams {
    /// RFC 3339 start (default: 7 days before `to`).
    #[serde(deserialize_with = "instant")]
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339 end (default: now).
    #[serde(deserialize_with = "instant")]
    pub to: Option<DateTime<Utc>>,
    /// Only this job's runs.
    pub job_id: Option<String>,
}

/// A time window of system-monitor samples.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct MetricParams {
    /// RFC 3339 start (default: 1 hour before `to`).
    #[serde(deserialize_with = "instant")]
    pub from: Option<DateTime<Utc>>,
    /// RFC 3339 end (default: now).
    #[serde(deserialize_with = "instant")]
    pub to: Option<DateTime<Utc>>,
    /// Most points to return, 1-5000 (default 300).
    #[param(minimum = 1, maximum = 5000)]
    pub points: Option<usize>,
}

/// Which live events to receive.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(default, deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub(crate) struct EventParams {
    /// Comma-separated event types to receive (default: all), e.g. `run_failed,job_added`.
    #[serde(deserialize_with = "comma_list")]
    #[param(value_type = Option<String>, example = "run_failed,job_added")]
    pub types: Vec<String>,
    /// The API token, for clients that cannot send headers (browsers' EventSource).
    pub token: Option<String>,
}

/// The `from`/`to` window, defaulting to the `span` before now; `from` must precede `to`.
pub(crate) fn window(
    from: Option<DateTime<Utc>>,
    to: Option<DateTime<Utc>>,
    span: Duration,
) -> ApiResult<(DateTime<Utc>, DateTime<Utc>)> {
    let to = to.unwrap_or_else(|| match from {
        Some(f) if f >= Utc::now() => f + span,
        _ => Utc::now(),
    });
    let from = from.unwrap_or(to - span);
    if from >= to {
        return Err(ApiError::invalid("from", "must be before 'to'"));
    }
    Ok((from, to))
}

/// An RFC 3339 instant; a `+` that a query string decoded to a space is read back as `+`.
fn instant<'de, D: Deserializer<'de>>(d: D) -> Result<Option<DateTime<Utc>>, D::Error> {
    let text = String::deserialize(d)?;
    DateTime::parse_from_rfc3339(&text.replace(' ', "+"))
        .map(|t| Some(t.with_timezone(&Utc)))
        .map_err(|e| serde::de::Error::custom(format!("'{text}' is not an RFC 3339 instant ({e})")))
}

/// Comma-separated values, each read as a `T` (e.g. a run state).
fn comma_list<'de, D: Deserializer<'de>, T: serde::de::DeserializeOwned>(
    d: D,
) -> Result<Vec<T>, D::Error> {
    let text = String::deserialize(d)?;
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(|s| {
            serde_json::from_value(serde_json::Value::String(s.to_string()))
                .map_err(|e| serde::de::Error::custom(format!("'{s}': {e}")))
        })
        .collect()
}
