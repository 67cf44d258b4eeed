//! HTTP request actions, sent through one shared client.

use std::error::Error as _;
use std::sync::OnceLock;
use std::time::Duration;

use reqwest::header::{HeaderName, HeaderValue};
use reqwest::{Client, Method, Url};

use super::tail::TailBuffer;
use super::{ActionContext, ActionError, ActionOutput, HttpAction};

/// How many bytes of the response body are kept (the tail).
const BODY_CAP_BYTES: usize = 64 * 1024;

/// Checks the method, URL and expected status range.
pub(super) fn validate(action: &HttpAction) -> Result<(), ActionError> {
    let bad = |field: &str, message: String| {
        Err(ActionError {
            field: field.to_string(),
            message,
        })
    };
    if Method::from_bytes(action.method.as_bytes()).is_err() {
        return bad(
            "action.method",
            format!("'{}' is not a valid HTTP method", action.method),
        );
    }
    match Url::parse(&action.url) {
        Err(e) => return bad("action.url", format!("'{}' is not a URL: {e}", action.url)),
        Ok(url) if !matches!(url.scheme(), "http" | "https") => {
            return bad(
                "action.url",
                format!("scheme must be http or https, not '{}'", url.scheme()),
            )
        }
        Ok(url) if url.host_str().is_none_or(str::is_empty) => {
            return bad("action.url", format!("'{}' has no host", action.url))
        }
        Ok(_) => {}
    }
    for (name, value) in &action.headers {
        if HeaderName::from_bytes(name.as_bytes()).is_err() {
            return bad(
                "action.headers",
                format!("'{name}' is not a valid header name"),
            );
        }
        if HeaderValue::from_str(value).is_err() {
            return bad(
                "action.headers",
                format!("the value of '{name}' is not a valid header value"),
            );
        }
    }
    let [low, high] = action.expect_status;
    if !(100..=599).contains(&low) || !(100..=599).contains(&high) {
        return bad(
            "action.expect_status",
            format!("{low}-{high}: statuses must be within 100-599"),
        );
    }
    if low > high {
        return bad(
            "action.expect_status",
            format!("{low}-{high}: the low end is above the high end"),
        );
    }
    Ok(())
}

/// Sends the request (with `body` instead of the action's when given); success when the status
/// is in the expected range.
pub(super) async fn run(
    action: &HttpAction,
    ctx: &ActionContext,
    body: Option<&str>,
) -> ActionOutput {
    if let Err(e) = validate(action) {
        return ActionOutput::failed(e.to_string());
    }
    let client = match client() {
        Ok(client) => client,
        Err(e) => return ActionOutput::failed(e.clone()),
    };
    // `validate` has checked the method.
    let method = Method::from_bytes(action.method.as_bytes()).unwrap_or(Method::GET);
    let mut request = client.request(method, &action.url);
    for (name, value) in &action.headers {
        request = request.header(name, value);
    }
    if let Some(body) = body.or(action.body.as_deref()) {
        request = request.body(body.to_string());
    }
    if let Some(seconds) = action.timeout_s {
        request = request.timeout(Duration::from_secs(seconds));
    }

    tokio::select! {
        output = exchange(request, action) => output,
        _ = ctx.cancel.cancelled() => ActionOutput::failed("cancelled"),
    }
}

/// Sends `request` and reads the response into an output.
async fn exchange(request: reqwest::RequestBuilder, action: &HttpAction) -> ActionOutput {
    let mut response = match request.send().await {
        Ok(response) => response,
        Err(e) => return ActionOutput::failed(describe(&e, action)),
    };
    let status = response.status().as_u16();
    tracing::debug!(url = %action.url, status, "http action got a response");
    let mut body = TailBuffer::new(BODY_CAP_BYTES);
    let read_error = loop {
        match response.chunk().await {
            Ok(Some(chunk)) => body.push(&chunk),
            Ok(None) => break None,
            Err(e) => break Some(describe(&e, action)),
        }
    };
    let [low, high] = action.expect_status;
    let in_range = (low..=high).contains(&status);
    let error = match read_error {
        Some(e) => Some(format!("reading the response body: {e}")),
        None if !in_range => Some(format!(
            "status {status} is outside the expected {low}-{high}"
        )),
        None => None,
    };
    ActionOutput {
        success: error.is_none(),
        http_status: Some(status),
        error,
        stdout: body.to_text(),
        ..Default::default()
    }
}

/// The client every HTTP action shares (connection pool, TLS roots).
fn client() -> Result<&'static Client, &'static String> {
    static CLIENT: OnceLock<Result<Client, String>> = OnceLock::new();
    CLIENT
        .get_or_init(|| {
            Client::builder()
                .user_agent(concat!("kairos/", env!("CARGO_PKG_VERSION")))
                .build()
                .map_err(|e| format!("cannot build the HTTP client: {e}"))
        })
        .as_ref()
}

