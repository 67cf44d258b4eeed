//! The `kairos://` URI scheme: hands the webview's requests to the API router in-process.
//!
//! No port is opened. Each request is rewritten only as a transport must: its URI becomes
//! the router's path, its `Host` the one name the router allows, and the page's own origin
//! the `http://` form the router checks. HTML answers get the desktop CSP from
//! `tauri.conf.json`, which adds the IPC channel Tauri's events travel on.

use axum::body::Body;
use axum::Router;
use http::header::{CONTENT_SECURITY_POLICY, CONTENT_TYPE, HOST, ORIGIN};
use http::{HeaderValue, Request, Response, StatusCode, Uri};
use tower::ServiceExt;

/// The URI scheme the webview loads the admin and calls the API through.
pub const SCHEME: &str = "kairos";

/// The host name the router is told to accept; the webview's requests carry it.
pub const HOST_NAME: &str = "kairos.localhost";

/// The tauri event live scheduler events are emitted under (payload: the event's JSON).
pub const EVENT_NAME: &str = "kairos://event";

/// The page's own origin as the webview reports it in `Origin` headers: `kairos://localhost`
/// (`http://kairos.localhost` on Windows and Android, where custom schemes take that form).
fn own_origin() -> String {
    if cfg!(any(windows, target_os = "android")) {
        format!("http://{SCHEME}.localhost")
    } else {
        format!("{SCHEME}://localhost")
    }
}

/// Where the webview finds the admin: the page's origin, path `/`.
pub fn base_url() -> url::Url {
    url::Url::parse(&format!("{}/", own_origin())).expect("the scheme's base URL is valid")
}

/// Answers one webview request with the router; `csp` replaces the router's policy on pages.
pub async fn handle(
    router: Router,
    request: Request<Vec<u8>>,
    csp: Option<&str>,
) -> Response<Vec<u8>> {
    let (mut parts, body) = request.into_parts();
    let path_and_query = parts
        .uri
        .path_and_query()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "/".to_string());
    if parts.uri.path() == "/api/events" {
        // Server-Sent Events never end, and a scheme answer is sent whole; the desktop
        // pushes the same events through Tauri instead.
        return error(
            StatusCode::NOT_FOUND,
            &format!("in the desktop app live events come as the Tauri event '{EVENT_NAME}'"),
        );
    }
    parts.uri = match path_and_query.parse::<Uri>() {
        Ok(uri) => uri,
        Err(e) => return error(StatusCode::BAD_REQUEST, &format!("bad request URI: {e}")),
    };
    parts
        .headers
        .insert(HOST, HeaderValue::from_static(HOST_NAME));
    let origin = parts.headers.get(ORIGIN).cloned();
    let from_own_page = origin
        .as_ref()
        .and_then(|o| o.to_str().ok())
        .is_some_and(|o| o.eq_ignore_ascii_case(&own_origin()));
    if from_own_page {
        parts.headers.insert(
            ORIGIN,
            HeaderValue::from_str(&format!("http://{HOST_NAME}")).expect("a valid header value"),
        );
    }
    let response = match router
        .oneshot(Request::from_parts(parts, Body::from(body)))
        .await
    {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let (mut parts, body) = response.into_parts();
    tracing::debug!(path = %path_and_query, origin = ?origin, status = %parts.status, "kairos:// request");
    let bytes = match axum::body::to_bytes(body, usize::MAX).await {
        Ok(bytes) => bytes,
        Err(e) => {
            tracing::error!(path = %path_and_query, "reading the router's answer failed: {e}");
            return error(
                StatusCode::INTERNAL_SERVER_ERROR,
                "the answer could not be read",
            );
        }
    };
    if let Some(csp) = csp.and_then(|c| HeaderValue::from_str(c).ok()) {
        if parts.headers.contains_key(CONTENT_SECURITY_POLICY) {
            parts.headers.insert(CONTENT_SECURITY_POLICY, csp);
        }
    }
    Response::from_parts(parts, bytes.to_vec())
}

