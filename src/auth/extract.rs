//! Authentication is an extractor, not a middleware: a handler that takes
//! [`CurrentUser`] runs only for a logged-in user, one that takes
//! [`RequireAdmin`] only for an admin. Under `/api/` a request may instead
//! carry `Authorization: Bearer wp_…`; a cookie-authenticated API call that
//! changes state must carry the session's CSRF token in `X-CSRF-Token`
//! (forms carry theirs in the body, checked by [`super::csrf::Form`]).
//!
//! Unauthenticated page requests are sent to `/login`; API requests get 401.
//! Expired sessions are deleted when they are presented.

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::http::Method;
use actix_web::http::header::AUTHORIZATION;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};

use super::model::{Role, Scope, Stage};
use super::repo::{self, SessionRow};
use super::secrets;
use super::state::{Auth, TOUCH_EVERY_MS};
use crate::error::AppError;

pub const CSRF_HEADER: &str = "x-csrf-token";

/// The logged-in user of this request.
#[derive(Debug, Clone)]
pub struct CurrentUser {
    pub id: i64,
    pub email: String,
    pub display_name: String,
    pub role: Role,
    pub totp_enabled: bool,
    pub via: Via,
}

/// How the request was authenticated.
#[derive(Debug, Clone)]
pub enum Via {
    Session {
        id: i64,
        token_hash: String,
        csrf: String,
    },
    Token {
        id: i64,
        scope: Scope,
    },
}

impl CurrentUser {
    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The session's CSRF token, for forms on pages.
    pub fn csrf(&self) -> &str {
        match &self.via {
            Via::Session { csrf, .. } => csrf,
            Via::Token { .. } => "",
        }
    }

    pub fn session_hash(&self) -> Option<&str> {
        match &self.via {
            Via::Session { token_hash, .. } => Some(token_hash),
            Via::Token { .. } => None,
        }
    }
}

/// The session's CSRF token, left in the request's extensions for
/// [`super::csrf::Form`].
#[derive(Debug, Clone)]
pub struct SessionCsrf(pub String);

/// An admin, or 403.
#[derive(Debug, Clone)]
pub struct RequireAdmin(pub CurrentUser);

impl RequireAdmin {
    pub fn user(&self) -> &CurrentUser {
        &self.0
    }
}

/// A user whose session is complete, or an admin whose only way forward is
/// enrolling in 2FA (for the enrolment pages alone).
#[derive(Debug, Clone)]
pub struct EnrollingUser(pub CurrentUser);

type Extracting<T> = Pin<Box<dyn Future<Output = Result<T, actix_web::Error>>>>;

impl FromRequest for CurrentUser {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move { Ok(authenticate(&req, &[Stage::Full]).await?) })
    }
}

impl FromRequest for RequireAdmin {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            let user = authenticate(&req, &[Stage::Full]).await?;
            if !user.is_admin() {
                return Err(AppError::Forbidden(
                    "This needs an admin account. Ask an admin if you need it done.".into(),
                )
                .into());
            }
            Ok(RequireAdmin(user))
        })
    }
}

impl FromRequest for EnrollingUser {
    type Error = actix_web::Error;
    type Future = Extracting<Self>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let req = req.clone();
        Box::pin(async move {
            Ok(EnrollingUser(
                authenticate(&req, &[Stage::Full, Stage::Enrol]).await?,
            ))
        })
    }
}

fn auth_of(req: &HttpRequest) -> Result<web::Data<Auth>, AppError> {
    req.app_data::<web::Data<Auth>>()
        .cloned()
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the auth state is not registered")))
}

fn is_api(req: &HttpRequest) -> bool {
    req.path().starts_with("/api/")
}

fn is_safe(method: &Method) -> bool {
    matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS)
}

/// Where an unauthenticated request goes: 401 under `/api/`, the login page
/// (coming back here afterwards) elsewhere.
fn login_required(req: &HttpRequest) -> AppError {
    if is_api(req) {
        AppError::Unauthorized
    } else {
        let next = if is_safe(req.method()) {
            req.uri()
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_string()
        } else {
            "/".to_string()
        };
        AppError::LoginRequired(next)
    }
}

