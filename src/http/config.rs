//! The `[server]` configuration section: where to listen, TLS, which peers are
//! trusted reverse proxies, and how large request bodies may be.

use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use anyhow::Context;
use bytesize::ByteSize;
use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use crate::config::{Problem, Section};

/// Request bodies above this are refused whatever the configuration says.
const MAX_BODY_LIMIT: u64 = 1 << 30;

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    /// `IP:PORT` to listen on.
    pub bind: String,
    /// The URL people use to reach this instance, when it differs from `bind`
    /// (behind a reverse proxy). Used in links Watchpost prints.
    pub public_url: Option<String>,
    pub tls: TlsConfig,
    /// Peers (IPs or CIDRs) whose `X-Forwarded-For` / `Forwarded` headers are
    /// believed. A list, or one comma-separated string (handy in the environment).
    #[serde(deserialize_with = "list_or_comma_separated")]
    pub trusted_proxies: Vec<String>,
    pub body_limit: BodyLimits,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct TlsConfig {
    /// PEM certificate chain.
    pub cert: Option<PathBuf>,
    /// PEM private key.
    pub key: Option<PathBuf>,
}

/// Largest accepted request body per route class.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(default)]
pub struct BodyLimits {
    /// HTML pages and their forms.
    pub pages: ByteSize,
    /// The JSON API under `/api/`.
    pub api: ByteSize,
}

pub fn list_or_comma_separated<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Vec<String>, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum ListOrText {
        List(Vec<String>),
        Text(String),
    }
    Ok(match ListOrText::deserialize(deserializer)? {
        ListOrText::List(items) => items,
        ListOrText::Text(text) => text
            .split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(str::to_string)
            .collect(),
    })
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            bind: "127.0.0.1:8080".to_string(),
            public_url: None,
            tls: TlsConfig::default(),
            trusted_proxies: Vec::new(),
            body_limit: BodyLimits::default(),
        }
    }
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            pages: ByteSize::kib(64),
            api: ByteSize::mib(1),
        }
    }
}

impl ServerConfig {
    pub fn bind_addr(&self) -> anyhow::Result<SocketAddr> {
        self.bind
            .parse()
            .with_context(|| format!("server.bind {:?} is not IP:PORT", self.bind))
    }

    pub fn tls_enabled(&self) -> bool {
        self.tls.cert.is_some() && self.tls.key.is_some()
    }

    pub fn proxy_networks(&self) -> anyhow::Result<Vec<IpNet>> {
        self.trusted_proxies
            .iter()
            .map(|p| parse_network(p))
            .collect()
    }

    /// How a client on this host reaches a server bound to `addr`.
    pub fn local_url(&self, addr: SocketAddr) -> String {
        let scheme = if self.tls_enabled() { "https" } else { "http" };
        format!("{scheme}://{}", local_authority(addr))
    }

    /// Where people reach this instance: `public_url` when set (a proxy in
    /// front), else the local URL of `addr`. No trailing slash.
    pub fn url(&self, addr: SocketAddr) -> String {
        match &self.public_url {
            Some(url) => url.trim_end_matches('/').to_string(),
            None => self.local_url(addr),
        }
    }
}

/// The address a local client should use to reach `addr`: a wildcard bind is
/// reached through loopback.
fn local_authority(addr: SocketAddr) -> String {
    match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => format!("127.0.0.1:{}", addr.port()),
        IpAddr::V6(ip) if ip.is_unspecified() => format!("[::1]:{}", addr.port()),
        _ => addr.to_string(),
    }
}

/// An IP address (as a one-address network) or a CIDR network.
pub fn parse_network(text: &str) -> anyhow::Result<IpNet> {
    let text = text.trim();
    if let Ok(net) = text.parse::<IpNet>() {
        return Ok(net.trunc());
    }
    let ip: IpAddr = text
        .parse()
        .with_context(|| format!("{text:?} is not an IP address or CIDR"))?;
    Ok(IpNet::from(ip))
}

impl Section for ServerConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        if self.bind.parse::<SocketAddr>().is_err() {
            problems.push(Problem::new(
                format!("{prefix}.bind"),
                format!(
                    "{:?} is not HOST:PORT with an IP address, e.g. 127.0.0.1:8080",
                    self.bind
                ),
            ));
        }
        if let Some(url) = &self.public_url {
            match url::Url::parse(url) {
                Ok(u) if matches!(u.scheme(), "http" | "https") && u.host().is_some() => {}
                _ => problems.push(Problem::new(
                    format!("{prefix}.public_url"),
                    format!("{url:?} is not an http(s) URL, e.g. https://watchpost.example.com"),
                )),
            }
        }
        for (i, proxy) in self.trusted_proxies.iter().enumerate() {
            if parse_network(proxy).is_err() {
                problems.push(Problem::new(
                    format!("{prefix}.trusted_proxies[{i}]"),
                    format!("{proxy:?} is not an IP address or CIDR, e.g. 10.0.0.0/8 or 127.0.0.1"),
                ));
            }
        }
        self.tls.validate(&format!("{prefix}.tls"), problems);
        for (name, limit) in [
            ("pages", self.body_limit.pages),
            ("api", self.body_limit.api),
        ] {
            if limit.as_u64() == 0 || limit.as_u64() > MAX_BODY_LIMIT {
                problems.push(Problem::new(
                    format!("{prefix}.body_limit.{name}"),
                    format!(
                        "{limit} is out of range; use a size between 1 B and 1 GiB, e.g. \"64 KiB\""
                    ),
                ));
            }
        }
    }
}

impl Section for TlsConfig {
    fn validate(&self, prefix: &str, problems: &mut Vec<Problem>) {
        match (&self.cert, &self.key) {
            (None, None) => {}
            (Some(_), None) | (None, Some(_)) => problems.push(Problem::new(
                prefix,
                "set both cert and key to serve HTTPS, or neither to serve plain HTTP behind a proxy",
            )),
            (Some(cert), Some(key)) => {
                if let Err(e) = super::tls::load_certificates(cert) {
                    problems.push(Problem::new(format!("{prefix}.cert"), format!("{e:#}")));
                }
                if let Err(e) = super::tls::load_private_key(key) {
                    problems.push(Problem::new(format!("{prefix}.key"), format!("{e:#}")));
                }
            }
        }
    }
}
