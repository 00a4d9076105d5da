//! First run, without default credentials: when no user exists, either the
//! admin named by `WATCHPOST_ADMIN_EMAIL` / `WATCHPOST_ADMIN_PASSWORD` (or
//! `_FILE`) is created, or a one-time setup link is printed to the console and
//! written to `data_dir/setup-token` (mode 0600). The link creates the first
//! admin and dies on use or after 24 hours. An existing user is never touched.

use std::io::Write;
use std::path::Path;

use super::accounts::{self, LINK_LIFETIME_MS, NewUser};
use super::model::{Role, normalise_email};
use super::repo;
use super::secrets;
use super::session::Origin;
use super::state::Auth;
use crate::audit_trail::Actor;
use crate::config::{Config, Problem};

pub const SETUP_TOKEN_FILE: &str = "setup-token";

/// Config-time checks of the first-run admin variables.
pub fn validate(config: &Config, problems: &mut Vec<Problem>) {
    match (&config.admin_email, &config.admin_password) {
        (Some(email), Some(_)) => {
            if let Err(e) = normalise_email(email) {
                problems.push(Problem::new("admin_email", e));
            }
        }
        (Some(_), None) => problems.push(Problem::new(
            "admin_password",
            "WATCHPOST_ADMIN_EMAIL is set without WATCHPOST_ADMIN_PASSWORD (or _FILE); set both, or neither to use the setup link",
        )),
        (None, Some(_)) => problems.push(Problem::new(
            "admin_email",
            "WATCHPOST_ADMIN_PASSWORD is set without WATCHPOST_ADMIN_EMAIL; set both, or neither to use the setup link",
        )),
        (None, None) => {}
    }
}

/// What start-up did about the first admin.
pub enum FirstRun {
    /// Users exist; nothing to do.
    Done,
    /// The configured admin was created.
    AdminCreated(String),
    /// No user yet: this link creates the first admin.
    SetupLink(String),
}

pub async fn ensure_first_admin(
    auth: &Auth,
    config: &Config,
    data_dir: &Path,
) -> anyhow::Result<FirstRun> {
    let token_file = data_dir.join(SETUP_TOKEN_FILE);
    let users = auth.store.read(repo::count_users).await?;
    if users > 0 {
        // A leftover link is useless once an admin exists.
        let _ = std::fs::remove_file(&token_file);
        auth.store
            .write(|conn| repo::delete_one_time_purpose(conn, "setup"))
            .await?;
        return Ok(FirstRun::Done);
    }
    if let (Some(email), Some(password)) = (&config.admin_email, &config.admin_password) {
        let created = accounts::create_user(
            auth,
            Actor::System,
            &Origin::default(),
            NewUser {
                email: email.clone(),
                name: String::new(),
                role: Role::Admin,
                password: Some(password.expose().to_string()),
            },
        )
        .await
        .map_err(|e| anyhow::anyhow!("WATCHPOST_ADMIN_EMAIL / WATCHPOST_ADMIN_PASSWORD: {e}"))?;
        return Ok(FirstRun::AdminCreated(created.email));
    }
    let token = secrets::new_setup_token()?;
    let hash = secrets::sha256_hex(&token);
    let now = auth.clock.now_ms();
    auth.store
        .write(move |conn| {
            repo::delete_one_time_purpose(conn, "setup")?;
            repo::insert_one_time(conn, &hash, "setup", None, now, now + LINK_LIFETIME_MS)
        })
        .await?;
    let link = format!("{}/setup?token={token}", auth.base_url());
    write_private(&token_file, &format!("{link}\n"))?;
    Ok(FirstRun::SetupLink(link))
}

fn write_private(path: &Path, text: &str) -> anyhow::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let _ = std::fs::remove_file(path);
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(text.as_bytes())?;
    Ok(())
}
