//! Running one check once. HTTP goes through shared `reqwest` clients (one
//! per TLS-verification × redirect choice, so connections are reused), TCP
//! is a plain connect, TLS is a handshake that reads the peer certificate.
//! Every failure becomes a reason a person can act on: the DNS name that did
//! not resolve, a refused connection, a timeout, a TLS error, a status or
//! keyword that did not match. Heartbeats and Watchpost's own checks are
//! judged elsewhere ([`super::heartbeat`], [`super::builtin`]).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::check::{Check, HttpProbe, JsonTest, Probe};
use super::model::{Outcome, State};
use super::socket::{self, AcceptAny, days_left};

const USER_AGENT: &str = concat!("Watchpost/", env!("CARGO_PKG_VERSION"));
/// The most of a response body read for keyword and JSON conditions.
const MAX_READ: usize = 1024 * 1024;

/// The outbound HTTP clients, built once and shared by every run.
pub struct Clients {
    /// Indexed by `verify_tls as usize * 2 + follow_redirects as usize`.
    http: [reqwest::Client; 4],
    pub(super) tls_verified: Arc<rustls::ClientConfig>,
    pub(super) tls_unverified: Arc<rustls::ClientConfig>,
}

impl Clients {
    pub fn new() -> anyhow::Result<Clients> {
        // reqwest is built without a default provider: use ring, like the server.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let build = |verify: bool, follow: bool| {
            reqwest::Client::builder()
                .user_agent(USER_AGENT)
                .tls_danger_accept_invalid_certs(!verify)
                .tls_info(true)
                .redirect(if follow {
                    reqwest::redirect::Policy::limited(10)
                } else {
                    reqwest::redirect::Policy::none()
                })
                .pool_idle_timeout(Duration::from_secs(90))
                .pool_max_idle_per_host(2)
                .build()
        };
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let verifier = rustls_platform_verifier::Verifier::new(provider.clone())?;
        let tls_verified = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(verifier))
            .with_no_client_auth();
        let tls_unverified = rustls::ClientConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()?
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth();
        Ok(Clients {
            http: [
                build(false, false)?,
                build(false, true)?,
                build(true, false)?,
                build(true, true)?,
            ],
            tls_verified: Arc::new(tls_verified),
            tls_unverified: Arc::new(tls_unverified),
        })
    }

    fn http(&self, verify: bool, follow: bool) -> &reqwest::Client {
        &self.http[usize::from(verify) * 2 + usize::from(follow)]
    }
}

/// Runs a network check once (HTTP, TCP, TLS). Heartbeat and builtin checks
/// are not probed; they answer `None`.
pub async fn run(clients: &Clients, check: &Check) -> Option<Outcome> {
    let outcome = match &check.probe {
        Probe::Http(h) => http(clients, h, check.timeout).await,
        Probe::Tcp { host, port } => socket::tcp(host, *port, check.timeout).await,
        Probe::Tls(t) => socket::tls(clients, t, check.timeout).await,
        Probe::Heartbeat { .. } | Probe::Builtin(_) => return None,
    };
    Some(outcome)
}

async fn http(clients: &Clients, probe: &HttpProbe, timeout: Duration) -> Outcome {
    let client = clients.http(probe.verify_tls, probe.follow_redirects);
    let mut request = client
        .request(probe.method.clone(), probe.url.clone())
        .timeout(timeout);
    for (name, value) in &probe.headers {
        request = request.header(name, value);
    }
    if let Some(body) = &probe.body {
        request = request.body(body.clone());
    }
    let started = Instant::now();
    let deadline = started + timeout;
    let response = match request.send().await {
        Ok(r) => r,
        Err(e) => return Outcome::down(http_reason(&e, &probe.url, timeout)),
    };
    let status = response.status().as_u16();
    let cert_days = response
        .extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|info| info.peer_certificate())
        .and_then(days_left);
    let needs_body =
        probe.keyword.is_some() || probe.keyword_absent.is_some() || probe.json.is_some();
    let body = if needs_body {
        match tokio::time::timeout_at(deadline.into(), read_capped(response)).await {
            Ok(Ok(body)) => Some(body),
            Ok(Err(e)) => {
                return with(
                    Outcome::down(format!("reading the response failed: {}", chain(&e))),
                    status,
                    cert_days,
                );
            }
            Err(_) => {
                return with(
                    Outcome::down(format!(
                        "timed out after {} reading the response",
                        secs(timeout)
                    )),
                    status,
                    cert_days,
                );
            }
        }
    } else {
        drop(response);
        None
    };
    let latency_ms = started.elapsed().as_secs_f64() * 1000.0;
    let mut outcome = judge_http(probe, status, body.as_deref(), latency_ms);
    if cert_days.is_some_and(|days| days < 0) && outcome.status != State::Down {
        outcome = Outcome::down("the certificate has expired");
    }
    with(outcome, status, cert_days)
}