/// An error answer in the API's JSON shape.
fn error(status: StatusCode, message: &str) -> Response<Vec<u8>> {
    let body = serde_json::json!({"error": {"field": null, "message": message}});
    Response::builder()
        .status(status)
        .header(CONTENT_TYPE, "application/json")
        .body(body.to_string().into_bytes())
        .expect("a valid response")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use kairos_core::scheduler::Scheduler;
    use kairos_core::store::MemoryStore;
    use kairos_server::ServerConfig;
    use serde_json::{json, Value};

    use super::*;

    const TOKEN: &str = "desktop-test-token";
    const CSP: &str = "default-src 'self'; connect-src 'self' ipc:";

    fn app() -> (Scheduler, Router) {
        let scheduler = Scheduler::new(Arc::new(MemoryStore::default()));
        let router = kairos_server::router(
            scheduler.clone(),
            ServerConfig {
                token: TOKEN.into(),
                allowed_hosts: vec![HOST_NAME.into()],
                database: kairos_server::FixedDatabase::new(
                    std::path::Path::new("kairos.db"),
                    kairos_server::DatabaseSource::Default,
                    std::path::Path::new("kairos.db"),
                ),
            },
        );
        (scheduler, router)
    }

    /// A request as the webview sends it: full scheme URI, no Host of the router's liking.
    fn webview(method: &str, path: &str) -> http::request::Builder {
        Request::builder().method(method).uri(format!(
            "{}{}",
            base_url(),
            path.trim_start_matches('/')
        ))
    }

    fn json_body(response: &Response<Vec<u8>>) -> Value {
        serde_json::from_slice(response.body()).unwrap()
    }

    #[test]
    #[cfg(not(any(windows, target_os = "android")))]
    fn the_page_lives_at_the_schemes_localhost() {
        assert_eq!(base_url().as_str(), "kairos://localhost/");
        assert_eq!(own_origin(), "kairos://localhost");
    }

    #[tokio::test]
    async fn the_page_loads_with_the_desktop_csp() {
        let (_, router) = app();
        let request = webview("GET", "/?token=abc").body(vec![]).unwrap();
        let response = handle(router, request, Some(CSP)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[CONTENT_SECURITY_POLICY], CSP);
        let html = String::from_utf8(response.body().clone()).unwrap();
        assert!(html.contains("<title>Kairos</title>"), "{html}");
    }

    #[tokio::test]
    async fn api_calls_from_the_page_reach_the_engine() {
        let (scheduler, router) = app();
        let job = json!({
            "name": "hello",
            "trigger": {"type": "cron", "expression": "0 0 1 1 *", "timezone": "UTC"},
            "action": {"kind": "shell", "command": "true"},
        });
        let request = webview("POST", "/api/jobs")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header(CONTENT_TYPE, "application/json")
            .header(ORIGIN, "kairos://localhost")
            .body(job.to_string().into_bytes())
            .unwrap();
        let response = handle(router.clone(), request, Some(CSP)).await;
        assert_eq!(
            response.status(),
            StatusCode::CREATED,
            "{:?}",
            json_body(&response)
        );
        let id = json_body(&response)["id"].as_str().unwrap().to_string();
        assert_eq!(scheduler.get_job(&id).unwrap().name, "hello");
        // JSON answers keep their headers and get no CSP of ours.
        assert!(!response.headers().contains_key(CONTENT_SECURITY_POLICY));

        let request = webview("GET", "/api/jobs")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .body(vec![])
            .unwrap();
        let response = handle(router, request, Some(CSP)).await;
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(json_body(&response)["items"][0]["id"], id.as_str());
    }

    #[tokio::test]
    async fn module_scripts_from_the_page_pass_the_origin_check() {
        // WebKit sends Origin on crossorigin (module) script and style loads.
        let (_, router) = app();
        let request = webview("GET", "/api/openapi.json")
            .header(ORIGIN, "kairos://localhost")
            .body(vec![])
            .unwrap();
        let response = handle(router, request, None).await;
        assert_eq!(response.status(), StatusCode::OK);
    }

    #[tokio::test]
    async fn the_router_still_guards_token_and_origin() {
        let (_, router) = app();
        let request = webview("GET", "/api/jobs").body(vec![]).unwrap();
        let response = handle(router.clone(), request, None).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);

        let request = webview("POST", "/api/scheduler/pause")
            .header("Authorization", format!("Bearer {TOKEN}"))
            .header(ORIGIN, "https://evil.example")
            .body(vec![])
            .unwrap();
        let response = handle(router, request, None).await;
        assert_eq!(response.status(), StatusCode::FORBIDDEN);
        assert_eq!(json_body(&response)["error"]["field"], "Origin");
    }

    #[tokio::test]
    async fn server_sent_events_point_to_the_tauri_event() {
        let (_, router) = app();
        let request = webview("GET", "/api/events?token=x").body(vec![]).unwrap();
        let response = handle(router, request, None).await;
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        let message = json_body(&response)["error"]["message"].to_string();
        assert!(message.contains(EVENT_NAME), "{message}");
    }
}
