//! The built web admin (`ui/dist`), embedded in release builds and read from disk in debug
//! builds, served at `/` with a fallback to `index.html` for the UI's own routes.

use axum::http::{header, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use rust_embed::RustEmbed;

use crate::error::ApiError;

#[derive(RustEmbed)]
#[folder = "../../ui/dist"]
#[allow_missing = true]
struct Assets;

/// Scripts and styles come from this server only; antd's CSS-in-JS needs inline styles.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; \
img-src 'self' data:; font-src 'self' data:; connect-src 'self'; object-src 'none'; \
base-uri 'none'; frame-ancestors 'none'";

/// Shown when the binary was built without the UI.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Kairos</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\"><h1>Kairos</h1>\
<p>The web admin was not built into this binary. Build it with <code>make build</code> \
(which runs <code>npm ci &amp;&amp; npm run build</code> in <code>ui/</code>) and start \
<code>kairos serve</code> again. The API is available under <code>/api</code>.</p>";

/// Answers every path the API does not: a UI file, the UI's index for its routes, or 404.
pub(crate) async fn serve(uri: Uri) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("api/") || path == "api" {
        return crate::api::system::not_found().await.into_response();
    }
    if let Some(file) = Assets::get(path).filter(|_| !path.is_empty()) {
        let cache = if path.starts_with("assets/") {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        return (
            [
                (header::CONTENT_TYPE, file.metadata.mimetype().to_string()),
                (header::CACHE_CONTROL, cache.to_string()),
            ],
            file.data,
        )
            .into_response();
    }
    // Paths with an extension are files that do not exist; the rest are the UI's routes.
    if path
        .rsplit('/')
        .next()
        .is_some_and(|last| last.contains('.'))
    {
        return ApiError::not_found("no such file").into_response();
    }
    match Assets::get("index.html") {
        Some(index) => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, "no-cache"),
                (header::CONTENT_SECURITY_POLICY, CSP),
            ],
            index.data,
        )
            .into_response(),
        None => (
            StatusCode::OK,
            [(header::CONTENT_SECURITY_POLICY, CSP)],
            Html(NOT_BUILT),
        )
            .into_response(),
    }
}
