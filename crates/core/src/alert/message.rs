//! What an alert says, in the channel's language, and how each service is sent it: its
//! documented payload and, for DingTalk and Feishu, its signature.

use base64::Engine;
use chrono::{DateTime, Utc};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

use super::{AlertOn, Channel, Language, SmtpSecurity, Target};

/// How long one delivery attempt may take.
const SEND_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(20);

/// An alert: what happened to which run.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    /// What it announces.
    pub outcome: AlertOn,
    /// The job's id (empty for a test).
    pub job_id: String,
    /// The job's name.
    pub job_name: String,
    /// The run, if one.
    pub run_id: Option<i64>,
    /// The run's fire time, if one.
    pub scheduled: Option<DateTime<Utc>>,
    /// The run's error, if any.
    pub error: Option<String>,
    /// Where the run is seen in the web admin, if its address is known.
    pub link: Option<String>,
    /// Alerts of the same job and channel held back (throttled) since the last one sent.
    pub held_back: u32,
}

fn outcome_words(outcome: AlertOn, language: Language) -> &'static str {
    match (language, outcome) {
        (Language::English, AlertOn::Failed) => "failed",
        (Language::English, AlertOn::TimedOut) => "timed out",
        (Language::English, AlertOn::Missed) => "missed a run",
        (Language::English, AlertOn::Skipped) => "skipped a run",
        (Language::English, AlertOn::Abandoned) => "lost a run (its node died)",
        (Language::English, AlertOn::Recovered) => "recovered",
        (Language::English, AlertOn::Slow) => "ran longer than allowed",
        (Language::English, AlertOn::Test) => "test message",
        (Language::Chinese, AlertOn::Failed) => "失败",
        (Language::Chinese, AlertOn::TimedOut) => "超时",
        (Language::Chinese, AlertOn::Missed) => "错过了一次运行",
        (Language::Chinese, AlertOn::Skipped) => "跳过了一次运行",
        (Language::Chinese, AlertOn::Abandoned) => "丢失了一次运行（节点已失联）",
        (Language::Chinese, AlertOn::Recovered) => "已恢复",
        (Language::Chinese, AlertOn::Slow) => "运行时间过长",
        (Language::Chinese, AlertOn::Test) => "测试消息",
    }
}

impl Message {
    /// A test message for the settings' "send test".
    pub fn test(link: Option<String>) -> Message {
        Message {
            outcome: AlertOn::Test,
            job_id: String::new(),
            job_name: String::new(),
            run_id: None,
            scheduled: None,
            error: None,
            link,
            held_back: 0,
        }
    }

    /// One line: `Kairos: job "Backup" failed`.
    pub fn title(&self, language: Language) -> String {
        let what = outcome_words(self.outcome, language);
        match (language, self.outcome) {
            (Language::English, AlertOn::Test) => "Kairos: test message".to_string(),
            (Language::Chinese, AlertOn::Test) => "Kairos：测试消息".to_string(),
            (Language::English, _) => format!("Kairos: job \"{}\" {what}", self.job_name),
            (Language::Chinese, _) => format!("Kairos：任务“{}”{what}", self.job_name),
        }
    }

    /// The title and the details, one per line.
    pub fn text(&self, language: Language) -> String {
        let zh = language == Language::Chinese;
        let mut lines = vec![self.title(language)];
        if self.outcome == AlertOn::Test {
            lines.push(if zh {
                "这条消息说明该通知渠道工作正常。".into()
            } else {
                "If you can read this, the channel works.".into()
            });
        } else {
            lines.push(if zh {
                format!("任务 ID：{}", self.job_id)
            } else {
                format!("Job id: {}", self.job_id)
            });
        }
        if let (Some(run), Some(at)) = (self.run_id, self.scheduled) {
            let at = at.format("%Y-%m-%d %H:%M:%S UTC");
            lines.push(if zh {
                format!("运行 #{run}，计划于 {at}")
            } else {
                format!("Run #{run}, scheduled for {at}")
            });
        }
        if let Some(error) = &self.error {
            lines.push(if zh {
                format!("错误：{error}")
            } else {
                format!("Error: {error}")
            });
        }
        if self.held_back > 0 {
            let n = self.held_back;
            lines.push(if zh {
                format!("此前另有 {n} 条同类提醒被合并未发。")
            } else {
                format!("{n} more alerts of this job were held back since the last one.")
            });
        }
        if let Some(link) = &self.link {
            lines.push(if zh {
                format!("查看：{link}")
            } else {
                format!("Open: {link}")
            });
        }
        lines.join("\n")
    }

