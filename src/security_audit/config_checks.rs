//! Checks of the effective configuration: exposure without TLS, cookies
//! without `Secure`, who may read `/metrics`, 2FA for admins, lockout and
//! rate limits, secrets (too short, or written plain in the file when a
//! `*_FILE` form exists) and HSTS. Reads the configuration and the secret
//! files it names; never prints a secret's value, only where it is.

use std::net::IpAddr;
use std::path::Path;

use super::model::{Category, Collector, Finding, Severity, sub};
use crate::config::Config;
use crate::http::middleware::security_headers::SecurityHeaders;

/// Shortest secret accepted for HMAC signing keys.
const MIN_SECRET_BYTES: usize = 32;
/// A lockout looser than this is as good as none.
const MAX_LOCKOUT_FAILURES: u32 = 10;
/// NIST SP 800-63B: at most 100 consecutive failures per account.
const MAX_DAILY_FAILURES: u32 = 100;
/// Login and TOTP attempts per minute per address above this are no limit.
const MAX_LOGIN_PER_MINUTE: u32 = 60;

fn is_public(ip: IpAddr) -> bool {
    !ip.is_loopback()
}

/// Every configuration check. `file_text` is the configuration file as
/// written (to see where secrets were put), when there is one.
pub fn check(config: &Config, file_text: Option<&str>, out: &mut Collector) {
    exposure(config, out);
    metrics(config, out);
    logins(config, out);
    secrets_in_file(file_text, out);
    short_secrets(config, out);
    hsts(config, out);
}

fn exposure(config: &Config, out: &mut Collector) {
    let server = &config.server;
    let Ok(addr) = server.bind_addr() else {
        return;
    };
    let public = is_public(addr.ip());
    let tls = server.tls_enabled();
    let proxied = !server.trusted_proxies.is_empty();
    if public && !tls && !proxied {
        out.add(Finding::new(
            "config.bind_without_tls",
            Severity::High,
            Category::Config,
            "Listening beyond loopback without TLS or a reverse proxy",
            format!(
                "server.bind = \"{}\", no [server.tls] certificate, no server.trusted_proxies: passwords and session cookies cross the network in clear",
                server.bind
            ),
            format!(
                "Bind to loopback behind a TLS proxy: [server] bind = \"127.0.0.1:{}\" and trusted_proxies = [\"127.0.0.1\"]; or serve TLS: [server.tls] cert = \"/etc/watchpost/fullchain.pem\", key = \"/etc/watchpost/privkey.pem\"",
                addr.port()
            ),
        ));
    } else {
        out.pass("config.bind_without_tls");
    }
    let secure = tls
        || server
            .public_url
            .as_deref()
            .is_some_and(|u| u.starts_with("https://"));
    if public && !secure {
        out.add(Finding::new(
            "config.cookies_not_secure",
            Severity::Medium,
            Category::Config,
            "Session cookies are sent without Secure on a public address",
            format!(
                "server.bind = \"{}\" with neither [server.tls] nor an https:// server.public_url, so cookies lack Secure and the __Host- prefix",
                server.bind
            ),
            "Set the address people use: [server] public_url = \"https://watchpost.example.com\" (behind a TLS proxy), or configure [server.tls]",
        ));
    } else {
        out.pass("config.cookies_not_secure");
    }
}

fn metrics(config: &Config, out: &mut Collector) {
    let broad: Vec<String> = config
        .metrics
        .networks()
        .into_iter()
        .filter(|net| match net {
            ipnet::IpNet::V4(n) => n.prefix_len() < 16 && !n.addr().is_loopback(),
            ipnet::IpNet::V6(n) => n.prefix_len() < 48 && !n.addr().is_loopback(),
        })
        .map(|n| n.to_string())
        .collect();
    if broad.is_empty() {
        out.pass("config.metrics_open");
    } else {
        out.add(Finding::new(
            "config.metrics_open",
            Severity::Medium,
            Category::Config,
            "/metrics is readable without a token from very large networks",
            format!("metrics.allow_from includes {}", broad.join(", ")),
            "List only your Prometheus server: [metrics] allow_from = [\"10.0.0.5\"]; or leave allow_from empty and scrape with an API token of the metrics scope",
        ));
    }
}

