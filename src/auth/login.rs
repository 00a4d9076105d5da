//! The login steps, apart from their pages: the password step (with the
//! lockout rules and the dummy hash for unknown emails, so every failure
//! looks and costs the same) and the TOTP step (with replay refusal and a
//! limit of wrong codes per time step). Each step writes its audit rows in
//! the same transaction as its effects, and issues a fresh session id.

use serde_json::json;

use super::audit::{Event, user_actor};
use super::lockout::{self, Refusal};
use super::model::{Role, Stage, normalise_email};
use super::repo;
use super::secrets;
use super::session::{self, Origin};
use super::state::Auth;
use super::totp::{self, TotpCheck};
use crate::audit_trail::{Actor, Outcome, mask_email};
use crate::error::AppError;

/// The one message for every failed password step.
pub const GENERIC_FAILURE: &str = "Invalid email or password.";

/// What the password step decided.
pub enum PasswordStep {
    /// Refused, for whatever reason; the caller shows [`GENERIC_FAILURE`].
    Refused,
    /// Accepted: a new session at `stage`, whose cookie the caller sets.
    Accepted { cookie: String, stage: Stage },
}

pub async fn password_step(
    auth: &Auth,
    raw_email: &str,
    password: String,
    origin: &Origin,
    replaces: Option<String>,
) -> Result<PasswordStep, AppError> {
    let email = normalise_email(raw_email)
        .unwrap_or_else(|_| raw_email.trim().to_lowercase().chars().take(254).collect());
    let now = auth.clock.now_ms();
    let (lookup_email, ip) = (email.clone(), origin.ip.clone());
    let (banned, lock, today, creds) = auth
        .store
        .read(move |conn| {
            Ok((
                repo::active_ban(conn, &ip, now)?,
                repo::lockout(conn, &lookup_email, &ip)?,
                repo::failures_for_email(conn, &lookup_email, now - lockout::DAY_MS)?,
                repo::credentials_by_email(conn, &lookup_email)?,
            ))
        })
        .await?;
    // Always hash, whatever is already known: every refusal costs the same.
    let stored = creds
        .as_ref()
        .filter(|c| !c.user.disabled)
        .and_then(|c| c.password_hash.clone());
    let verified = auth.hasher.verify(password.clone(), stored).await;

    if let Some(refusal) = lockout::refusal(&auth.settings, banned, lock, today, now) {
        refuse(auth, &email, origin, refusal).await?;
        return Ok(PasswordStep::Refused);
    }
    let Some(creds) = creds.filter(|c| verified.ok && !c.user.disabled) else {
        fail(auth, email, origin, lock).await?;
        return Ok(PasswordStep::Refused);
    };
    let rehash = if verified.needs_rehash {
        auth.hasher.hash(password).await.ok()
    } else {
        None
    };
    let user = creds.user;
    let stage = if user.totp_enabled {
        Stage::Totp
    } else if user.role == Role::Admin && auth.settings.require_2fa_for_admins {
        Stage::Enrol
    } else {
        Stage::Full
    };
    let origin_ip = origin.ip.clone();
    let (trail, origin) = (auth.trail.clone(), origin.clone());
    let fresh = session::Fresh::new()?;
    let cookie = fresh.cookie_value.clone();
    auth.store
        .write(move |conn| {
            if let Some(hash) = &rehash {
                repo::replace_password_hash(conn, user.id, hash)?;
            }
            repo::clear_pair_lockout(conn, &user.email, &origin.ip)?;
            let replaces = replaces.as_deref().map(secrets::sha256_hex);
            session::issue(
                conn,
                &fresh,
                user.id,
                stage,
                &origin,
                now,
                replaces.as_deref(),
            )?;
            let action = if stage == Stage::Full {
                repo::set_last_login(conn, user.id, now)?;
                "login.success"
            } else {
                "login.password_accepted"
            };
            Event::new(user_actor(user.id, &user.email), action, Outcome::Success)
                .target(format!("user:{}", user.id))
                .details(json!({ "next_step": stage.as_str(), "rehashed": rehash.is_some() }))
                .write(&trail, conn, now, &origin)?;
            Ok(())
        })
        .await?;
    if stage == Stage::Full {
        announce(auth, user.id, user.role, &origin_ip);
    }
    Ok(PasswordStep::Accepted { cookie, stage })
}

