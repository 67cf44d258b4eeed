//! Reading requests: JSON bodies (400 malformed, 413 too large, 422 naming the bad field) and
//! query parameters as typed structs (400 naming the parameter).

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequest, Request};
use axum::http::request::Parts;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// A request body that is syntactically valid JSON.
pub(crate) struct JsonValue(pub Value);

impl<S: Send + Sync> FromRequest<S> for JsonValue {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::bad_request(
                None,
                "the request body is empty; send a JSON document",
            ));
        }
        parse(&bytes).map(JsonValue)
    }
}

/// The request body's bytes: 413 when too large.
async fn body_bytes<S: Send + Sync>(req: Request, state: &S) -> Result<Bytes, ApiError> {
    Bytes::from_request(req, state).await.map_err(|r| {
        let status = r.status();
        if status == axum::http::StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(status, None, "the request body is too large")
        } else {
            ApiError::new(status, None, r.body_text())
        }
    })
}

/// `bytes` as JSON: 400 when malformed.
fn parse(bytes: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(bytes)
        .map_err(|e| ApiError::bad_request(None, format!("malformed JSON: {e}")))
}

/// A request body read as a `T`: 400 when it is not JSON, 422 naming the field at fault.
/// As `Option<Body<T>>`, an empty body (or `null`) is `None`.
pub(crate) struct Body<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let JsonValue(value) = JsonValue::from_request(req, state).await?;
        from_value(value).map(Body)
    }
}

impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequest<S> for Body<T> {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Option<Self>, ApiError> {
        let bytes = body_bytes(req, state).await?;
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(None);
        }
        match parse(&bytes)? {
            Value::Null => Ok(None),
            value => from_value(value).map(|v| Some(Body(v))),
        }
    }
}

/// Query parameters read as a `T` (which denies unknown fields): 400 naming the parameter.
pub(crate) struct Query<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Query<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        // Empty values (`?q=&kind=`) are absent, as a form left blank means.
        let pairs = form_urlencoded::parse(raw.as_bytes()).filter(|(_, v)| !v.trim().is_empty());
        let encoded = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(pairs)
            .finish();
        let deserializer =
            serde_urlencoded::Deserializer::new(form_urlencoded::parse(encoded.as_bytes()));
        serde_path_to_error::deserialize(deserializer)
            .map(Query)
            .map_err(|e| {
                let message = e.inner().to_string();
                let path = e.path().to_string();
                let field = field_path("", &path, &message);
                ApiError::bad_request((!field.is_empty()).then_some(field.as_str()), message)
            })
    }
}

/// Reads `value` as a `T`; a mismatch is a 422 naming the JSON path at fault.
pub(crate) fn from_value<T: DeserializeOwned>(value: Value) -> ApiResult<T> {
    serde_path_to_error::deserialize(value).map_err(|e| {
        let (path, message) = trigger_field(&e.path().to_string(), e.inner().to_string());
        let field = field_path("", &path, &message);
        ApiError::new(
            axum::http::StatusCode::UNPROCESSABLE_ENTITY,
            (!field.is_empty()).then_some(field.as_str()),
            message,
        )
    })
}

/// JSON fields of triggers, which a trigger's own error message starts with (`seconds: …`).
const TRIGGER_FIELDS: [&str; 18] = [
    "at",
    "timezone",
    "expression",
    "start",
    "end",
    "weeks",
    "days",
    "hours",
    "minutes",
    "seconds",
    "milliseconds",
    "every",
    "unit",
    "start_date",
    "time",
    "triggers",
    "threshold_seconds",
    "max_iterations",
];

/// The parts of a cron expression, which its errors start with (`minute: 60 is out of range`).
const CRON_PARTS: [&str; 7] = [
    "second",
    "minute",
    "hour",
    "day-of-month",
    "month",
    "day-of-week",
    "year",
];

/// A trigger refuses a field by message (`seconds: the period is zero…`, `minute: 60 is out
/// of range` for a cron expression, or the time zone library's `failed to parse timezone`):
/// the path then names that field (`trigger.seconds`, `trigger.expression`,
/// `trigger.timezone`) and the message keeps the rest.
fn trigger_field(path: &str, message: String) -> (String, String) {
    let last = path.rsplit('.').next().unwrap_or("");
    if !(last == "trigger" || last.starts_with("triggers[")) {
        return (path.to_string(), message);
    }
    match message.split_once(": ") {
        Some((name, rest)) if TRIGGER_FIELDS.contains(&name) => {
            (format!("{path}.{name}"), rest.to_string())
        }
        Some((name, _)) if CRON_PARTS.contains(&name) => (format!("{path}.expression"), message),
        _ if message.contains("expression") => (format!("{path}.expression"), message),
        _ if message.contains("timezone") => (format!("{path}.timezone"), message),
        _ => (path.to_string(), message),
    }
}

/// The dotted path of the field an error is about: the path serde reached, plus the field a
/// "missing field `x`" or "unknown field `x`" message names.
fn field_path(prefix: &str, path: &str, message: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    if !prefix.is_empty() {
        parts.push(prefix.to_string());
    }
    if path != "." && !path.is_empty() {
        parts.push(path.to_string());
    }
    let named = ["missing field `", "unknown field `"]
        .iter()
        .find_map(|p| message.strip_prefix(p))
        .and_then(|rest| rest.split('`').next());
    if let Some(name) = named {
        if path.rsplit('.').next() != Some(name) {
            parts.push(name.to_string());
        }
    }
    let mut out = String::new();
    for part in parts {
        if !out.is_empty() && !part.starts_with('[') {
            out.push('.');
        }
        out.push_str(&part);
    }
    out
}

/// Runs blocking engine or store work off the async threads.
pub(crate) async fn blocking<T, F>(f: F) -> ApiResult<T>
where
    T: Send + 'static,
    F: FnOnce() -> ApiResult<T> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("request task failed: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn field_paths_name_the_field() {
        assert_eq!(field_path("", ".", "missing field `name`"), "name");
        assert_eq!(field_path("", "trigger", "minute: 60"), "trigger");
        assert_eq!(
            field_path("jobs[2]", ".", "unknown field `bogus`, expected …"),
            "jobs[2].bogus"
        );
        assert_eq!(field_path("", "jobs[1].id", "invalid type"), "jobs[1].id");
        assert_eq!(field_path("", ".", "invalid type: string"), "");
    }

    #[test]
    fn trigger_errors_name_the_trigger_field() {
        let (field, message) = trigger_field("trigger", "seconds: the period is zero".into());
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("trigger.seconds", "the period is zero")
        );
        let (field, message) = trigger_field("trigger", "minute: 60 is out of range 0-59".into());
        assert_eq!(field, "trigger.expression");
        assert_eq!(message, "minute: 60 is out of range 0-59");
        let (field, _) = trigger_field("trigger.triggers[1]", "every: must be at least 1".into());
        assert_eq!(field, "trigger.triggers[1].every");
        // Not at a trigger: left alone.
        let (field, message) = trigger_field("options", "seconds: x".into());
        assert_eq!(
            (field.as_str(), message.as_str()),
            ("options", "seconds: x")
        );
    }
}