fn logins(config: &Config, out: &mut Collector) {
    if config.auth.require_2fa_for_admins {
        out.pass("config.admin_2fa_not_required");
    } else {
        out.add(Finding::new(
            "config.admin_2fa_not_required",
            Severity::High,
            Category::Config,
            "Admins may log in with a password alone",
            "auth.require_2fa_for_admins = false",
            "[auth] require_2fa_for_admins = true",
        ));
    }
    let l = &config.auth.lockout;
    let mut loose = Vec::new();
    if l.max_failures > MAX_LOCKOUT_FAILURES {
        loose.push(format!(
            "auth.lockout.max_failures = {} (at most {MAX_LOCKOUT_FAILURES})",
            l.max_failures
        ));
    }
    if l.account_daily_max > MAX_DAILY_FAILURES {
        loose.push(format!(
            "auth.lockout.account_daily_max = {} (at most {MAX_DAILY_FAILURES})",
            l.account_daily_max
        ));
    }
    if l.ip_max_failures > MAX_DAILY_FAILURES {
        loose.push(format!(
            "auth.lockout.ip_max_failures = {} (at most {MAX_DAILY_FAILURES})",
            l.ip_max_failures
        ));
    }
    if humantime::parse_duration(&l.lock_for).is_ok_and(|d| d.as_secs() < 60) {
        loose.push(format!(
            "auth.lockout.lock_for = \"{}\" (at least 1m)",
            l.lock_for
        ));
    }
    if loose.is_empty() {
        out.pass("config.lockout_weak");
    } else {
        out.add(Finding::new(
            "config.lockout_weak",
            Severity::Medium,
            Category::Config,
            "The login lockout is too loose to stop password guessing",
            loose.join("; "),
            "Remove the [auth.lockout] overrides to use the defaults (5 failures in 15m lock for 15m; 100 a day per account; 20 per address)",
        ));
    }
    let before = out.len();
    for class in ["login", "totp"] {
        let limit = config.threats.limit(class);
        if limit.per_minute > MAX_LOGIN_PER_MINUTE {
            out.add(Finding::new(
                sub("config.rate_limit_weak", class),
                Severity::Medium,
                Category::Config,
                format!("The {class} rate limit lets an address guess quickly"),
                format!(
                    "threats.rate_limits.{class}.per_minute = {} (at most {MAX_LOGIN_PER_MINUTE})",
                    limit.per_minute
                ),
                format!("[threats.rate_limits.{class}] per_minute = 10, burst = 5"),
            ));
        }
    }
    out.pass_if_clean("config.rate_limit_weak", before);
    let before = out.len();
    for detector in ["http_bruteforce", "ssh_bruteforce"] {
        if config
            .threats
            .detectors
            .get(detector)
            .is_some_and(|d| !d.enabled)
        {
            out.add(Finding::new(
                sub("config.detector_disabled", detector),
                Severity::Medium,
                Category::Config,
                format!("The {detector} detector is off: guessing is never banned"),
                format!("threats.detectors.{detector}.enabled = false"),
                format!("[threats.detectors.{detector}] enabled = true"),
            ));
        }
    }
    out.pass_if_clean("config.detector_disabled", before);
}

/// Secret keys that have a file form, as (key in the file, the file form).
fn secrets_in_file(file_text: Option<&str>, out: &mut Collector) {
    let Some(table) = file_text.and_then(|t| t.parse::<toml::Table>().ok()) else {
        out.pass("config.secret_in_file");
        return;
    };
    let before = out.len();
    let mut plain = Vec::new();
    if table.contains_key("admin_password") {
        plain.push((
            "admin_password".to_string(),
            "WATCHPOST_ADMIN_PASSWORD_FILE=/etc/watchpost/admin-password".to_string(),
        ));
    }
    let channels = table
        .get("alerts")
        .and_then(|a| a.get("channels"))
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    for channel in &channels {
        let id = channel.get("id").and_then(|v| v.as_str()).unwrap_or("?");
        for key in ["secret", "bot_token", "password"] {
            if channel.get(key).is_some() {
                plain.push((
                    format!("alerts.channels.{id}.{key}"),
                    format!("{key}_file = \"/etc/watchpost/{id}-{key}\" in the [[alerts.channels]] entry {id:?}, instead of {key}"),
                ));
            }
        }
    }
    for (key, fix) in plain {
        out.add(Finding::new(
            sub("config.secret_in_file", &key),
            Severity::Medium,
            Category::Config,
            "A secret is written in the configuration file",
            format!("{key} is set in the configuration file itself, which backups and dumps copy"),
            format!("Move it to a file readable only by Watchpost (chmod 600) and use {fix}"),
        ));
    }
    out.pass_if_clean("config.secret_in_file", before);
}