    /// The values a webhook template may name, JSON-escaped (without quotes).
    fn fields(&self, language: Language) -> Vec<(&'static str, String)> {
        let escaped = |s: &str| {
            let quoted = serde_json::Value::String(s.to_string()).to_string();
            quoted[1..quoted.len() - 1].to_string()
        };
        vec![
            ("job_id", escaped(&self.job_id)),
            ("job_name", escaped(&self.job_name)),
            (
                "run_id",
                self.run_id.map(|r| r.to_string()).unwrap_or_default(),
            ),
            ("outcome", self.outcome.as_str().to_string()),
            ("title", escaped(&self.title(language))),
            ("text", escaped(&self.text(language))),
            ("error", escaped(self.error.as_deref().unwrap_or(""))),
            (
                "scheduled",
                self.scheduled.map(|t| t.to_rfc3339()).unwrap_or_default(),
            ),
            ("link", escaped(self.link.as_deref().unwrap_or(""))),
            ("held_back", self.held_back.to_string()),
        ]
    }
}

/// DingTalk's signature: base64 of HMAC-SHA256 over `"{timestamp_ms}\n{secret}"` keyed by
/// the secret, URL-encoded for the query string.
pub(crate) fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    let sign = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    sign.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Feishu's signature: base64 of HMAC-SHA256 over nothing, keyed by
/// `"{timestamp_s}\n{secret}"`.
pub(crate) fn feishu_sign(secret: &str, timestamp_s: i64) -> String {
    let key = format!("{timestamp_s}\n{secret}");
    let mac = Hmac::<Sha256>::new_from_slice(key.as_bytes()).expect("any key length");
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The request a robot-style channel gets: URL and JSON body.
pub(crate) fn request(
    target: &Target,
    language: Language,
    msg: &Message,
    now: DateTime<Utc>,
) -> Option<(String, serde_json::Value)> {
    use serde_json::json;
    let text = msg.text(language);
    Some(match target {
        Target::Slack { url } => (url.clone(), json!({ "text": text })),
        Target::Wecom { url } => (
            url.clone(),
            json!({ "msgtype": "text", "text": { "content": text } }),
        ),
        Target::Dingtalk { url, secret } => {
            let url = match secret {
                Some(secret) => {
                    let ts = now.timestamp_millis();
                    let sep = if url.contains('?') { '&' } else { '?' };
                    format!(
                        "{url}{sep}timestamp={ts}&sign={}",
                        dingtalk_sign(secret, ts)
                    )
                }
                None => url.clone(),
            };
            (
                url,
                json!({ "msgtype": "text", "text": { "content": text } }),
            )
        }
        Target::Feishu { url, secret } => {
            let mut body = json!({ "msg_type": "text", "content": { "text": text } });
            if let Some(secret) = secret {
                let ts = now.timestamp();
                body["timestamp"] = json!(ts.to_string());
                body["sign"] = json!(feishu_sign(secret, ts));
            }
            (url.clone(), body)
        }
        Target::Webhook { .. } | Target::Email { .. } => return None,
    })
}

/// Sends `msg` on `channel`; the error says what the service answered.
pub(crate) async fn send(
    client: &reqwest::Client,
    channel: &Channel,
    msg: &Message,
    now: DateTime<Utc>,
) -> Result<(), String> {
    let language = channel.language;
    match &channel.target {
        Target::Webhook {
            url,
            headers,
            template,
        } => {
            let body = match template {
                Some(template) => msg
                    .fields(language)
                    .iter()
                    .fold(template.clone(), |body, (name, value)| {
                        body.replace(&format!("{{{{{name}}}}}"), value)
                    }),
                None => serde_json::json!({
                    "outcome": msg.outcome,
                    "job_id": msg.job_id,
                    "job_name": msg.job_name,
                    "run_id": msg.run_id,
                    "scheduled": msg.scheduled,
                    "error": msg.error,
                    "title": msg.title(language),
                    "text": msg.text(language),
                    "link": msg.link,
                    "held_back": msg.held_back,
                })
                .to_string(),
            };
            let mut request = client
                .post(url)
                .header("content-type", "application/json")
                .body(body);
            for (name, value) in headers {
                request = request.header(name, value);
            }
            answer(request.send().await, false).await
        }
        Target::Email {
            host,
            port,
            security,
            username,
            password,
            from,
            to,
        } => {
            let mail = Email {
                host,
                port: *port,
                security: *security,
                login: username.as_deref().zip(password.as_deref()),
                from,
                to,
            };
            mail.send(&msg.title(language), &msg.text(language)).await
        }
        robot => {
            let (url, body) = request(robot, language, msg, now).expect("a robot channel");
            let request = client
                .post(url)
                .header("content-type", "application/json")
                .body(body.to_string());
            answer(request.send().await, true).await
        }
    }
}

/// Reads a service's answer: a 2xx status and, for the robots (`errcode`/`code` in JSON),
/// a zero code.
async fn answer(
    response: Result<reqwest::Response, reqwest::Error>,
    robot: bool,
) -> Result<(), String> {
    let response = response.map_err(|e| format!("cannot send: {}", send_error(e)))?;
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    let short: String = body.chars().take(300).collect();
    if !status.is_success() {
        return Err(format!("HTTP {}: {short}", status.as_u16()));
    }
    if robot {
        if let Ok(json) = serde_json::from_str::<serde_json::Value>(&body) {
            let code = json
                .get("errcode")
                .or_else(|| json.get("code"))
                .or_else(|| json.get("StatusCode"))
                .and_then(|c| c.as_i64());
            if code.is_some_and(|c| c != 0) {
                return Err(format!("the service refused it: {short}"));
            }
        }
    }
    Ok(())
}

/// What went wrong, with its causes (`… : tcp connect error: Connection refused`), without
/// the URL: a robot's URL holds its token, and this text is shown and kept.
fn send_error(e: reqwest::Error) -> String {
    let e = e.without_url();
    let mut text = e.to_string();
    let mut cause = std::error::Error::source(&e);
    while let Some(c) = cause {
        let more = c.to_string();
        if !text.contains(&more) {
            text = format!("{text}: {more}");
        }
        cause = c.source();
    }
    text
}

/// An SMTP submission.
struct Email<'a> {
    host: &'a str,
    port: u16,
    security: SmtpSecurity,
    login: Option<(&'a str, &'a str)>,
    from: &'a str,
    to: &'a [String],
}

