//! `watchpost healthcheck`: asks a running instance's `/health` and exits 0
//! only on a 200 within 3 s — for Docker `HEALTHCHECK` and systemd.

use std::time::Duration;

const TIMEOUT: Duration = Duration::from_secs(3);

pub enum Outcome {
    Healthy,
    Unhealthy(u16, String),
    Unreachable(String),
}

pub async fn check(url: &str, accept_invalid_certs: bool) -> Outcome {
    let client = match reqwest::Client::builder()
        .timeout(TIMEOUT)
        .user_agent(concat!(
            "Watchpost/",
            env!("CARGO_PKG_VERSION"),
            " healthcheck"
        ))
        .tls_danger_accept_invalid_certs(accept_invalid_certs)
        .build()
    {
        Ok(c) => c,
        Err(e) => return Outcome::Unreachable(format!("{e:#}")),
    };
    match client.get(url).send().await {
        Ok(res) if res.status() == reqwest::StatusCode::OK => Outcome::Healthy,
        Ok(res) => {
            let status = res.status().as_u16();
            Outcome::Unhealthy(status, res.text().await.unwrap_or_default())
        }
        Err(e) => Outcome::Unreachable(error_chain(&e)),
    }
}

fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