async fn authenticate(req: &HttpRequest, stages: &[Stage]) -> Result<CurrentUser, AppError> {
    let auth = auth_of(req)?;
    if is_api(req)
        && let Some(header) = req.headers().get(AUTHORIZATION)
    {
        return bearer(req, &auth, header.as_bytes()).await;
    }
    let Some(cookie) = req.cookie(auth.session_cookie_name()) else {
        return Err(login_required(req));
    };
    let Some(session) = live_session(&auth, cookie.value()).await? else {
        return Err(login_required(req));
    };
    if !stages.contains(&session.stage) {
        return Err(match session.stage {
            Stage::Enrol if !is_api(req) => AppError::Redirect("/account/2fa".into()),
            Stage::Totp if !is_api(req) => AppError::Redirect("/login/totp".into()),
            _ => login_required(req),
        });
    }
    let token_hash = secrets::sha256_hex(cookie.value());
    if is_api(req) && !is_safe(req.method()) {
        let given = req
            .headers()
            .get(CSRF_HEADER)
            .map(|v| v.as_bytes())
            .unwrap_or_default();
        if !secrets::constant_time_eq(given, session.csrf_token.as_bytes()) {
            return Err(AppError::Forbidden(
                "Send the session's CSRF token in the X-CSRF-Token header (or use an API token)."
                    .into(),
            ));
        }
    }
    req.extensions_mut()
        .insert(SessionCsrf(session.csrf_token.clone()));
    let user = session.user;
    Ok(CurrentUser {
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        role: user.role,
        totp_enabled: user.totp_enabled,
        via: Via::Session {
            id: session.id,
            token_hash,
            csrf: session.csrf_token,
        },
    })
}

/// The session for a cookie value, if it is live: not idle too long, not too
/// old, its user not disabled. A dead session is deleted on the spot.
pub async fn live_session(auth: &Auth, cookie: &str) -> Result<Option<SessionRow>, AppError> {
    if cookie.is_empty() || cookie.len() > 128 {
        return Ok(None);
    }
    let hash = secrets::sha256_hex(cookie);
    let lookup = hash.clone();
    let Some(session) = auth
        .store
        .read(move |conn| repo::session_by_hash(conn, &lookup))
        .await?
    else {
        return Ok(None);
    };
    let now = auth.clock.now_ms();
    let last_seen = auth
        .touches
        .pending_session(&hash)
        .map_or(session.last_seen_ms, |t| t.max(session.last_seen_ms));
    let idle = ms(auth.settings.session_idle);
    let absolute = ms(auth.settings.session_absolute);
    if session.user.disabled || now - last_seen > idle || now - session.created_ms > absolute {
        auth.store
            .write(move |conn| repo::delete_session_by_hash(conn, &hash))
            .await?;
        return Ok(None);
    }
    if now - last_seen >= TOUCH_EVERY_MS {
        auth.touches.session(&hash, now);
    }
    Ok(Some(session))
}

/// The live token and its user for an `Authorization: Bearer wp_…` header.
async fn token_of(
    auth: &Auth,
    header: &[u8],
) -> Result<(repo::TokenInfo, super::model::User, String), AppError> {
    let invalid = || AppError::InvalidToken;
    let header = std::str::from_utf8(header).map_err(|_| invalid())?;
    let token = header
        .strip_prefix("Bearer ")
        .map(str::trim)
        .filter(|t| t.starts_with("wp_") && t.len() <= 128)
        .ok_or_else(invalid)?;
    let hash = secrets::sha256_hex(token);
    let lookup = hash.clone();
    let found = auth
        .store
        .read(move |conn| {
            let Some((token, user_id)) = repo::token_by_hash(conn, &lookup)? else {
                return Ok(None);
            };
            Ok(repo::user_by_id(conn, user_id)?.map(|user| (token, user)))
        })
        .await?;
    let Some((token, user)) = found else {
        return Err(invalid());
    };
    let now = auth.clock.now_ms();
    if user.disabled || token.expires_ms.is_some_and(|e| e <= now) {
        return Err(invalid());
    }
    Ok((token, user, hash))
}

/// Whether the request carries a live API token of the `metrics` scope
/// (for `/metrics`, registered as `metrics::MetricsToken`).
pub async fn has_metrics_token(req: HttpRequest) -> bool {
    let (Ok(auth), Some(header)) = (auth_of(&req), req.headers().get(AUTHORIZATION)) else {
        return false;
    };
    match token_of(&auth, header.as_bytes()).await {
        Ok((token, _, hash)) if token.scope == Scope::Metrics => {
            auth.touches.token(&hash, auth.clock.now_ms());
            true
        }
        _ => false,
    }
}

async fn bearer(req: &HttpRequest, auth: &Auth, header: &[u8]) -> Result<CurrentUser, AppError> {
    let (token, user, hash) = token_of(auth, header).await?;
    let now = auth.clock.now_ms();
    match token.scope {
        Scope::Read if !is_safe(req.method()) => {
            return Err(AppError::Forbidden(
                "This API token is read-only; create a token with the write scope to change things."
                    .into(),
            ));
        }
        Scope::Read | Scope::Write => {}
        Scope::Metrics | Scope::Ingest => {
            return Err(AppError::Forbidden(format!(
                "A {} token cannot use /api/v1; create a read or write token.",
                token.scope.as_str()
            )));
        }
    }
    auth.touches.token(&hash, now);
    Ok(CurrentUser {
        id: user.id,
        email: user.email,
        display_name: user.display_name,
        role: user.role,
        totp_enabled: user.totp_enabled,
        via: Via::Token {
            id: token.id,
            scope: token.scope,
        },
    })
}

fn ms(d: std::time::Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}
