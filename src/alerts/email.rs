//! The e-mail channel: notifications as plain-text mail over SMTP with
//! implicit TLS (`tls = "tls"`, port 465), required STARTTLS (`"starttls"`,
//! port 587, the default) or, to a relay on loopback only, no TLS (`"none"`,
//! port 25). Credentials are never sent without TLS. The notification's
//! idempotency key becomes the `Message-ID`, so a mail system that drops
//! duplicate ids shows a retried notification once.

use lettre::message::{Mailbox, header::ContentType};
use lettre::transport::smtp::authentication::Credentials;
use lettre::transport::smtp::client::{Tls, TlsParameters};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message as Mail, Tokio1Executor};

use super::channels::Message;
use super::config::ChannelConfig;

const TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);

#[derive(Clone)]
pub struct Email {
    host: String,
    port: u16,
    security: Security,
    credentials: Option<(String, String)>,
    from: Mailbox,
    to: Vec<Mailbox>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Security {
    Tls,
    StartTls,
    None,
}

fn mailbox(field: &str, text: &str) -> Result<Mailbox, String> {
    text.parse()
        .map_err(|_| format!("{field} {text:?} is not an e-mail address"))
}

impl Email {
    /// From a `kind = "email"` channel entry, or what is wrong with it.
    pub fn from_config(c: &ChannelConfig) -> Result<Email, String> {
        let host = c
            .smtp_host
            .clone()
            .filter(|h| !h.trim().is_empty())
            .ok_or("kind \"email\" needs smtp_host")?;
        let (security, default_port) = match c.tls.as_deref().unwrap_or("starttls") {
            "tls" => (Security::Tls, 465),
            "starttls" => (Security::StartTls, 587),
            "none" => (Security::None, 25),
            other => return Err(format!("tls {other:?} is not one of tls, starttls, none")),
        };
        let loopback = host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback());
        if security == Security::None && !loopback {
            return Err(format!(
                "tls = \"none\" is only allowed for a relay on loopback, not {host:?}; use starttls or tls"
            ));
        }
        let password = match (&c.password, &c.password_file) {
            (Some(p), _) => Some(p.expose().to_string()),
            (None, Some(path)) => Some(
                std::fs::read_to_string(path)
                    .map(|s| s.trim().to_string())
                    .map_err(|e| format!("password_file {} cannot be read: {e}", path.display()))?,
            ),
            (None, None) => None,
        };
        let credentials = match (&c.username, password) {
            (Some(user), Some(password)) => Some((user.clone(), password)),
            (None, None) => None,
            _ => {
                return Err(
                    "give both username and password (or password_file), or neither".into(),
                );
            }
        };
        if credentials.is_some() && security == Security::None {
            return Err("credentials are never sent without TLS; use starttls or tls".into());
        }
        let from = mailbox(
            "from",
            c.from.as_deref().ok_or("kind \"email\" needs from")?,
        )?;
        if c.to.is_empty() {
            return Err("kind \"email\" needs to = [\"someone@example.com\"]".into());
        }
        let to =
            c.to.iter()
                .map(|t| mailbox("to", t))
                .collect::<Result<Vec<_>, _>>()?;
        Ok(Email {
            port: c.smtp_port.unwrap_or(default_port),
            host,
            security,
            credentials,
            from,
            to,
        })
    }

    /// Where it goes, safe to show.
    pub fn shown_target(&self) -> String {
        format!("smtp://{}:{}", self.host, self.port)
    }

    /// The mail for `message`.
    pub fn mail(&self, message: &Message) -> Result<Mail, String> {
        let mut builder = Mail::builder()
            .from(self.from.clone())
            .subject(message.title())
            .message_id(Some(format!("<{}@watchpost>", message.idempotency_key())));
        for to in &self.to {
            builder = builder.to(to.clone());
        }
        builder
            .header(ContentType::TEXT_PLAIN)
            .body(message.text())
            .map_err(|e| format!("the mail could not be built: {e}"))
    }

    /// Sends `message`; the error says what went wrong without secrets.
    pub async fn send(&self, message: &Message) -> Result<(), String> {
        let mail = self.mail(message)?;
        let tls = |host: &str| {
            TlsParameters::new(host.to_string()).map_err(|e| format!("TLS setup failed: {e}"))
        };
        let tls = match self.security {
            Security::Tls => Tls::Wrapper(tls(&self.host)?),
            Security::StartTls => Tls::Required(tls(&self.host)?),
            Security::None => Tls::None,
        };
        let mut transport =
            AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(self.host.clone())
                .port(self.port)
                .tls(tls)
                .timeout(Some(TIMEOUT));
        if let Some((user, password)) = &self.credentials {
            transport = transport.credentials(Credentials::new(user.clone(), password.clone()));
        }
        transport.build().send(mail).await.map(|_| ()).map_err(|e| {
            if e.is_permanent() || e.is_transient() {
                "the mail server refused the message".to_string()
            } else if e.is_timeout() {
                "the mail server did not answer in time".to_string()
            } else {
                "the mail server could not be reached or the TLS handshake failed".to_string()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn entry(extra: impl FnOnce(&mut ChannelConfig)) -> ChannelConfig {
        let mut c = ChannelConfig {
            id: "mail".into(),
            kind: "email".into(),
            smtp_host: Some("smtp.example.com".into()),
            from: Some("Watchpost <watchpost@example.com>".into()),
            to: vec!["ops@example.com".into()],
            ..ChannelConfig::default()
        };
        extra(&mut c);
        c
    }

    #[test]
    fn ports_follow_the_tls_mode_and_plain_smtp_stays_on_loopback() {
        let email = Email::from_config(&entry(|_| {})).unwrap();
        assert_eq!(email.shown_target(), "smtp://smtp.example.com:587");
        let email = Email::from_config(&entry(|c| c.tls = Some("tls".into()))).unwrap();
        assert_eq!(email.shown_target(), "smtp://smtp.example.com:465");
        let err = Email::from_config(&entry(|c| c.tls = Some("none".into())))
            .err()
            .unwrap();
        assert!(err.contains("loopback"), "{err}");
        let local = entry(|c| {
            c.tls = Some("none".into());
            c.smtp_host = Some("127.0.0.1".into());
        });
        assert!(Email::from_config(&local).is_ok());
        let with_password = ChannelConfig {
            username: Some("u".into()),
            password: Some(Secret::new("p")),
            ..local
        };
        let err = Email::from_config(&with_password).err().unwrap();
        assert!(err.contains("never sent without TLS"), "{err}");
    }

    #[test]
    fn bad_entries_say_what_is_missing() {
        let bad = |f: fn(&mut ChannelConfig)| Email::from_config(&entry(f)).err().unwrap();
        assert!(bad(|c| c.smtp_host = None).contains("smtp_host"));
        assert!(bad(|c| c.to.clear()).contains("to ="));
        assert!(bad(|c| c.to = vec!["not an address".into()]).contains("not an e-mail"));
        assert!(bad(|c| c.username = Some("u".into())).contains("both"));
        assert!(bad(|c| c.tls = Some("ssl".into())).contains("tls"));
    }
}
