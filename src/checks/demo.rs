//! `watchpost serve --demo`: checks of Watchpost's own endpoints, shown on
//! the public status page, and a read-only viewer `demo@watchpost.local`
//! whose password is printed once, when the account is made. Everything the
//! demo shows is measured; nothing is made up.

use super::definition::Definition;
use super::service::{Actioned, Checks, ORIGIN_UI, Refusal};
use crate::audit_trail::Actor;
use crate::auth::accounts::{self, NewUser};
use crate::auth::session::Origin;
use crate::auth::{Auth, Role, secrets};

pub const DEMO_EMAIL: &str = "demo@watchpost.local";

/// What the demo set up, for the console.
#[derive(Debug, Default)]
pub struct Demo {
    /// The viewer's password, when the account was made by this start.
    pub password: Option<String>,
    pub created: Vec<String>,
}

fn definitions(url: &str, host_port: &str) -> Vec<Definition> {
    let http = |id: &str, name: &str, path: &str, keyword: &str| Definition {
        id: id.into(),
        name: name.into(),
        kind: "http".into(),
        url: Some(format!("{url}{path}")),
        keyword: Some(keyword.into()),
        degraded_after: Some("1s".into()),
        verify_tls: Some(false),
        public: true,
        tags: vec!["demo".into()],
        ..Definition::default()
    };
    vec![
        http(
            "demo-health",
            "Watchpost health",
            "/health",
            "\"status\":\"ok\"",
        ),
        http("demo-status-page", "Status page", "/status", "<h1"),
        Definition {
            id: "demo-port".into(),
            name: "Watchpost port".into(),
            kind: "tcp".into(),
            target: Some(host_port.into()),
            public: true,
            tags: vec!["demo".into()],
            ..Definition::default()
        },
    ]
}

pub async fn prepare(
    checks: &Checks,
    auth: &Auth,
    url: &str,
    host_port: &str,
) -> anyhow::Result<Demo> {
    let mut demo = Demo::default();
    let system = Actioned::system();
    for def in definitions(url, host_port) {
        let id = def.id.clone();
        match checks.create(def, ORIGIN_UI, &system).await {
            Ok(_) => demo.created.push(id),
            // Made by an earlier demo start: keep it as it is.
            Err(Refusal::Other(crate::error::AppError::Conflict(_))) => {}
            Err(Refusal::Invalid(p)) => anyhow::bail!("demo check {id}: {}", p[0]),
            Err(Refusal::Other(e)) => anyhow::bail!("demo check {id}: {e}"),
        }
    }
    if accounts::user_by_email(auth, DEMO_EMAIL).await.is_err() {
        let password = secrets::random_token(18)?;
        let origin = Origin {
            ip: String::new(),
            user_agent: String::new(),
            request_id: None,
        };
        let new = NewUser {
            email: DEMO_EMAIL.into(),
            name: "Demo viewer".into(),
            role: Role::Viewer,
            password: Some(password.clone()),
        };
        accounts::create_user(auth, Actor::System, &origin, new)
            .await
            .map_err(|e| anyhow::anyhow!("creating the demo viewer: {e}"))?;
        demo.password = Some(password);
    }
    Ok(demo)
}
