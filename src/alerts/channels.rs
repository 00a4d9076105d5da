//! Where notifications go, and the exact request each kind of channel gets:
//! a generic webhook (the notification as JSON, HMAC-signed like inbound
//! hooks), Slack and Discord incoming webhooks, ntfy topics and Telegram
//! bots; and e-mail ([`super::email`]). Every request carries
//! `Idempotency-Key` (a mail its `Message-ID`), so a receiver that honours it
//! sees each notification once even when a delivery is retried.

use std::path::Path;

use serde::{Deserialize, Serialize};

use super::config::{CHANNEL_KINDS, ChannelConfig};
use crate::http::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER, sign};

/// What a rule says, as stored in the outbox and sent to the generic webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Notification {
    pub rule: String,
    /// `firing` or `resolved` (a reminder is `firing`).
    pub status: String,
    /// `firing`, `reminder` or `resolved`.
    pub notice: String,
    pub severity: String,
    pub summary: String,
    /// What it is about: a check, a filesystem, an address.
    pub subject: String,
    /// RFC 3339, when the episode started firing.
    pub started_at: String,
    pub idempotency_key: String,
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    pub runbook: Option<String>,
    /// This instance's alerts page.
    pub url: String,
}

/// One request's worth: a notification, or a digest of several.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Message {
    One(Box<Notification>),
    Digest {
        digest: bool,
        idempotency_key: String,
        notifications: Vec<Notification>,
    },
}

impl Message {
    pub fn idempotency_key(&self) -> &str {
        match self {
            Message::One(n) => &n.idempotency_key,
            Message::Digest {
                idempotency_key, ..
            } => idempotency_key,
        }
    }

    /// The text chat channels show.
    pub fn text(&self) -> String {
        match self {
            Message::One(n) => line(n),
            Message::Digest { notifications, .. } => {
                let mut text = format!(
                    "Watchpost: {} notifications (sent together, over the rate limit)",
                    notifications.len()
                );
                for n in notifications {
                    text.push('\n');
                    text.push_str(&line(n));
                }
                text
            }
        }
    }

    pub fn title(&self) -> String {
        match self {
            Message::One(n) => format!("[{}] {}", n.status.to_uppercase(), n.rule),
            Message::Digest { notifications, .. } => {
                format!("Watchpost: {} notifications", notifications.len())
            }
        }
    }

    fn worst_severity(&self) -> &str {
        let all: Vec<&Notification> = match self {
            Message::One(n) => vec![n],
            Message::Digest { notifications, .. } => notifications.iter().collect(),
        };
        ["critical", "warning", "info"]
            .into_iter()
            .find(|s| all.iter().any(|n| n.severity == *s))
            .unwrap_or("info")
    }
}

fn line(n: &Notification) -> String {
    let mut text = format!(
        "[{}] {} ({}): {}",
        n.notice.to_uppercase(),
        n.rule,
        n.severity,
        n.summary
    );
    if let Some(runbook) = &n.runbook {
        text.push_str(&format!(" · runbook: {runbook}"));
    }
    text.push_str(&format!(" · {}", n.url));
    text
}

/// A configured channel, with its secrets read.
#[derive(Clone)]
pub struct Channel {
    pub id: String,
    pub target: Target,
    /// `config` (managed in the file) or `ui`.
    pub origin: &'static str,
}

#[derive(Clone)]
pub enum Target {
    Webhook {
        url: String,
        secret: Option<Vec<u8>>,
    },
    Slack {
        url: String,
    },
    Discord {
        url: String,
    },
    Ntfy {
        url: String,
        priority: Option<u8>,
        tags: Vec<String>,
    },
    Telegram {
        api: String,
        token: String,
        chat_id: String,
    },
    Email(Box<super::email::Email>),
}

/// What a channel sends: an HTTP request, or a mail.
pub enum Delivery {
    Http(Outgoing),
    Email(Box<super::email::Email>),
}

