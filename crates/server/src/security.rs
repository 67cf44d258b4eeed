//! Request guards: Host (DNS rebinding) and Origin (CSRF) checks on every route, and the
//! bearer token on the API; plus the token file.

use std::io::Write;
use std::path::Path;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

use crate::error::ApiError;
use crate::AppState;

/// Routes anyone may call (after the Host and Origin checks).
const PUBLIC: [&str; 2] = ["/healthz", "/api/openapi.json"];
/// The one route that also takes the token as `?token=`, for browsers' EventSource.
const QUERY_TOKEN_ROUTE: &str = "/api/events";

/// Refuses requests from foreign hosts or origins, and API calls without the token.
pub(crate) async fn guard(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let config = &state.config;
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
        .or_else(|| req.uri().authority().map(|a| a.as_str().to_string()));
    let host_ok = host.as_deref().is_some_and(|h| {
        config
            .allowed_hosts
            .iter()
            .any(|a| a.eq_ignore_ascii_case(h))
    });
    if !host_ok {
        return ApiError::new(
            StatusCode::FORBIDDEN,
            Some("Host"),
            format!(
                "host '{}' is not allowed",
                host.as_deref().unwrap_or_default()
            ),
        )
        .into_response();
    }
    if let Some(origin) = req.headers().get(header::ORIGIN) {
        let origin = origin.to_str().unwrap_or_default();
        let authority = origin
            .strip_prefix("http://")
            .or_else(|| origin.strip_prefix("https://"));
        let ok = authority.is_some_and(|o| {
            config
                .allowed_hosts
                .iter()
                .any(|a| a.eq_ignore_ascii_case(o))
        });
        if !ok {
            return ApiError::new(
                StatusCode::FORBIDDEN,
                Some("Origin"),
                format!("origin '{origin}' is not allowed"),
            )
            .into_response();
        }
    }
    let path = req.uri().path();
    let protected = path.starts_with("/api/") || path == "/api" || path == "/metrics";
    if protected && !PUBLIC.contains(&path) {
        let bearer = req
            .headers()
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| {
                let (scheme, token) = v.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
            });
        let query = (path == QUERY_TOKEN_ROUTE)
            .then(|| query_token(req.uri().query()))
            .flatten();
        let token = bearer.map(str::to_string).or(query);
        match token {
            Some(t) if constant_time_eq(t.as_bytes(), config.token.as_bytes()) => {}
            Some(_) => {
                return unauthorized("the token is wrong");
            }
            None => {
                return unauthorized("send the API token as 'Authorization: Bearer <token>'");
            }
        }
    }
    let method = req.method().clone();
    let path = path.to_string();
    let response = next.run(req).await;
    tracing::debug!(%method, %path, status = %response.status(), "answered");
    response
}

fn unauthorized(message: &str) -> Response {
    ApiError::new(StatusCode::UNAUTHORIZED, Some("Authorization"), message).into_response()
}

/// The `token` query parameter, if given.
fn query_token(query: Option<&str>) -> Option<String> {
    form_urlencoded::parse(query?.as_bytes())
        .find(|(k, _)| k == "token")
        .map(|(_, v)| v.into_owned())
}

/// Where the API token for the database `db` is kept: beside a SQLite file, or in
/// `kairos_dir` (the platform data directory's `kairos`) for a PostgreSQL URL. `kairos serve`
/// and the desktop app on one machine find the same token this way.
pub fn token_dir(db: &Path, kairos_dir: &Path) -> std::path::PathBuf {
    if db.to_str().is_some_and(kairos_core::store::is_postgres_url) {
        return kairos_dir.to_path_buf();
    }
    db.parent()
        .filter(|d| !d.as_os_str().is_empty())
        .map_or_else(|| ".".into(), Path::to_path_buf)
}

/// Compares two byte strings in time independent of where they differ.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() || b.is_empty() {
        return false;
    }
    let diff = a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y));
    std::hint::black_box(diff) == 0
}

/// Reads the API token from `dir/token`, or creates a random one there (mode 0600), creating
/// `dir` if needed.
pub fn load_or_create_token(dir: &Path) -> std::io::Result<String> {
    let path = dir.join("token");
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(e),
    }
    kairos_core::store::create_private_dir(dir)?;
    let token = new_token();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&path)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
    }
    file.write_all(token.as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!("created a new API token in {}", path.display());
    Ok(token)
}

/// 32 random bytes as 64 hex digits.
fn new_token() -> String {
    use rand::RngCore;
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn constant_time_eq_compares() {
        assert!(constant_time_eq(b"abc", b"abc"));
        assert!(!constant_time_eq(b"abc", b"abd"));
        assert!(!constant_time_eq(b"ab", b"abc"));
        assert!(!constant_time_eq(b"", b""));
    }

    #[test]
    fn token_is_created_once_with_private_mode() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("a/b");
        let t1 = load_or_create_token(&sub).unwrap();
        assert_eq!(t1.len(), 64);
        assert!(t1.chars().all(|c| c.is_ascii_hexdigit()));
        assert_eq!(load_or_create_token(&sub).unwrap(), t1);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(sub.join("token"))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