fn short(value: &str) -> bool {
    value.trim_end_matches(['\r', '\n']).len() < MIN_SECRET_BYTES
}

fn read_secret(path: &Path) -> Option<String> {
    std::fs::read_to_string(path).ok()
}

fn short_secrets(config: &Config, out: &mut Collector) {
    let before = out.len();
    let mut found = Vec::new();
    for c in &config.alerts.channels {
        if c.kind != "webhook" {
            continue;
        }
        let value = match (&c.secret, &c.secret_file) {
            (Some(s), _) => Some(s.expose().to_string()),
            (None, Some(path)) => read_secret(path),
            (None, None) => None,
        };
        if value.as_deref().is_some_and(short) {
            found.push((
                format!("alerts.channels.{}.secret", c.id),
                c.secret_file.clone(),
            ));
        }
    }
    for h in &config.threats.hooks {
        if read_secret(&h.secret_file).as_deref().is_some_and(short) {
            found.push((
                format!("threats.hooks.{}", h.name),
                Some(h.secret_file.clone()),
            ));
        }
    }
    for (key, file) in found {
        let target = file.map_or_else(
            || "/etc/watchpost/secret".to_string(),
            |p| p.display().to_string(),
        );
        out.add(Finding::new(
            sub("config.secret_short", &key),
            Severity::Medium,
            Category::Config,
            "A signing secret is shorter than 32 bytes",
            format!("the secret of {key} has fewer than {MIN_SECRET_BYTES} bytes"),
            format!(
                "head -c 32 /dev/urandom | base64 > {target} && chmod 600 {target} (then update the other side)"
            ),
        ));
    }
    out.pass_if_clean("config.secret_short", before);
}