/// A request ready to send.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

fn read_secret_file(path: &Path, key: &str) -> Result<String, String> {
    std::fs::read_to_string(path)
        .map(|s| s.trim().to_string())
        .map_err(|e| format!("{key} {} cannot be read: {e}", path.display()))
}

fn http_url(field: &str, text: &str) -> Result<String, String> {
    match url::Url::parse(text) {
        Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => Ok(text.into()),
        _ => Err(format!("{field} is not an http(s) URL")),
    }
}

impl Channel {
    /// The channel from its `[[alerts.channels]]` entry, secrets read from
    /// their files; or what is wrong with the entry.
    pub fn from_config(c: &ChannelConfig) -> Result<Channel, String> {
        let url = |what: &str| {
            let text = c
                .url
                .as_ref()
                .map(|u| u.expose().to_string())
                .ok_or_else(|| format!("kind {:?} needs url = <{what}>", c.kind))?;
            http_url("url", &text)
        };
        let target = match c.kind.as_str() {
            "webhook" => Target::Webhook {
                url: url("the receiver's URL")?,
                secret: match (&c.secret, &c.secret_file) {
                    (Some(secret), _) => Some(secret.expose().as_bytes().to_vec()),
                    (None, Some(path)) => Some(read_secret_file(path, "secret_file")?.into_bytes()),
                    (None, None) => None,
                },
            },
            "slack" => Target::Slack {
                url: url("the incoming-webhook URL")?,
            },
            "discord" => Target::Discord {
                url: url("the Discord webhook URL")?,
            },
            "ntfy" => {
                if c.priority.is_some_and(|p| !(1..=5).contains(&p)) {
                    return Err("priority must be 1 (min) to 5 (max)".into());
                }
                Target::Ntfy {
                    url: url("the topic URL, like https://ntfy.sh/my-topic")?,
                    priority: c.priority,
                    tags: c.tags.clone(),
                }
            }
            "telegram" => {
                let token = match (&c.bot_token, &c.bot_token_file) {
                    (Some(t), _) => t.expose().to_string(),
                    (None, Some(path)) => read_secret_file(path, "bot_token_file")?,
                    (None, None) => {
                        return Err("kind \"telegram\" needs bot_token or bot_token_file".into());
                    }
                };
                let chat_id = c
                    .chat_id
                    .clone()
                    .filter(|id| !id.trim().is_empty())
                    .ok_or("kind \"telegram\" needs chat_id")?;
                let api = match &c.url {
                    Some(u) => http_url("url", u.expose())?,
                    None => "https://api.telegram.org".into(),
                };
                Target::Telegram {
                    api,
                    token,
                    chat_id,
                }
            }
            "email" => Target::Email(Box::new(super::email::Email::from_config(c)?)),
            other => {
                return Err(format!(
                    "kind {other:?} is not a channel kind; use one of {}",
                    CHANNEL_KINDS.join(", ")
                ));
            }
        };
        Ok(Channel {
            id: c.id.clone(),
            target,
            origin: super::defs::ORIGIN_CONFIG,
        })
    }