/// A reqwest error with its causes, e.g. `error sending request: … : Connection refused`.
fn describe(e: &reqwest::Error, action: &HttpAction) -> String {
    if e.is_timeout() {
        if let Some(seconds) = action.timeout_s {
            return format!("timed out after {seconds} s");
        }
        return "timed out".to_string();
    }
    let mut text = e.to_string();
    // The URL is the action's own; repeating it only makes the message longer.
    if let Some(i) = text.find(" for url (") {
        text.truncate(i);
    }
    let mut source = e.source();
    while let Some(cause) = source {
        let cause_text = cause.to_string();
        if !text.ends_with(&cause_text) {
            text.push_str(": ");
            text.push_str(&cause_text);
        }
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio::net::TcpListener;
    use tokio::sync::oneshot;

    use super::*;

    fn get(url: &str) -> HttpAction {
        HttpAction {
            method: "GET".to_string(),
            url: url.to_string(),
            headers: BTreeMap::new(),
            body: None,
            timeout_s: Some(10),
            expect_status: [200, 299],
        }
    }

    /// What the test server received.
    #[derive(Debug)]
    struct Received {
        request_line: String,
        /// Header names lower-cased.
        headers: BTreeMap<String, String>,
        body: Vec<u8>,
    }

    /// Serves one connection: reads one request, reports it, then answers `status` with `body`
    /// (or never answers, when `status` is `None`).
    async fn serve_once(
        status: Option<u16>,
        body: Vec<u8>,
    ) -> (String, oneshot::Receiver<Received>) {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(async move {
            let (mut socket, _) = listener.accept().await.unwrap();
            let mut buf = Vec::new();
            let head_end = loop {
                let mut chunk = [0u8; 4096];
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed before sending a request");
                buf.extend_from_slice(&chunk[..n]);
                if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                    break i + 4;
                }
            };
            let head = String::from_utf8(buf[..head_end].to_vec()).unwrap();
            let mut lines = head.split("\r\n");
            let request_line = lines.next().unwrap().to_string();
            let headers: BTreeMap<String, String> = lines
                .filter_map(|l| l.split_once(':'))
                .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
                .collect();
            let length: usize = headers
                .get("content-length")
                .map_or(0, |v| v.parse().unwrap());
            let mut request_body = buf[head_end..].to_vec();
            while request_body.len() < length {
                let mut chunk = [0u8; 4096];
                let n = socket.read(&mut chunk).await.unwrap();
                assert!(n > 0, "client closed mid-body");
                request_body.extend_from_slice(&chunk[..n]);
            }
            let _ = tx.send(Received {
                request_line,
                headers,
                body: request_body,
            });
            let Some(status) = status else {
                // Hold the connection open without answering until the client gives up.
                let mut rest = [0u8; 64];
                let _ = socket.read(&mut rest).await;
                return;
            };
            let head = format!(
                "HTTP/1.1 {status} Canned\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                body.len()
            );
            socket.write_all(head.as_bytes()).await.unwrap();
            socket.write_all(&body).await.unwrap();
            socket.shutdown().await.unwrap();
        });
        (format!("http://{addr}"), rx)
    }

    #[tokio::test]
    async fn a_status_in_range_succeeds_with_the_body() {
        let (base, received) = serve_once(Some(200), b"all good".to_vec()).await;
        let out = run(
            &get(&format!("{base}/health")),
            &ActionContext::default(),
            None,
        )
        .await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.http_status, Some(200));
        assert_eq!(out.error, None);
        assert_eq!(out.stdout, "all good");
        let received = received.await.unwrap();
        assert_eq!(received.request_line, "GET /health HTTP/1.1");
    }

    #[tokio::test]
    async fn a_status_outside_the_range_fails() {
        let (base, _received) = serve_once(Some(500), b"boom".to_vec()).await;
        let out = run(&get(&base), &ActionContext::default(), None).await;
        assert!(!out.success);
        assert_eq!(out.http_status, Some(500));
        assert_eq!(
            out.error.as_deref(),
            Some("status 500 is outside the expected 200-299")
        );
        assert_eq!(out.stdout, "boom");
    }

    #[tokio::test]
    async fn a_custom_range_is_inclusive() {
        let (base, _received) = serve_once(Some(404), Vec::new()).await;
        let mut action = get(&base);
        action.expect_status = [400, 404];
        let out = run(&action, &ActionContext::default(), None).await;
        assert!(out.success, "{out:?}");
        assert_eq!(out.http_status, Some(404));
    }

    #[tokio::test]
    async fn method_headers_and_body_are_sent() {
        let (base, received) = serve_once(Some(201), Vec::new()).await;
        let mut action = get(&format!("{base}/hooks?x=1"));
        action.method = "POST".to_string();
        action
            .headers
            .insert("X-Kairos-Test".into(), "yes please".into());
        action
            .headers
            .insert("Content-Type".into(), "application/json".into());
        action.body = Some(r#"{"hello":"world"}"#.to_string());
        let out = run(&action, &ActionContext::default(), None).await;
        assert!(out.success, "{out:?}");
        let received = received.await.unwrap();
        assert_eq!(received.request_line, "POST /hooks?x=1 HTTP/1.1");
        assert_eq!(received.headers["x-kairos-test"], "yes please");
        assert_eq!(received.headers["content-type"], "application/json");
        assert!(received.headers["user-agent"].starts_with("kairos/"));
        assert_eq!(received.body, br#"{"hello":"world"}"#);
    }

    #[tokio::test]
    async fn a_run_by_hand_sends_its_own_body() {
        let (base, received) = serve_once(Some(200), Vec::new()).await;
        let mut action = get(&base);
        action.method = "POST".to_string();
        action.body = Some("the job's".to_string());
        let out = run(&action, &ActionContext::default(), Some("given")).await;
        assert!(out.success, "{out:?}");
        assert_eq!(received.await.unwrap().body, b"given");
    }

    #[tokio::test]
    async fn a_long_body_keeps_its_tail() {
        let mut body = vec![b'a'; 100 * 1024];
        body.extend_from_slice(b"END");
        let (base, _received) = serve_once(Some(200), body).await;
        let out = run(&get(&base), &ActionContext::default(), None).await;
        assert!(out.success, "{out:?}");
        let cut = 100 * 1024 + 3 - BODY_CAP_BYTES;
        assert!(
            out.stdout
                .starts_with(&format!("[… {cut} bytes cut …]\naaa")),
            "{}",
            &out.stdout[..40]
        );
        assert!(out.stdout.ends_with("aEND"));
        assert_eq!(
            out.stdout.len(),
            format!("[… {cut} bytes cut …]\n").len() + BODY_CAP_BYTES
        );
    }

    #[tokio::test]
    async fn connection_refused_is_a_failure_with_the_cause() {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        drop(listener);
        let out = run(
            &get(&format!("http://{addr}/")),
            &ActionContext::default(),
            None,
        )
        .await;
        assert!(!out.success);
        assert_eq!(out.http_status, None);
        let error = out.error.unwrap();
        assert!(error.contains("Connection refused"), "{error}");
    }

    #[tokio::test]
    async fn cancel_aborts_a_request_in_flight() {
        let (base, received) = serve_once(None, Vec::new()).await;
        let ctx = ActionContext::default();
        let task = {
            let ctx = ctx.clone();
            tokio::spawn(async move { run(&get(&base), &ctx, None).await })
        };
        received.await.unwrap(); // the request reached the server, which never answers
        ctx.cancel.cancel();
        let out = task.await.unwrap();
        assert!(!out.success);
        assert_eq!(out.error.as_deref(), Some("cancelled"));
    }

    fn field_of(action: &HttpAction) -> String {
        validate(action).unwrap_err().field
    }

    #[test]
    fn validate_accepts_a_good_definition() {
        let mut action = get("https://example.com/ping");
        action
            .headers
            .insert("Authorization".into(), "Bearer x".into());
        assert_eq!(validate(&action), Ok(()));
    }

    #[test]
    fn validate_names_the_bad_field() {
        let mut action = get("https://example.com/");
        action.method = "GE T".to_string();
        assert_eq!(field_of(&action), "action.method");
        action.method = String::new();
        assert_eq!(field_of(&action), "action.method");

        for url in [
            "not a url",
            "ftp://example.com/",
            "/relative",
            "file:///etc/passwd",
        ] {
            let action = get(url);
            assert_eq!(field_of(&action), "action.url", "{url}");
        }

        let mut action = get("https://example.com/");
        action.headers.insert("Bad Name".into(), "x".into());
        assert_eq!(field_of(&action), "action.headers");
        let mut action = get("https://example.com/");
        action.headers.insert("X-Ok".into(), "line\nbreak".into());
        assert_eq!(field_of(&action), "action.headers");

        for range in [[99, 200], [200, 600], [300, 200]] {
            let mut action = get("https://example.com/");
            action.expect_status = range;
            assert_eq!(field_of(&action), "action.expect_status", "{range:?}");
        }
    }

    #[test]
    fn validate_messages_say_what_is_wrong() {
        let mut action = get("ftp://example.com/");
        assert_eq!(
            validate(&action).unwrap_err().to_string(),
            "action.url: scheme must be http or https, not 'ftp'"
        );
        action.url = "https://example.com/".to_string();
        action.expect_status = [300, 200];
        assert_eq!(
            validate(&action).unwrap_err().to_string(),
            "action.expect_status: 300-200: the low end is above the high end"
        );
    }
}