fn with(mut outcome: Outcome, status: u16, cert_days: Option<i64>) -> Outcome {
    outcome.http_status = Some(status);
    outcome.cert_days = cert_days;
    outcome
}

/// Applies an HTTP check's conditions to a response (pure; unit-tested).
pub fn judge_http(probe: &HttpProbe, status: u16, body: Option<&str>, latency_ms: f64) -> Outcome {
    if !probe
        .expect
        .iter()
        .any(|(lo, hi)| (*lo..=*hi).contains(&status))
    {
        let expected: Vec<String> = probe
            .expect
            .iter()
            .map(|(lo, hi)| {
                if lo == hi {
                    lo.to_string()
                } else {
                    format!("{lo}-{hi}")
                }
            })
            .collect();
        let mut o = Outcome::down(format!("status {status}, expected {}", expected.join(", ")));
        o.latency_ms = Some(latency_ms);
        return o;
    }
    let body = body.unwrap_or_default();
    let fail = |reason: String| {
        let mut o = Outcome::down(reason);
        o.latency_ms = Some(latency_ms);
        o
    };
    if let Some(m) = &probe.keyword
        && !m.found_in(body)
    {
        return fail(format!("{} not found in the response", m.describe()));
    }
    if let Some(m) = &probe.keyword_absent
        && m.found_in(body)
    {
        return fail(format!(
            "{} found in the response, and must not be",
            m.describe()
        ));
    }
    if let Some(cond) = &probe.json {
        let value: serde_json::Value = match serde_json::from_str(body) {
            Ok(v) => v,
            Err(e) => return fail(format!("the response is not JSON ({e})")),
        };
        let Some(found) = value.pointer(&cond.pointer) else {
            return fail(format!(
                "JSON pointer {} is not in the response",
                cond.pointer
            ));
        };
        let text = match found {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        match &cond.test {
            JsonTest::Equals(want) if &text != want => {
                return fail(format!("{} is {text:?}, expected {want:?}", cond.pointer));
            }
            JsonTest::Contains(want) if !text.contains(want.as_str()) => {
                return fail(format!(
                    "{} is {text:?}, which does not contain {want:?}",
                    cond.pointer
                ));
            }
            _ => {}
        }
    }
    if let Some(limit) = probe.degraded_after {
        let limit_ms = limit.as_secs_f64() * 1000.0;
        if latency_ms > limit_ms {
            return Outcome::degraded(
                Some(latency_ms),
                format!("slow: {latency_ms:.0} ms, over the {limit_ms:.0} ms limit"),
            );
        }
    }
    Outcome::up(latency_ms)
}

async fn read_capped(mut response: reqwest::Response) -> Result<String, reqwest::Error> {
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await? {
        let room = MAX_READ.saturating_sub(body.len());
        body.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if body.len() >= MAX_READ {
            break;
        }
    }
    Ok(String::from_utf8_lossy(&body).into_owned())
}

/// A reqwest failure as a reason: timeout, refused, DNS, TLS, or the chain.
fn http_reason(e: &reqwest::Error, url: &url::Url, timeout: Duration) -> String {
    if e.is_timeout() {
        return format!("timed out after {}", secs(timeout));
    }
    let host = url.host_str().unwrap_or_default();
    let text = chain(e);
    if let Some(reason) = io_reason(e, host) {
        return reason;
    }
    if find::<rustls::Error>(e).is_some()
        || text.contains("certificate")
        || text.contains("tls handshake")
    {
        let detail = find::<rustls::Error>(e).map_or(text.clone(), |t| t.to_string());
        return format!("TLS error: {detail}");
    }
    if text.contains("dns error") || text.contains("failed to lookup address") {
        return format!("DNS lookup failed for {host}");
    }
    if e.is_redirect() {
        return format!("too many redirects ({text})");
    }
    text
}

pub(super) fn io_reason(e: &(dyn std::error::Error + 'static), host: &str) -> Option<String> {
    let io = find::<std::io::Error>(e)?;
    Some(match io.kind() {
        std::io::ErrorKind::ConnectionRefused => format!("connection refused by {host}"),
        std::io::ErrorKind::ConnectionReset => format!("connection reset by {host}"),
        std::io::ErrorKind::TimedOut => "timed out connecting".to_string(),
        std::io::ErrorKind::HostUnreachable | std::io::ErrorKind::NetworkUnreachable => {
            format!("{host} is unreachable")
        }
        _ => return None,
    })
}

pub(super) fn find<'a, T: std::error::Error + 'static>(
    e: &'a (dyn std::error::Error + 'static),
) -> Option<&'a T> {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = current {
        if let Some(found) = err.downcast_ref::<T>() {
            return Some(found);
        }
        current = err.source();
    }
    None
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let next = s.to_string();
        if !text.contains(&next) {
            text.push_str(": ");
            text.push_str(&next);
        }
        source = s.source();
    }
    text
}

