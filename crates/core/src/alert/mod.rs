//! Alerts: notification channels (webhook, Slack, DingTalk, Feishu, WeCom, email), the rules
//! that say which run outcomes a channel hears, and the record of every delivery attempt.

#[cfg(feature = "alerts")]
mod deliver;
#[cfg(feature = "alerts")]
mod message;

use std::collections::BTreeMap;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

#[cfg(feature = "alerts")]
pub(crate) use deliver::Alerter;
#[cfg(feature = "alerts")]
pub use message::Message;

/// A place alerts are sent to.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Channel {
    /// Unique identifier; an empty one is generated when the channel is added.
    #[serde(default)]
    pub id: String,
    /// Short human name.
    pub name: String,
    /// Sends nothing while false.
    #[serde(default = "yes")]
    pub enabled: bool,
    /// The language of the messages it sends.
    #[serde(default)]
    pub language: Language,
    /// Where and how it sends.
    pub target: Target,
}

fn yes() -> bool {
    true
}

/// The language of a channel's messages.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum Language {
    /// English.
    #[default]
    #[serde(rename = "en")]
    English,
    /// Simplified Chinese (简体中文).
    #[serde(rename = "zh-CN")]
    Chinese,
}

/// A channel's service and its settings. JSON: `{"kind":"slack","url":"https://hooks…"}`.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum Target {
    /// A JSON POST to any URL.
    Webhook {
        /// The URL.
        url: String,
        /// Extra request headers (e.g. `Authorization`).
        #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
        headers: BTreeMap<String, String>,
        /// The body, with `{{job_id}}`, `{{job_name}}`, `{{run_id}}`, `{{outcome}}`,
        /// `{{title}}`, `{{text}}`, `{{error}}`, `{{scheduled}}`, `{{link}}` and
        /// `{{held_back}}` replaced by
        /// JSON-escaped values; absent: a JSON object with those fields.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        template: Option<String>,
    },
    /// A Slack incoming webhook.
    Slack {
        /// The webhook URL (a secret).
        url: String,
    },
    /// A DingTalk group robot.
    Dingtalk {
        /// The robot's URL with its access token (a secret).
        url: String,
        /// The robot's signing secret (`SEC…`), when signing is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
    /// A Feishu (Lark) custom bot.
    Feishu {
        /// The bot's webhook URL (a secret).
        url: String,
        /// The bot's signature secret, when signature verification is on.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        secret: Option<String>,
    },
    /// A WeCom (企业微信) group robot.
    Wecom {
        /// The robot's webhook URL with its key (a secret).
        url: String,
    },
    /// Email over SMTP.
    Email {
        /// The SMTP server's host name.
        host: String,
        /// Its port (587 for STARTTLS, 465 for TLS, 25 for none).
        port: u16,
        /// How the connection is secured.
        #[serde(default)]
        security: SmtpSecurity,
        /// The user to log in as, if the server wants a login.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        username: Option<String>,
        /// Its password (a secret).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        password: Option<String>,
        /// The sender, e.g. `Kairos <kairos@example.com>`.
        from: String,
        /// The recipients.
        to: Vec<String>,
    },
}

/// How an SMTP connection is secured.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SmtpSecurity {
    /// Plain connection upgraded with STARTTLS (port 587).
    #[default]
    Starttls,
    /// TLS from the start (port 465).
    Tls,
    /// No encryption (a local relay only).
    None,
}

/// What a rule lets a channel hear about a job's runs.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertOn {
    /// A run failed (after its last retry).
    Failed,
    /// A run hit its timeout.
    TimedOut,
    /// A fire came later than its misfire grace time and did not run.
    Missed,
    /// A fire was dropped because the job had its maximum number of runs active.
    Skipped,
    /// A run was in flight on a node that died.
    Abandoned,
    /// The first success after a failure.
    Recovered,
    /// A run took longer than the rule's `longer_than_s`.
    Slow,
    /// A test message sent from the settings.
    Test,
}

impl AlertOn {
    /// The outcome's JSON name, e.g. `timed_out`.
    pub fn as_str(self) -> &'static str {
        match self {
            AlertOn::Failed => "failed",
            AlertOn::TimedOut => "timed_out",
            AlertOn::Missed => "missed",
            AlertOn::Skipped => "skipped",
            AlertOn::Abandoned => "abandoned",
            AlertOn::Recovered => "recovered",
            AlertOn::Slow => "slow",
            AlertOn::Test => "test",
        }
    }
}

/// Which outcomes of a job's runs a channel hears.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertRule {
    /// The channel's id.
    pub channel: String,
    /// The outcomes it hears.
    pub on: Vec<AlertOn>,
    /// For `slow`: a run longer than this many seconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub longer_than_s: Option<u64>,
}