impl Email<'_> {
    async fn send(&self, subject: &str, body: &str) -> Result<(), String> {
        use lettre::message::header::ContentType;
        use lettre::transport::smtp::authentication::Credentials;
        use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
        type Smtp = AsyncSmtpTransport<Tokio1Executor>;
        let mut builder = match self.security {
            SmtpSecurity::Starttls => Smtp::starttls_relay(self.host),
            SmtpSecurity::Tls => Smtp::relay(self.host),
            SmtpSecurity::None => Ok(Smtp::builder_dangerous(self.host)),
        }
        .map_err(|e| format!("cannot reach {}: {e}", self.host))?
        .port(self.port)
        .timeout(Some(SEND_TIMEOUT));
        if let Some((user, password)) = self.login {
            builder = builder.credentials(Credentials::new(user.into(), password.into()));
        }
        let mut mail = lettre::Message::builder()
            .from(self.from.parse().map_err(|e| format!("from: {e}"))?)
            .subject(subject)
            .header(ContentType::TEXT_PLAIN);
        for (i, to) in self.to.iter().enumerate() {
            mail = mail.to(to.parse().map_err(|e| format!("to[{i}]: {e}"))?);
        }
        let mail = mail.body(body.to_string()).map_err(|e| e.to_string())?;
        builder
            .build()
            .send(mail)
            .await
            .map(drop)
            .map_err(|e| format!("SMTP: {e}"))
    }
}

/// The HTTP client alerts are sent with.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(SEND_TIMEOUT)
        .build()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_follow_the_services_documents() {
        // Computed apart from this code, as the services' documents describe:
        // printf '%s\n%s' 1700000000000 SECtest | openssl dgst -sha256 -hmac SECtest -binary | base64
        assert_eq!(
            dingtalk_sign("SECtest", 1_700_000_000_000),
            "aZLLrriXgn05YbwaGR7knYsLeJADjr9NwLaNNKpxh4g%3D"
        );
        // printf '' | openssl dgst -sha256 -hmac "$(printf '%s\n%s' 1700000000 secret)" -binary | base64
        assert_eq!(
            feishu_sign("secret", 1_700_000_000),
            "fiWS2+gh28DOydAv7hzONH/mDn9+b1Y4Y5ivXWXy8vA="
        );
    }

    #[test]
    fn messages_speak_the_channels_language() {
        let msg = Message {
            outcome: AlertOn::Failed,
            job_id: "backup".into(),
            job_name: "Nightly backup".into(),
            run_id: Some(42),
            scheduled: Some("2026-12-02T02:30:00Z".parse().unwrap()),
            error: Some("exit status 3".into()),
            link: Some("http://127.0.0.1:7878/jobs/backup?run=42".into()),
            held_back: 2,
        };
        assert_eq!(
            msg.text(Language::English),
            "Kairos: job \"Nightly backup\" failed\nJob id: backup\n\
             Run #42, scheduled for 2026-12-02 02:30:00 UTC\nError: exit status 3\n\
             2 more alerts of this job were held back since the last one.\n\
             Open: http://127.0.0.1:7878/jobs/backup?run=42"
        );
        assert!(msg
            .text(Language::Chinese)
            .starts_with("Kairos：任务“Nightly backup”失败\n任务 ID：backup"));
    }
}
