//! Accounts that resist attack: users with roles (`admin`, `viewer`),
//! argon2id passwords under a NIST-style policy, sessions rotated at every
//! login step, TOTP second factor with recovery codes, lockout per account and
//! IP, bans for password spraying, API tokens, and the pages, JSON API and CLI
//! operations around them. Every auth event and admin action writes its audit
//! row in the same transaction as its change.
//!
//! Must never log a password, token, TOTP code or session id.

mod account_routes;
pub mod accounts;
mod api_routes;
mod audit;
pub mod bootstrap;
mod config;
pub mod csrf;
pub mod extract;
mod lockout;
pub mod login;
mod login_routes;
pub mod model;
pub mod password;
pub mod policy;
pub mod repo;
pub mod seal;
pub mod secrets;
pub mod session;
mod state;
pub mod totp;
mod users_routes;
mod web;

use std::path::Path;
use std::time::Duration;

use actix_web::{FromRequest, HttpRequest};

pub use api_routes::AccountsApi;
pub use api_routes::Runtime;
pub use config::{AuthConfig, AuthSettings, LockoutConfig};
pub use extract::{CurrentUser, EnrollingUser, RequireAdmin};
pub use model::{Role, Scope};
pub use state::Auth;
pub use users_routes::page_with_error as users_page_with_error;
pub use web::{actioned, json_body, layout, page, see_other, when};

use crate::audit_trail::Trail;
use crate::clock::Clock;
use crate::config::Config;
use crate::error::AppError;
use crate::http::routes::Routes;
use crate::store::Store;
use crate::tasks::Shutdown;

impl From<secrets::RandomUnavailable> for AppError {
    fn from(e: secrets::RandomUnavailable) -> Self {
        AppError::Internal(e.into())
    }
}

impl From<seal::SealError> for AppError {
    fn from(e: seal::SealError) -> Self {
        AppError::Internal(e.into())
    }
}

impl Auth {
    /// The accounts state for this process: loads (or creates) the sealing
    /// key and parses the `[auth]` section.
    pub fn build(
        config: &Config,
        store: Store,
        trail: Trail,
        clock: Clock,
        data_dir: &Path,
    ) -> anyhow::Result<Auth> {
        let settings = config.auth.settings().map_err(anyhow::Error::msg)?;
        let secure_cookies = config.server.tls_enabled()
            || config
                .server
                .public_url
                .as_deref()
                .is_some_and(|u| u.starts_with("https://"));
        Ok(Auth {
            store,
            hasher: password::Hasher::new(config.auth.password_hash)?,
            sealer: seal::Sealer::load_or_create(data_dir)?,
            trail,
            clock,
            settings,
            secure_cookies,
            base_url: std::sync::OnceLock::new(),
            data_dir: data_dir.to_path_buf(),
            touches: state::Touches::default(),
            bus: crate::bus::Bus::default(),
        })
    }
}

pub fn routes(r: &mut Routes) {
    login_routes::routes(r);
    account_routes::routes(r);
    users_routes::routes(r);
    api_routes::routes(r);
}

/// Who is looking at a page, for the layout; a page that requires a login
/// sends everyone else to `/login`.
pub async fn viewer_of(req: HttpRequest) -> Result<crate::web::Viewer, actix_web::Error> {
    let user = CurrentUser::extract(&req).await?;
    Ok(crate::web::Viewer {
        id: user.id,
        email: user.email.clone(),
        name: user.display_name.clone(),
        is_admin: user.is_admin(),
        csrf: user.csrf().to_string(),
    })
}

/// How often the sweeper writes batched "last seen" times and drops dead
/// sessions and old failures.
const SWEEP_EVERY: Duration = Duration::from_secs(15);

/// The auth sweeper task: flushes batched session and token use times and
/// deletes sessions past their timeouts and failures older than two days.
pub async fn sweeper(auth: std::sync::Arc<Auth>, mut shutdown: Shutdown) {
    let mut tick = tokio::time::interval(SWEEP_EVERY);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            () = shutdown.wait() => {
                if let Err(e) = auth.touches.flush(&auth.store).await {
                    tracing::warn!(error = %e, "writing session last-seen times at shutdown failed");
                }
                return;
            }
        }
        if let Err(e) = sweep(&auth).await {
            tracing::warn!(error = %e, "the auth sweeper failed; it will try again");
        }
    }
}

async fn sweep(auth: &Auth) -> Result<(), crate::store::StoreError> {
    auth.touches.flush(&auth.store).await?;
    let now = auth.clock.now_ms();
    let ms = |d: Duration| i64::try_from(d.as_millis()).unwrap_or(i64::MAX);
    let idle_before = now - ms(auth.settings.session_idle);
    let created_before = now - ms(auth.settings.session_absolute);
    auth.store
        .write(move |conn| {
            repo::delete_stale_sessions(conn, idle_before, created_before)?;
            repo::delete_old_failures(conn, now - 2 * lockout::DAY_MS)?;
            Ok(())
        })
        .await
}