    pub fn kind(&self) -> &'static str {
        match self.target {
            Target::Webhook { .. } => "webhook",
            Target::Slack { .. } => "slack",
            Target::Discord { .. } => "discord",
            Target::Ntfy { .. } => "ntfy",
            Target::Telegram { .. } => "telegram",
            Target::Email(_) => "email",
        }
    }

    /// Where it goes, safe to show: scheme and host only (a Slack or
    /// Discord URL is itself the credential).
    pub fn shown_target(&self) -> String {
        let url = match &self.target {
            Target::Webhook { url, .. }
            | Target::Slack { url }
            | Target::Discord { url }
            | Target::Ntfy { url, .. } => url,
            Target::Telegram { api, .. } => api,
            Target::Email(email) => return email.shown_target(),
        };
        url::Url::parse(url)
            .ok()
            .and_then(|u| Some(format!("{}://{}", u.scheme(), u.host_str()?)))
            .unwrap_or_default()
    }

    /// What to send for `message`, signed at `now_s` where the kind signs.
    pub fn delivery(&self, message: &Message, now_s: i64) -> Delivery {
        match &self.target {
            Target::Email(email) => Delivery::Email(email.clone()),
            _ => Delivery::Http(self.request(message, now_s)),
        }
    }

    /// The HTTP request for `message` (every kind but e-mail).
    fn request(&self, message: &Message, now_s: i64) -> Outgoing {
        let key = message.idempotency_key().to_string();
        let mut headers = vec![
            ("Idempotency-Key".to_string(), key),
            ("Content-Type".to_string(), "application/json".to_string()),
        ];
        let json = |value: serde_json::Value| serde_json::to_vec(&value).unwrap_or_default();
        let (url, body) = match &self.target {
            Target::Webhook { url, secret } => {
                let body = serde_json::to_vec(message).unwrap_or_default();
                if let Some(secret) = secret {
                    headers.push((TIMESTAMP_HEADER.into(), now_s.to_string()));
                    headers.push((SIGNATURE_HEADER.into(), sign(secret, now_s, &body)));
                }
                (url.clone(), body)
            }
            Target::Slack { url } => (
                url.clone(),
                json(serde_json::json!({"text": message.text()})),
            ),
            Target::Discord { url } => {
                let text: String = message.text().chars().take(2000).collect();
                (url.clone(), json(serde_json::json!({"content": text})))
            }
            Target::Ntfy {
                url,
                priority,
                tags,
            } => {
                headers.retain(|(name, _)| name != "Content-Type");
                headers.push(("Content-Type".into(), "text/plain; charset=utf-8".into()));
                headers.push(("Title".into(), message.title()));
                let priority = priority.unwrap_or(match message.worst_severity() {
                    "critical" => 5,
                    "warning" => 4,
                    _ => 3,
                });
                headers.push(("Priority".into(), priority.to_string()));
                if !tags.is_empty() {
                    headers.push(("Tags".into(), tags.join(",")));
                }
                (url.clone(), message.text().into_bytes())
            }
            Target::Telegram {
                api,
                token,
                chat_id,
            } => {
                let text: String = message.text().chars().take(4096).collect();
                (
                    format!("{}/bot{token}/sendMessage", api.trim_end_matches('/')),
                    json(serde_json::json!({"chat_id": chat_id, "text": text})),
                )
            }
            Target::Email(email) => (email.shown_target(), message.text().into_bytes()),
        };
        Outgoing { url, headers, body }
    }
}

/// The client every HTTP channel sends with: a 10 s limit, no redirects.
pub fn client() -> reqwest::Result<reqwest::Client> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .user_agent(concat!("Watchpost/", env!("CARGO_PKG_VERSION")))
        .timeout(std::time::Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()
}

/// Sends `message` on `channel` once; the error says what went wrong,
/// without secrets.
pub async fn deliver(
    client: &reqwest::Client,
    channel: &Channel,
    message: &Message,
    now_s: i64,
) -> Result<(), String> {
    let outgoing = match channel.delivery(message, now_s) {
        Delivery::Http(outgoing) => outgoing,
        Delivery::Email(email) => return email.send(message).await,
    };
    let mut request = client.post(&outgoing.url).body(outgoing.body);
    for (name, value) in &outgoing.headers {
        request = request.header(name, value);
    }
    let response = request.send().await.map_err(|e| describe(&e))?;
    let status = response.status();
    if status.is_success() {
        Ok(())
    } else {
        Err(format!("the receiver answered {status}"))
    }
}