pub(super) fn secs(d: Duration) -> String {
    humantime::format_duration(d).to_string()
}

#[cfg(test)]
mod tests {
    use super::super::definition::Definition;
    use super::*;

    fn probe(def: Definition) -> HttpProbe {
        let def = Definition {
            id: "x".into(),
            name: "X".into(),
            kind: "http".into(),
            url: Some("http://127.0.0.1/".into()),
            ..def
        };
        match def.validate("").unwrap().probe {
            Probe::Http(h) => *h,
            _ => unreachable!(),
        }
    }

    #[test]
    fn http_conditions_give_distinct_reasons() {
        let plain = probe(Definition::default());
        assert_eq!(judge_http(&plain, 200, None, 5.0).status, State::Up);
        let o = judge_http(&plain, 503, None, 5.0);
        assert_eq!(o.reason.as_deref(), Some("status 503, expected 200-399"));

        let keyword = probe(Definition {
            keyword: Some("Welcome".into()),
            ..Definition::default()
        });
        assert_eq!(
            judge_http(&keyword, 200, Some("<h1>Welcome</h1>"), 1.0).status,
            State::Up
        );
        let o = judge_http(&keyword, 200, Some("<h1>Oops</h1>"), 1.0);
        assert_eq!(
            o.reason.as_deref(),
            Some("keyword \"Welcome\" not found in the response")
        );

        let json = probe(Definition {
            json_pointer: Some("/db/status".into()),
            json_equals: Some("ok".into()),
            ..Definition::default()
        });
        assert_eq!(
            judge_http(&json, 200, Some(r#"{"db":{"status":"ok"}}"#), 1.0).status,
            State::Up
        );
        let o = judge_http(&json, 200, Some(r#"{"db":{"status":"bad"}}"#), 1.0);
        assert_eq!(
            o.reason.as_deref(),
            Some("/db/status is \"bad\", expected \"ok\"")
        );

        let slow = probe(Definition {
            degraded_after: Some("200ms".into()),
            ..Definition::default()
        });
        assert_eq!(judge_http(&slow, 200, None, 250.0).status, State::Degraded);
        assert_eq!(judge_http(&slow, 200, None, 150.0).status, State::Up);
    }
}