/// A refusal before the password counted: audited, and counted towards the
/// daily ceiling and the spraying ban like any failure.
async fn refuse(
    auth: &Auth,
    email: &str,
    origin: &Origin,
    refusal: Refusal,
) -> Result<(), AppError> {
    tracing::warn!(email = %mask_email(email), client_ip = %origin.ip, reason = refusal.reason(), "login failed");
    let (trail, origin, email) = (auth.trail.clone(), origin.clone(), email.to_string());
    let now = auth.clock.now_ms();
    auth.store
        .write(move |conn| {
            repo::record_failure(conn, &email, &origin.ip, now)?;
            let action = match refusal {
                Refusal::IpBanned => "login.failure",
                Refusal::PairLocked { .. } | Refusal::DailyCeiling => "login.locked",
            };
            Event::new(Actor::Anonymous, action, Outcome::Denied)
                .pii(json!({ "email": mask_email(&email) }))
                .details(json!({ "reason": refusal.reason() }))
                .write(&trail, conn, now, &origin)?;
            Ok(())
        })
        .await?;
    Ok(())
}

/// A wrong password (or unknown or disabled account): recorded, and maybe
/// the failure that locks the pair or bans the IP.
async fn fail(
    auth: &Auth,
    email: String,
    origin: &Origin,
    previous: Option<repo::Lockout>,
) -> Result<(), AppError> {
    tracing::warn!(email = %mask_email(&email), client_ip = %origin.ip, reason = "invalid_credentials", "login failed");
    let (trail, origin, settings) = (auth.trail.clone(), origin.clone(), auth.settings.clone());
    let now = auth.clock.now_ms();
    auth.store
        .write(move |conn| {
            repo::record_failure(conn, &email, &origin.ip, now)?;
            let masked = json!({ "email": mask_email(&email) });
            Event::new(Actor::Anonymous, "login.failure", Outcome::Failure)
                .pii(masked.clone())
                .details(json!({ "reason": "invalid_credentials" }))
                .write(&trail, conn, now, &origin)?;
            let since = lockout::pair_count_since(&settings, previous, now);
            let pair = repo::failures_for_pair(conn, &email, &origin.ip, since)?;
            if let Some(lock) = lockout::lock_after(&settings, pair, previous, now) {
                repo::set_lockout(conn, &email, &origin.ip, lock)?;
                Event::new(Actor::System, "login.locked", Outcome::Denied)
                    .pii(masked)
                    .details(json!({ "until_ms": lock.until_ms, "strikes": lock.strikes }))
                    .write(&trail, conn, now, &origin)?;
            }
            let window = i64::try_from(settings.window.as_millis()).unwrap_or(i64::MAX);
            let from_ip = repo::failures_for_ip(conn, &origin.ip, now - window)?;
            if lockout::ip_should_be_banned(&settings, from_ip)
                && !repo::active_ban(conn, &origin.ip, now)?
            {
                let ban_ms = i64::try_from(settings.ip_ban_for.as_millis()).unwrap_or(i64::MAX);
                let until = now.saturating_add(ban_ms);
                repo::insert_ban(
                    conn,
                    &origin.ip,
                    "login failures across accounts",
                    "auth",
                    now,
                    until,
                )?;
                Event::new(Actor::System, "ip.banned", Outcome::Success)
                    .target(format!("ip:{}", origin.ip))
                    .details(json!({ "until_ms": until, "failures": from_ip }))
                    .write(&trail, conn, now, &origin)?;
            }
            Ok(())
        })
        .await?;
    Ok(())
}