fn describe(e: &reqwest::Error) -> String {
    if e.is_timeout() {
        "the receiver did not answer in time".into()
    } else if e.is_connect() {
        "the receiver could not be reached (connection failed)".into()
    } else {
        "the request failed before an answer".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn notification() -> Notification {
        Notification {
            rule: "check-down".into(),
            status: "firing".into(),
            notice: "firing".into(),
            severity: "critical".into(),
            summary: "homepage is down: connection refused".into(),
            subject: "check:homepage".into(),
            started_at: "2026-12-07T10:00:00Z".into(),
            idempotency_key: "k1".into(),
            labels: Default::default(),
            runbook: Some("https://wiki.example.com/homepage".into()),
            url: "http://127.0.0.1:8080/alerts".into(),
        }
    }

    fn channel(kind: &str, extra: impl FnOnce(&mut ChannelConfig)) -> Channel {
        let mut c = ChannelConfig {
            id: "c".into(),
            kind: kind.into(),
            url: Some(Secret::new("https://hooks.example.com/T000/B000/XXXX")),
            ..ChannelConfig::default()
        };
        extra(&mut c);
        Channel::from_config(&c).unwrap()
    }

    #[test]
    fn chat_kinds_get_their_own_body_and_the_url_is_never_shown() {
        let msg = Message::One(Box::new(notification()));
        let slack = channel("slack", |_| {}).request(&msg, 0);
        let body: serde_json::Value = serde_json::from_slice(&slack.body).unwrap();
        assert!(body["text"].as_str().unwrap().contains("homepage is down"));
        assert!(
            body["text"]
                .as_str()
                .unwrap()
                .contains("runbook: https://wiki.example.com/homepage")
        );
        assert_eq!(
            channel("slack", |_| {}).shown_target(),
            "https://hooks.example.com"
        );
        let discord = channel("discord", |_| {}).request(&msg, 0);
        let body: serde_json::Value = serde_json::from_slice(&discord.body).unwrap();
        assert!(
            body["content"]
                .as_str()
                .unwrap()
                .starts_with("[FIRING] check-down")
        );
        let ntfy = channel("ntfy", |c| c.tags = vec!["rotating_light".into()]).request(&msg, 0);
        assert!(ntfy.headers.contains(&("Priority".into(), "5".into())));
        assert!(
            ntfy.headers
                .contains(&("Tags".into(), "rotating_light".into()))
        );
        assert!(
            ntfy.headers
                .contains(&("Title".into(), "[FIRING] check-down".into()))
        );
        let telegram = channel("telegram", |c| {
            c.url = None;
            c.bot_token = Some(Secret::new("123:abc"));
            c.chat_id = Some("-100".into());
        });
        assert_eq!(telegram.shown_target(), "https://api.telegram.org");
        let req = telegram.request(&msg, 0);
        assert_eq!(req.url, "https://api.telegram.org/bot123:abc/sendMessage");
        for r in [&slack, &discord, &ntfy, &req] {
            assert!(r.headers.contains(&("Idempotency-Key".into(), "k1".into())));
        }
    }

    #[test]
    fn bad_channels_say_what_is_missing() {
        let bad = |c: ChannelConfig| Channel::from_config(&c).err().unwrap();
        assert!(
            bad(ChannelConfig {
                kind: "pager".into(),
                ..Default::default()
            })
            .contains("webhook")
        );
        assert!(
            bad(ChannelConfig {
                kind: "slack".into(),
                ..Default::default()
            })
            .contains("url")
        );
        assert!(
            bad(ChannelConfig {
                kind: "webhook".into(),
                url: Some(Secret::new("ftp://x")),
                ..Default::default()
            })
            .contains("http")
        );
        assert!(
            bad(ChannelConfig {
                kind: "telegram".into(),
                ..Default::default()
            })
            .contains("bot_token")
        );
        assert!(
            bad(ChannelConfig {
                kind: "ntfy".into(),
                url: Some(Secret::new("https://ntfy.sh/t")),
                priority: Some(9),
                ..Default::default()
            })
            .contains("priority")
        );
    }
}
