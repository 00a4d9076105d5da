//! Sessions: a 256-bit random id in an `HttpOnly`, `SameSite=Lax` cookie
//! (`Secure` and `__Host-` over HTTPS), stored only as its SHA-256. A new id is
//! issued at every login step (password, 2FA, enrolment) and at a password
//! change, and the one it replaces is deleted, so a cookie seen before a login
//! step is worthless after it.

use actix_web::cookie::{Cookie, SameSite, time::Duration as CookieDuration};
use rusqlite::Connection;

use super::model::Stage;
use super::repo::{self, NewSession};
use super::secrets::{self, RandomUnavailable};
use super::state::Auth;
use crate::store::StoreError;

/// Where a request came from, for session rows and the audit trail.
#[derive(Debug, Clone, Default)]
pub struct Origin {
    pub ip: String,
    pub user_agent: String,
    pub request_id: Option<String>,
}

/// A new session's secrets, drawn before the transaction that stores them:
/// the cookie value (shown to nobody but the browser) and its CSRF token.
pub struct Fresh {
    pub cookie_value: String,
    csrf: String,
}

impl Fresh {
    pub fn new() -> Result<Fresh, RandomUnavailable> {
        Ok(Fresh {
            cookie_value: secrets::new_session_id()?,
            csrf: secrets::random_token(32)?,
        })
    }
}

/// Creates the session `fresh` for `user_id` at `stage`, deleting `replaces`
/// (the hash of the session this one supersedes), inside the caller's
/// transaction; returns its row id.
pub fn issue(
    conn: &Connection,
    fresh: &Fresh,
    user_id: i64,
    stage: Stage,
    origin: &Origin,
    now_ms: i64,
    replaces: Option<&str>,
) -> Result<i64, StoreError> {
    if let Some(old) = replaces {
        repo::delete_session_by_hash(conn, old)?;
    }
    let hash = secrets::sha256_hex(&fresh.cookie_value);
    let csrf = &fresh.csrf;
    repo::insert_session(
        conn,
        &NewSession {
            token_hash: &hash,
            user_id,
            stage,
            csrf_token: csrf,
            now_ms,
            ip: &origin.ip,
            user_agent: &origin.user_agent,
        },
    )
}

/// The session cookie. It lives as long as the browser session; the server
/// enforces the idle and absolute timeouts.
pub fn cookie(auth: &Auth, value: String) -> Cookie<'static> {
    Cookie::build(auth.session_cookie_name(), value)
        .path("/")
        .http_only(true)
        .secure(auth.secure_cookies)
        .same_site(SameSite::Lax)
        .finish()
}

/// A cookie that makes the browser forget its session.
pub fn removal(auth: &Auth) -> Cookie<'static> {
    Cookie::build(auth.session_cookie_name(), "")
        .path("/")
        .http_only(true)
        .secure(auth.secure_cookies)
        .same_site(SameSite::Lax)
        .max_age(CookieDuration::ZERO)
        .finish()
}
