//! Account operations shared by the pages, the JSON API and the CLI: create a
//! user, change a role, disable or enable, reset 2FA, revoke sessions, clear a
//! lockout, change a password, enrol and drop 2FA, create and revoke API
//! tokens. Each validates its input, makes its change and writes its audit
//! row in one transaction. Callers check who may call them.

use serde_json::json;

use super::audit::{Event, user_actor};
use super::login::totp_aad;
use super::model::{Role, Scope, User, display_name, normalise_email};
use super::repo::{self, NewToken};
use super::secrets;
use super::session::{self, Origin};
use super::state::Auth;
use super::totp::{self, TotpCheck};
use crate::audit_trail::{Actor, Outcome};
use crate::error::AppError;

/// How long a one-time set-password link (and the first-run setup link) lives.
pub const LINK_LIFETIME_MS: i64 = 24 * 3600 * 1000;

pub struct NewUser {
    pub email: String,
    pub name: String,
    pub role: Role,
    /// `None`: the user gets a one-time set-password link instead.
    pub password: Option<String>,
}

/// A created user, and their set-password link when no password was given.
pub struct Created {
    pub user_id: i64,
    pub email: String,
    pub link: Option<String>,
}

pub async fn create_user(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    new: NewUser,
) -> Result<Created, AppError> {
    let email = normalise_email(&new.email).map_err(AppError::BadRequest)?;
    let name = display_name(&new.name, &email).map_err(AppError::BadRequest)?;
    let hash = match &new.password {
        Some(password) => {
            auth.policy_for(new.role, false)
                .check(password, &email)
                .map_err(|r| AppError::BadRequest(r.to_string()))?;
            Some(auth.hasher.hash(password.clone()).await.map_err(internal)?)
        }
        None => None,
    };
    let link_token = match hash {
        None => Some(secrets::random_token(32)?),
        Some(_) => None,
    };
    let link_hash = link_token.as_deref().map(secrets::sha256_hex);
    let (trail, origin2, email2) = (auth.trail.clone(), origin.clone(), email.clone());
    let now = auth.clock.now_ms();
    let role = new.role;
    let user_id = auth
        .store
        .write(move |conn| {
            if repo::email_taken(conn, &email2)? {
                return Ok(None);
            }
            let id = repo::insert_user(conn, &email2, &name, role, hash.as_deref(), now)?;
            if let Some(link) = &link_hash {
                repo::insert_one_time(
                    conn,
                    link,
                    "set_password",
                    Some(id),
                    now,
                    now + LINK_LIFETIME_MS,
                )?;
            }
            Event::new(actor, "user.created", Outcome::Success)
                .target(format!("user:{id}"))
                .details(json!({ "role": role.as_str(), "password_link": link_hash.is_some() }))
                .write(&trail, conn, now, &origin2)?;
            Ok(Some(id))
        })
        .await?
        .ok_or_else(|| AppError::Conflict(format!("{email} already has an account.")))?;
    Ok(Created {
        user_id,
        email,
        link: link_token.map(|t| format!("{}/set-password?token={t}", auth.base_url())),
    })
}