/// What the TOTP step decided.
pub enum TotpStep {
    /// The session is complete: set this new cookie.
    Accepted { cookie: String },
    /// Wrong or replayed; the message says what to do.
    Refused(&'static str),
    /// Too many wrong codes in this time step: try again in this many seconds.
    Throttled { retry_after_s: u64 },
    /// The pending session is gone (expired or never existed): log in again.
    NoSession,
}

pub const WRONG_CODE: &str =
    "That code is not right. Enter the current 6-digit code from your app, or a recovery code.";
pub const WAIT_FOR_NEXT: &str = "Too many wrong codes. Wait for your app to show the next code (up to 30 seconds), then try again.";

pub async fn totp_step(
    auth: &Auth,
    cookie: &str,
    input: &str,
    origin: &Origin,
) -> Result<TotpStep, AppError> {
    let Some(session) = super::extract::live_session(auth, cookie).await? else {
        return Ok(TotpStep::NoSession);
    };
    if session.stage != Stage::Totp {
        return Ok(TotpStep::NoSession);
    }
    let user_id = session.user.id;
    let Some(creds) = auth
        .store
        .read(move |conn| repo::credentials_by_id(conn, user_id))
        .await?
    else {
        return Ok(TotpStep::NoSession);
    };
    let Some(sealed) = creds.totp_secret.clone() else {
        return Ok(TotpStep::NoSession);
    };
    let secret = auth.sealer.open(&sealed, &totp_aad(user_id))?;
    let now = auth.clock.now_ms();
    let now_s = u64::try_from(now / 1000).unwrap_or(0);
    let step = i64::try_from(totp::current_step(now_s)).unwrap_or(i64::MAX);
    if creds.totp_failed_step == Some(step)
        && creds.totp_failures >= i64::from(auth.settings.totp_max_failures)
    {
        return Ok(TotpStep::Throttled {
            retry_after_s: totp::STEP_SECONDS - now_s % totp::STEP_SECONDS,
        });
    }
    let last = creds.totp_last_step.and_then(|s| u64::try_from(s).ok());
    let check = totp::verify(&secret, input, now_s, last);
    let recovery = match check {
        TotpCheck::Wrong => {
            let normalised = secrets::normalise_recovery_code(input);
            (normalised.len() >= 10).then(|| secrets::sha256_hex(&normalised))
        }
        _ => None,
    };
    let (origin_ip, role) = (origin.ip.clone(), creds.user.role);
    let (trail, origin, email) = (auth.trail.clone(), origin.clone(), creds.user.email.clone());
    let old_hash = secrets::sha256_hex(cookie);
    let fresh = session::Fresh::new()?;
    let outcome = auth
        .store
        .write(move |conn| {
            let actor = || user_actor(user_id, &email);
            let target = format!("user:{user_id}");
            let method = match check {
                TotpCheck::Accepted { step } => {
                    repo::accept_totp_step(conn, user_id, i64::try_from(step).unwrap_or(i64::MAX))?;
                    "totp"
                }
                TotpCheck::Replayed => {
                    Event::new(actor(), "totp.replay", Outcome::Denied)
                        .target(target)
                        .write(&trail, conn, now, &origin)?;
                    repo::record_totp_failure(conn, user_id, step)?;
                    return Ok(None);
                }
                TotpCheck::Wrong => {
                    let used = match &recovery {
                        Some(hash) => repo::use_recovery_code(conn, user_id, hash, now)?,
                        None => false,
                    };
                    if !used {
                        Event::new(actor(), "totp.failure", Outcome::Failure)
                            .target(target)
                            .write(&trail, conn, now, &origin)?;
                        repo::record_totp_failure(conn, user_id, step)?;
                        return Ok(None);
                    }
                    Event::new(actor(), "recovery_code.used", Outcome::Success)
                        .target(target.clone())
                        .details(
                            json!({ "remaining": repo::unused_recovery_codes(conn, user_id)? }),
                        )
                        .write(&trail, conn, now, &origin)?;
                    "recovery_code"
                }
            };
            session::issue(
                conn,
                &fresh,
                user_id,
                Stage::Full,
                &origin,
                now,
                Some(&old_hash),
            )?;
            repo::set_last_login(conn, user_id, now)?;
            Event::new(actor(), "login.success", Outcome::Success)
                .target(target)
                .details(json!({ "second_factor": method }))
                .write(&trail, conn, now, &origin)?;
            Ok(Some(fresh.cookie_value))
        })
        .await?;
    Ok(match outcome {
        Some(cookie) => {
            announce(auth, user_id, role, &origin_ip);
            TotpStep::Accepted { cookie }
        }
        None => TotpStep::Refused(WRONG_CODE),
    })
}

/// Tells the bus that a login completed (alerting watches admins' addresses).
fn announce(auth: &Auth, user_id: i64, role: Role, ip: &str) {
    auth.bus.publish(crate::bus::Signal::LoginSucceeded {
        user_id,
        admin: role == Role::Admin,
        ip: ip.to_string(),
    });
}

/// Binds a sealed TOTP secret to its user, so a sealed value moved to
/// another row does not open.
pub fn totp_aad(user_id: i64) -> Vec<u8> {
    format!("totp:user:{user_id}").into_bytes()
}
