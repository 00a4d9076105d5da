//! `spawn_app()` starts the real application on port 0 with a throwaway data
//! directory; logging goes once per test process to a file the log tests read.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use tempfile::TempDir;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use watchpost::app::App;
use watchpost::clock::Clock;
use watchpost::config::Config;
use watchpost::store::Store;
use watchpost::telemetry::{self, LoggingConfig};

pub struct TestApp {
    pub addr: SocketAddr,
    pub url: String,
    pub dir: TempDir,
    pub store: Store,
    pub client: reqwest::Client,
    /// The app's clock; `clock.advance(…)` moves time for lockouts and sessions.
    pub clock: Clock,
    stop: Option<oneshot::Sender<()>>,
    done: Option<JoinHandle<anyhow::Result<()>>>,
}

static LOG_DIR: OnceLock<PathBuf> = OnceLock::new();

/// Installs process-wide logging once, into a directory kept for the whole run.
pub fn log_file() -> PathBuf {
    let dir = LOG_DIR.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let dir = tempfile::tempdir().unwrap().keep();
        let config = LoggingConfig {
            stdout: false,
            ..LoggingConfig::default()
        };
        std::mem::forget(telemetry::init(&config, &dir).unwrap());
        dir
    });
    dir.join("logs").join(telemetry::LOG_FILE)
}

pub fn test_config(dir: &Path) -> Config {
    let mut config = Config::default();
    config.server.bind = "127.0.0.1:0".into();
    config.storage.data_dir = dir.join("data");
    config.logging.stdout = false;
    // Most tests log in with a password alone; the 2FA tests turn this back on.
    config.auth.require_2fa_for_admins = false;
    config
}

/// Leaves login failures to the account rules alone: the HTTP brute-force
/// detector and the login rate limits (tested in `threats`) would
/// otherwise ban or slow the test's sender first.
pub fn account_rules_only(config: &mut Config) {
    if let Some(d) = config.threats.detectors.get_mut("http_bruteforce") {
        d.enabled = false;
    }
    for class in ["login", "totp"] {
        if let Some(l) = config.threats.rate_limits.get_mut(class) {
            l.per_minute = 10_000;
            l.burst = 10_000;
        }
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Config)) -> TestApp {
    let dir = tempfile::tempdir().unwrap();
    let mut config = test_config(dir.path());
    tweak(&mut config);
    spawn(config, dir).await
}

/// Starts the app with exactly `config` (its data directory included).
pub async fn spawn_app_in(config: Config) -> TestApp {
    spawn(config, tempfile::tempdir().unwrap()).await
}

async fn spawn(config: Config, dir: TempDir) -> TestApp {
    log_file();
    let clock = Clock::system();
    let app = App::build_with_clock(config, clock.clone())
        .await
        .expect("the app starts");
    let (addr, url, store) = (app.addr(), app.url().to_string(), app.store().clone());
    let (stop, stopped) = oneshot::channel::<()>();
    let done = tokio::spawn(app.run_until(async move {
        let _ = stopped.await;
    }));
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    TestApp {
        addr,
        url,
        dir,
        store,
        client,
        clock,
        stop: Some(stop),
        done: Some(done),
    }
}

impl TestApp {
    pub fn at(&self, path: &str) -> String {
        format!("{}{path}", self.url)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.client.get(self.at(path)).send().await.unwrap()
    }

    pub fn db_path(&self) -> PathBuf {
        self.store.path().to_path_buf()
    }

    /// Graceful shutdown, as on SIGTERM. Returns the data's directory, which
    /// lives on while the caller keeps it (to start again on the same data).
    pub async fn stop(mut self) -> TempDir {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(done) = self.done.take() {
            done.await.unwrap().unwrap();
        }
        self.dir
    }
}

/// Log lines (parsed) that contain `needle`, waiting up to 5 s for the
/// non-blocking writer to flush them.
pub async fn log_lines_with(needle: &str) -> Vec<serde_json::Value> {
    let path = log_file();
    for _ in 0..50 {
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        let lines: Vec<_> = text
            .lines()
            .filter(|l| l.contains(needle))
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| panic!("not one JSON line ({e}): {l}"))
            })
            .collect();
        if !lines.is_empty() {
            return lines;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    Vec::new()
}

/// The whole log file as text, after giving the writer a moment.
pub async fn log_text() -> String {
    tokio::time::sleep(Duration::from_millis(300)).await;
    std::fs::read_to_string(log_file()).unwrap_or_default()
}

/// The security headers every response must carry.
pub fn assert_security_headers(res: &reqwest::Response) {
    let h = res.headers();
    let csp = h
        .get("content-security-policy")
        .map(|v| v.to_str().unwrap())
        .unwrap_or("");
    for directive in [
        "default-src 'self'",
        "frame-ancestors 'none'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'self'",
    ] {
        assert!(
            csp.contains(directive),
            "CSP lacks {directive}: {csp:?} on {}",
            res.status()
        );
    }
    assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval"));
    for (name, value) in [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "strict-origin-when-cross-origin"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ] {
        assert_eq!(
            h.get(name).map(|v| v.to_str().unwrap()),
            Some(value),
            "{name} on {}",
            res.status()
        );
    }
    // Headers that only a rendered document heeds come with HTML only.
    let html = h
        .get("content-type")
        .is_some_and(|v| v.to_str().unwrap().starts_with("text/html"));
    assert_eq!(
        h.get("x-frame-options").map(|v| v.to_str().unwrap()),
        html.then_some("DENY"),
        "x-frame-options on {}",
        res.status()
    );
    assert_eq!(
        h.get("permissions-policy")
            .is_some_and(|v| v.to_str().unwrap().contains("camera=()")),
        html,
        "permissions-policy on {}",
        res.status()
    );
    assert!(h.get("x-xss-protection").is_none());
    assert!(h.get("server").is_none(), "no version banner");
    assert!(
        h.get("x-request-id").is_some(),
        "request id on {}",
        res.status()
    );
}