pub async fn user(auth: &Auth, id: i64) -> Result<User, AppError> {
    auth.store
        .read(move |conn| repo::user_by_id(conn, id))
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn user_by_email(auth: &Auth, email: &str) -> Result<User, AppError> {
    let email = normalise_email(email).map_err(AppError::BadRequest)?;
    let lookup = email.clone();
    auth.store
        .read(move |conn| repo::user_by_email(conn, &lookup))
        .await?
        .ok_or_else(|| AppError::BadRequest(format!("No account has the email {email}.")))
}

const LAST_ADMIN: &str = "This is the last enabled admin; make another user admin first, so someone can still manage Watchpost.";

pub async fn set_role(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    id: i64,
    role: Role,
) -> Result<(), AppError> {
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    auth.store
        .write(move |conn| {
            let Some(user) = repo::user_by_id(conn, id)? else {
                return Ok(Err(AppError::NotFound));
            };
            if user.role == role {
                return Ok(Ok(()));
            }
            if user.role == Role::Admin
                && !user.disabled
                && repo::other_active_admins(conn, id)? == 0
            {
                return Ok(Err(AppError::Conflict(LAST_ADMIN.into())));
            }
            repo::set_role(conn, id, role)?;
            Event::new(actor, "user.role_changed", Outcome::Success)
                .target(format!("user:{id}"))
                .details(json!({ "from": user.role.as_str(), "to": role.as_str() }))
                .write(&trail, conn, now, &origin)?;
            Ok(Ok(()))
        })
        .await?
}

/// Disables (and ends every session of) or re-enables an account.
pub async fn set_disabled(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    id: i64,
    disabled: bool,
) -> Result<(), AppError> {
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    auth.store
        .write(move |conn| {
            let Some(user) = repo::user_by_id(conn, id)? else {
                return Ok(Err(AppError::NotFound));
            };
            if user.disabled == disabled {
                return Ok(Ok(()));
            }
            if disabled && user.role == Role::Admin && repo::other_active_admins(conn, id)? == 0 {
                return Ok(Err(AppError::Conflict(LAST_ADMIN.into())));
            }
            repo::set_disabled(conn, id, disabled)?;
            let ended = if disabled {
                repo::delete_user_sessions(conn, id, None)?
            } else {
                0
            };
            let action = if disabled {
                "user.disabled"
            } else {
                "user.enabled"
            };
            Event::new(actor, action, Outcome::Success)
                .target(format!("user:{id}"))
                .details(json!({ "sessions_ended": ended }))
                .write(&trail, conn, now, &origin)?;
            Ok(Ok(()))
        })
        .await?
}

pub async fn reset_2fa(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    id: i64,
) -> Result<(), AppError> {
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    auth.store
        .write(move |conn| {
            if repo::user_by_id(conn, id)?.is_none() {
                return Ok(Err(AppError::NotFound));
            }
            repo::disable_totp(conn, id)?;
            Event::new(actor, "totp.reset", Outcome::Success)
                .target(format!("user:{id}"))
                .write(&trail, conn, now, &origin)?;
            Ok(Ok(()))
        })
        .await?
}

/// Ends every session of a user (except `keep`, the caller's own); returns how many.
pub async fn revoke_sessions(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    id: i64,
    keep: Option<String>,
) -> Result<usize, AppError> {
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    auth.store
        .write(move |conn| {
            if repo::user_by_id(conn, id)?.is_none() {
                return Ok(Err(AppError::NotFound));
            }
            let ended = repo::delete_user_sessions(conn, id, keep.as_deref())?;
            Event::new(actor, "session.revoked", Outcome::Success)
                .target(format!("user:{id}"))
                .details(json!({ "sessions": ended }))
                .write(&trail, conn, now, &origin)?;
            Ok(Ok(ended))
        })
        .await?
}

/// Ends one of the user's own sessions.
pub async fn revoke_own_session(
    auth: &Auth,
    user_id: i64,
    email: &str,
    origin: &Origin,
    session_id: i64,
) -> Result<(), AppError> {
    let (trail, origin, now, email) = (
        auth.trail.clone(),
        origin.clone(),
        auth.clock.now_ms(),
        email.to_string(),
    );
    auth.store
        .write(move |conn| {
            if repo::delete_session(conn, session_id, user_id)? == 0 {
                return Ok(Err(AppError::NotFound));
            }
            Event::new(
                user_actor(user_id, &email),
                "session.revoked",
                Outcome::Success,
            )
            .target(format!("session:{session_id}"))
            .write(&trail, conn, now, &origin)?;
            Ok(Ok(()))
        })
        .await?
}

pub async fn clear_lockout(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    id: i64,
) -> Result<(), AppError> {
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    auth.store
        .write(move |conn| {
            let Some(user) = repo::user_by_id(conn, id)? else {
                return Ok(Err(AppError::NotFound));
            };
            let cleared = repo::clear_lockouts(conn, &user.email)?;
            Event::new(actor, "lockout.cleared", Outcome::Success)
                .target(format!("user:{id}"))
                .details(json!({ "locks": cleared }))
                .write(&trail, conn, now, &origin)?;
            Ok(Ok(()))
        })
        .await?
}

/// Sets a new password for `id` (policy-checked) and ends all their
/// sessions except `keep`, rotated into a new session when given; returns
/// that new session's cookie.
pub async fn set_password(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    id: i64,
    password: String,
    keep: Option<String>,
) -> Result<Option<String>, AppError> {
    let user = user(auth, id).await?;
    auth.policy_for(user.role, user.totp_enabled)
        .check(&password, &user.email)
        .map_err(|r| AppError::BadRequest(r.to_string()))?;
    let hash = auth.hasher.hash(password).await.map_err(internal)?;
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    let fresh = keep.as_ref().map(|_| session::Fresh::new()).transpose()?;
    let cookie = auth
        .store
        .write(move |conn| {
            repo::set_password_hash(conn, id, &hash, now)?;
            repo::delete_user_sessions(conn, id, keep.as_deref())?;
            let cookie = match (&keep, fresh) {
                (Some(old), Some(fresh)) => {
                    let stage = super::model::Stage::Full;
                    session::issue(conn, &fresh, id, stage, &origin, now, Some(old))?;
                    Some(fresh.cookie_value)
                }
                _ => None,
            };
            Event::new(actor, "password.changed", Outcome::Success)
                .target(format!("user:{id}"))
                .write(&trail, conn, now, &origin)?;
            Ok(cookie)
        })
        .await?;
    Ok(cookie)
}

/// Checks a user's current password (for changing it, or dropping 2FA).
pub async fn password_matches(auth: &Auth, id: i64, password: String) -> Result<bool, AppError> {
    let stored = auth
        .store
        .read(move |conn| Ok(repo::credentials_by_id(conn, id)?.and_then(|c| c.password_hash)))
        .await?;
    Ok(auth.hasher.verify(password, stored).await.ok)
}

/// A pending TOTP secret for enrolment (kept until confirmed, so a reload
/// shows the same QR code).
pub async fn pending_totp_secret(auth: &Auth, id: i64) -> Result<Vec<u8>, AppError> {
    let creds = auth
        .store
        .read(move |conn| repo::credentials_by_id(conn, id))
        .await?
        .ok_or(AppError::NotFound)?;
    if let Some(sealed) = creds.totp_pending_secret
        && let Ok(secret) = auth.sealer.open(&sealed, &totp_aad(id))
    {
        return Ok(secret);
    }
    let secret = totp::new_secret()?;
    let sealed = auth.sealer.seal(&secret, &totp_aad(id))?;
    auth.store
        .write(move |conn| repo::set_totp_pending(conn, id, &sealed))
        .await?;
    Ok(secret)
}

/// Result of confirming enrolment: the recovery codes to show once, and the
/// new session cookie when the session was rotated.
pub struct Enrolled {
    pub recovery_codes: Vec<String>,
    pub cookie: Option<String>,
}

pub async fn confirm_totp(
    auth: &Auth,
    user_id: i64,
    email: &str,
    origin: &Origin,
    code: &str,
    session_hash: Option<String>,
) -> Result<Option<Enrolled>, AppError> {
    let secret = pending_totp_secret(auth, user_id).await?;
    let now = auth.clock.now_ms();
    let now_s = u64::try_from(now / 1000).unwrap_or(0);
    let TotpCheck::Accepted { step } = totp::verify(&secret, code, now_s, None) else {
        return Ok(None);
    };
    let codes = secrets::new_recovery_codes()?;
    let hashes: Vec<String> = codes
        .iter()
        .map(|c| secrets::sha256_hex(&secrets::normalise_recovery_code(c)))
        .collect();
    let sealed = auth.sealer.seal(&secret, &totp_aad(user_id))?;
    let (trail, origin, email) = (auth.trail.clone(), origin.clone(), email.to_string());
    let fresh = session_hash
        .as_ref()
        .map(|_| session::Fresh::new())
        .transpose()?;
    let cookie = auth
        .store
        .write(move |conn| {
            repo::enable_totp(
                conn,
                user_id,
                &sealed,
                i64::try_from(step).unwrap_or(i64::MAX),
            )?;
            repo::replace_recovery_codes(conn, user_id, &hashes)?;
            Event::new(
                user_actor(user_id, &email),
                "totp.enabled",
                Outcome::Success,
            )
            .target(format!("user:{user_id}"))
            .write(&trail, conn, now, &origin)?;
            // Rotated at the 2FA step: the session that enrolled gets a new id.
            match (session_hash, fresh) {
                (Some(old), Some(fresh)) => {
                    let stage = super::model::Stage::Full;
                    session::issue(conn, &fresh, user_id, stage, &origin, now, Some(&old))?;
                    Ok(Some(fresh.cookie_value))
                }
                _ => Ok(None),
            }
        })
        .await?;
    Ok(Some(Enrolled {
        recovery_codes: codes,
        cookie,
    }))
}

/// Turns 2FA off after checking the password and a current code.
pub async fn disable_totp(
    auth: &Auth,
    user_id: i64,
    email: &str,
    origin: &Origin,
    password: String,
    code: &str,
) -> Result<bool, AppError> {
    if !password_matches(auth, user_id, password).await? {
        return Ok(false);
    }
    let creds = auth
        .store
        .read(move |conn| repo::credentials_by_id(conn, user_id))
        .await?
        .ok_or(AppError::NotFound)?;
    let Some(sealed) = creds.totp_secret else {
        return Ok(true);
    };
    let secret = auth.sealer.open(&sealed, &totp_aad(user_id))?;
    let now = auth.clock.now_ms();
    let last = creds.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let now_s = u64::try_from(now / 1000).unwrap_or(0);
    if !matches!(
        totp::verify(&secret, code, now_s, last),
        TotpCheck::Accepted { .. }
    ) {
        return Ok(false);
    }
    let (trail, origin, email) = (auth.trail.clone(), origin.clone(), email.to_string());
    auth.store
        .write(move |conn| {
            repo::disable_totp(conn, user_id)?;
            Event::new(
                user_actor(user_id, &email),
                "totp.disabled",
                Outcome::Success,
            )
            .target(format!("user:{user_id}"))
            .write(&trail, conn, now, &origin)
        })
        .await?;
    Ok(true)
}

pub struct NewApiToken {
    pub name: String,
    pub scope: Scope,
    pub expires_in: Option<std::time::Duration>,
}

/// Creates an API token for `user_id`; returns it (`wp_…`), shown only once.
pub async fn create_token(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    user_id: i64,
    new: NewApiToken,
) -> Result<(i64, String), AppError> {
    let name = new.name.trim().to_string();
    if name.is_empty() || name.chars().count() > 100 || name.chars().any(char::is_control) {
        return Err(AppError::BadRequest(
            "Give the token a name of 1–100 characters, e.g. \"deploy script\".".into(),
        ));
    }
    let token = secrets::new_api_token()?;
    let hash = secrets::sha256_hex(&token);
    let now = auth.clock.now_ms();
    let expires_ms = new
        .expires_in
        .map(|d| now.saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)));
    let (trail, origin, scope) = (auth.trail.clone(), origin.clone(), new.scope);
    let id = auth
        .store
        .write(move |conn| {
            let id = repo::insert_token(
                conn,
                &NewToken {
                    token_hash: &hash,
                    user_id,
                    name: &name,
                    scope,
                    now_ms: now,
                    expires_ms,
                },
            )?;
            Event::new(actor, "token.created", Outcome::Success)
                .target(format!("token:{id}"))
                .details(json!({ "name": name, "scope": scope.as_str(), "expires_ms": expires_ms }))
                .write(&trail, conn, now, &origin)?;
            Ok(id)
        })
        .await?;
    Ok((id, token))
}

pub async fn revoke_token(
    auth: &Auth,
    actor: Actor,
    origin: &Origin,
    user_id: i64,
    token_id: i64,
) -> Result<(), AppError> {
    let (trail, origin, now) = (auth.trail.clone(), origin.clone(), auth.clock.now_ms());
    auth.store
        .write(move |conn| {
            let Some(name) = repo::revoke_token(conn, token_id, user_id, now)? else {
                return Ok(Err(AppError::NotFound));
            };
            Event::new(actor, "token.revoked", Outcome::Success)
                .target(format!("token:{token_id}"))
                .details(json!({ "name": name }))
                .write(&trail, conn, now, &origin)?;
            Ok(Ok(()))
        })
        .await?
}

fn internal(e: impl Into<anyhow::Error>) -> AppError {
    AppError::Internal(e.into())
}