fn hsts(config: &Config, out: &mut Collector) {
    let tls = config.server.tls_enabled();
    if tls && !SecurityHeaders::new(tls).sends_hsts() {
        out.add(Finding::new(
            "config.hsts_off",
            Severity::Medium,
            Category::Config,
            "TLS is on but Strict-Transport-Security is not sent",
            "[server.tls] is configured and responses carry no HSTS header",
            "Upgrade Watchpost: HSTS is sent whenever it serves TLS",
        ));
    } else {
        out.pass("config.hsts_off");
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Secret;

    fn run(config: &Config, file: Option<&str>) -> super::super::model::Report {
        let mut out = Collector::default();
        check(config, file, &mut out);
        out.into_report(0)
    }

    fn ids(r: &super::super::model::Report) -> Vec<&str> {
        r.findings.iter().map(|f| f.id.as_str()).collect()
    }

    #[test]
    fn the_defaults_pass_every_configuration_check() {
        let r = run(&Config::default(), Some(""));
        assert!(r.findings.is_empty(), "{:?}", r.findings);
        for id in [
            "config.bind_without_tls",
            "config.cookies_not_secure",
            "config.metrics_open",
            "config.admin_2fa_not_required",
            "config.lockout_weak",
            "config.rate_limit_weak",
            "config.detector_disabled",
            "config.secret_in_file",
            "config.secret_short",
            "config.hsts_off",
        ] {
            assert!(r.passed.iter().any(|p| p == id), "{id} passed");
        }
    }

    #[test]
    fn a_public_bind_without_tls_or_proxy_is_high_and_cookies_are_flagged() {
        let mut c = Config::default();
        c.server.bind = "0.0.0.0:8080".into();
        let r = run(&c, None);
        assert_eq!(
            ids(&r),
            ["config.bind_without_tls", "config.cookies_not_secure"]
        );
        assert_eq!(r.findings[0].severity, Severity::High);
        assert!(r.findings[0].fix.contains("127.0.0.1:8080"));
        c.server.trusted_proxies = vec!["10.0.0.1".into()];
        c.server.public_url = Some("https://wp.example.com".into());
        assert!(run(&c, None).findings.is_empty(), "behind an https proxy");
    }

    #[test]
    fn metrics_open_to_a_huge_network_is_found() {
        let mut c = Config::default();
        c.metrics.allow_from = vec!["10.0.0.0/8".into()];
        assert_eq!(ids(&run(&c, None)), ["config.metrics_open"]);
        c.metrics.allow_from = vec!["10.0.0.5".into(), "192.168.1.0/24".into()];
        assert!(run(&c, None).findings.is_empty());
    }

    #[test]
    fn two_factor_lockout_rate_limits_and_detectors_are_checked() {
        let mut c = Config::default();
        c.auth.require_2fa_for_admins = false;
        c.auth.lockout.max_failures = 1000;
        c.auth.lockout.lock_for = "10s".into();
        if let Some(l) = c.threats.rate_limits.get_mut("login") {
            l.per_minute = 10_000;
        }
        if let Some(d) = c.threats.detectors.get_mut("ssh_bruteforce") {
            d.enabled = false;
        }
        let r = run(&c, None);
        assert_eq!(
            ids(&r),
            [
                "config.admin_2fa_not_required",
                "config.detector_disabled:ssh_bruteforce",
                "config.lockout_weak",
                "config.rate_limit_weak:login"
            ]
        );
        let lockout = &r.findings[2];
        assert!(lockout.evidence.contains("max_failures = 1000"));
        assert!(lockout.evidence.contains("lock_for = \"10s\""));
        assert!(r.passed.iter().all(|p| p != "config.rate_limit_weak"));
    }

    #[test]
    fn secrets_written_plain_in_the_file_are_found_without_their_value() {
        let text = "admin_password = \"correct horse battery staple\"\n\
                    [[alerts.channels]]\nid = \"ops\"\nkind = \"telegram\"\nbot_token = \"123:abc\"\nchat_id = \"1\"\n";
        let r = run(&Config::default(), Some(text));
        assert_eq!(
            ids(&r),
            [
                "config.secret_in_file:admin_password",
                "config.secret_in_file:alerts.channels.ops.bot_token"
            ]
        );
        let all = serde_json::to_string(&r).unwrap();
        assert!(!all.contains("correct horse") && !all.contains("123:abc"));
        assert!(r.findings[1].fix.contains("bot_token_file"));
        let file_forms =
            "[[alerts.channels]]\nid = \"ops\"\nkind = \"telegram\"\nbot_token_file = \"/x\"\n";
        assert!(
            run(&Config::default(), Some(file_forms))
                .findings
                .is_empty()
        );
    }

    #[test]
    fn short_signing_secrets_are_found_inline_and_in_files() {
        let dir = tempfile::tempdir().unwrap();
        let short_file = dir.path().join("short");
        std::fs::write(&short_file, "tiny\n").unwrap();
        let long_file = dir.path().join("long");
        std::fs::write(&long_file, "x".repeat(48)).unwrap();
        let mut c = Config::default();
        c.alerts.channels.push(crate::alerts::ChannelConfig {
            id: "hook".into(),
            kind: "webhook".into(),
            secret: Some(Secret::new("short-secret")),
            ..Default::default()
        });
        c.threats.hooks.push(crate::threats::HookConfig {
            name: "deploys".into(),
            secret_file: short_file,
        });
        c.threats.hooks.push(crate::threats::HookConfig {
            name: "fine".into(),
            secret_file: long_file,
        });
        let r = run(&c, None);
        assert_eq!(
            ids(&r),
            [
                "config.secret_short:alerts.channels.hook.secret",
                "config.secret_short:threats.hooks.deploys"
            ]
        );
        assert!(!serde_json::to_string(&r).unwrap().contains("short-secret"));
    }

    #[test]
    fn hsts_passes_because_it_is_sent_whenever_tls_is_on() {
        let mut c = Config::default();
        c.server.tls.cert = Some("/c.pem".into());
        c.server.tls.key = Some("/k.pem".into());
        assert!(SecurityHeaders::new(true).sends_hsts());
        let r = run(&c, None);
        assert!(r.passed.iter().any(|p| p == "config.hsts_off"));
    }
}