/// One attempt to deliver an alert.
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Delivery {
    /// The attempt's id (given by the store).
    pub id: i64,
    /// When it was made.
    pub at: DateTime<Utc>,
    /// The channel's id.
    pub channel: String,
    /// The job it was about, if any (not for a test).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_id: Option<String>,
    /// The run it was about, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_id: Option<i64>,
    /// What it announced.
    pub outcome: AlertOn,
    /// 1 for the first try.
    pub attempt: u32,
    /// The service accepted it.
    pub ok: bool,
    /// Why it was not accepted (the service's answer or the connection's error).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// What replaces a secret in what the API returns; sending it back keeps the stored secret.
pub const MASK: &str = "••••••";

/// A channel's problem, with the JSON path of the field at fault.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChannelError {
    /// The field, e.g. `target.url`.
    pub field: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

fn channel_error(field: &str, message: impl Into<String>) -> Result<(), ChannelError> {
    Err(ChannelError {
        field: field.to_string(),
        message: message.into(),
    })
}

/// Checks an http(s) URL.
fn check_url(url: &str, field: &str) -> Result<(), ChannelError> {
    let rest = url
        .strip_prefix("https://")
        .or_else(|| url.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') => Ok(()),
        _ => channel_error(field, "must be an http:// or https:// URL"),
    }
}

impl Channel {
    /// Checks every field; errors name the field (`name`, `target.url`, `target.to[1]`, …).
    /// A masked secret left in (one that could not be matched to a stored one) is refused.
    pub fn validate(&self) -> Result<(), ChannelError> {
        if let Some(field) = self.masked_field() {
            return channel_error(
                &field,
                "enter it in full: the saved value is hidden and cannot be reused here",
            );
        }
        if self.name.trim().is_empty() {
            return channel_error("name", "must not be empty");
        }
        if self.id.len() > 128 || self.id.chars().any(|c| c.is_control() || c == '/') {
            return channel_error(
                "id",
                "use at most 128 characters, no '/' or control characters",
            );
        }
        match &self.target {
            Target::Webhook { url, headers, .. } => {
                check_url(url, "target.url")?;
                if let Some(name) = headers
                    .keys()
                    .find(|k| k.trim().is_empty() || k.contains(':'))
                {
                    return channel_error(
                        "target.headers",
                        format!("'{name}' is not a header name"),
                    );
                }
                Ok(())
            }
            Target::Slack { url }
            | Target::Wecom { url }
            | Target::Dingtalk { url, .. }
            | Target::Feishu { url, .. } => check_url(url, "target.url"),
            Target::Email { host, from, to, .. } => {
                if host.trim().is_empty() {
                    return channel_error("target.host", "the SMTP server's host name is needed");
                }
                if !from.contains('@') {
                    return channel_error("target.from", "must be an email address");
                }
                if to.is_empty() {
                    return channel_error("target.to", "name at least one recipient");
                }
                if let Some(i) = to.iter().position(|a| !a.contains('@')) {
                    return channel_error(&format!("target.to[{i}]"), "must be an email address");
                }
                Ok(())
            }
        }
    }

    /// The channel as the API shows it: secrets (URLs past their host, header values,
    /// signing secrets, passwords) replaced by [`MASK`]; URLs keep their host and last
    /// characters, which tell two apart.
    pub fn masked(&self) -> Channel {
        let mut shown = self.clone();
        match &mut shown.target {
            Target::Webhook { url, headers, .. } => {
                *url = mask_url(url);
                for value in headers.values_mut() {
                    *value = MASK.to_string();
                }
            }
            Target::Slack { url } | Target::Wecom { url } => *url = mask_url(url),
            Target::Dingtalk { url, secret } | Target::Feishu { url, secret } => {
                *url = mask_url(url);
                if secret.is_some() {
                    *secret = Some(MASK.to_string());
                }
            }
            Target::Email { password, .. } => {
                if password.is_some() {
                    *password = Some(MASK.to_string());
                }
            }
        }
        shown
    }

    /// This channel as sent back by the API for `stored`: masked secrets take the stored ones.
    pub fn unmasked(mut self, stored: &Channel) -> Channel {
        // Only a value sent back exactly as shown stands for the stored one; an edited one
        // that still holds the mask is refused by `validate`.
        let keep = |new: &mut String, old: &str| {
            if *new == MASK || *new == mask_url(old) {
                *new = old.to_string();
            }
        };
        match (&mut self.target, &stored.target) {
            (
                Target::Webhook { url, headers, .. },
                Target::Webhook {
                    url: old_url,
                    headers: old,
                    ..
                },
            ) => {
                keep(url, old_url);
                for (name, value) in headers.iter_mut() {
                    if let Some(previous) = old.get(name) {
                        keep(value, previous);
                    }
                }
            }
            (Target::Slack { url }, Target::Slack { url: old })
            | (Target::Wecom { url }, Target::Wecom { url: old }) => keep(url, old),
            (
                Target::Dingtalk { url, secret },
                Target::Dingtalk {
                    url: old,
                    secret: old_secret,
                },
            )
            | (
                Target::Feishu { url, secret },
                Target::Feishu {
                    url: old,
                    secret: old_secret,
                },
            ) => {
                keep(url, old);
                if let (Some(s), Some(old)) = (secret.as_mut(), old_secret) {
                    keep(s, old);
                }
            }
            (
                Target::Email { password, .. },
                Target::Email {
                    password: Some(old),
                    ..
                },
            ) => {
                if let Some(p) = password.as_mut() {
                    keep(p, old);
                }
            }
            _ => {}
        }
        self
    }
}

impl Channel {
    /// The first field of the target still holding [`MASK`], if any.
    fn masked_field(&self) -> Option<String> {
        let json = serde_json::to_value(&self.target).ok()?;
        json.as_object()?
            .iter()
            .find(|(_, value)| value.to_string().contains(MASK))
            .map(|(name, _)| format!("target.{name}"))
    }
}

/// `https://host/…` plus the URL's last four characters, which tell two apart.
fn mask_url(url: &str) -> String {
    let scheme_end = url.find("://").map_or(0, |i| i + 3);
    let host_end = url[scheme_end..]
        .find(['/', '?'])
        .map_or(url.len(), |i| scheme_end + i);
    let tail: String = {
        let chars: Vec<char> = url[host_end..].chars().collect();
        chars[chars.len().saturating_sub(4)..].iter().collect()
    };
    format!("{}/{MASK}{tail}", &url[..host_end])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn slack(url: &str) -> Channel {
        Channel {
            id: "c1".into(),
            name: "Ops".into(),
            enabled: true,
            language: Language::English,
            target: Target::Slack { url: url.into() },
        }
    }

    #[test]
    fn secrets_are_masked_and_kept_when_sent_back() {
        let stored = slack("https://hooks.slack.com/services/T0/B0/abcdefXYZ9");
        let shown = stored.masked();
        assert_eq!(
            shown.target,
            Target::Slack {
                url: "https://hooks.slack.com/••••••XYZ9".into()
            }
        );
        assert_eq!(shown.clone().unmasked(&stored), stored);
        let replaced = slack("https://hooks.slack.com/services/new");
        assert_eq!(replaced.clone().unmasked(&stored), replaced);

        let ding = Channel {
            target: Target::Dingtalk {
                url: "https://oapi.dingtalk.com/robot/send?access_token=tok123".into(),
                secret: Some("SECabc".into()),
            },
            ..stored.clone()
        };
        let shown = ding.masked();
        let Target::Dingtalk { url, secret } = &shown.target else {
            unreachable!()
        };
        assert!(
            !url.contains("tok1") && secret.as_deref() == Some(MASK),
            "{url}"
        );
        assert_eq!(shown.clone().unmasked(&ding), ding);
    }

    #[test]
    fn a_webhook_hides_its_url_and_headers_and_a_mask_is_never_saved() {
        let stored = Channel {
            target: Target::Webhook {
                url: "https://example.com/hook?token=s3cret".into(),
                headers: [("X-Api-Key".to_string(), "k3y".to_string())].into(),
                template: None,
            },
            ..slack("https://x")
        };
        let shown = stored.masked();
        let json = serde_json::to_string(&shown).unwrap();
        assert!(!json.contains("s3cret") && !json.contains("k3y"), "{json}");
        assert_eq!(shown.clone().unmasked(&stored), stored);
        // Sent back as another kind, the mask has nothing to stand for: refused, named.
        let Target::Webhook { url, .. } = shown.target else {
            unreachable!()
        };
        let switched = slack(&url).unmasked(&stored);
        assert_eq!(switched.validate().unwrap_err().field, "target.url");
    }

    #[test]
    fn problems_name_their_field() {
        let field = |c: Channel| c.validate().unwrap_err().field;
        assert_eq!(field(slack("hooks.slack.com")), "target.url");
        assert_eq!(
            field(Channel {
                name: " ".into(),
                ..slack("https://x")
            }),
            "name"
        );
        let email = |to: Vec<&str>| Channel {
            target: Target::Email {
                host: "smtp.example.com".into(),
                port: 587,
                security: SmtpSecurity::Starttls,
                username: None,
                password: None,
                from: "kairos@example.com".into(),
                to: to.into_iter().map(String::from).collect(),
            },
            ..slack("https://x")
        };
        assert_eq!(field(email(vec![])), "target.to");
        assert_eq!(field(email(vec!["a@b.c", "nobody"])), "target.to[1]");
        assert!(email(vec!["a@b.c"]).validate().is_ok());
    }
}
