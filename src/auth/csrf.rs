//! CSRF protection for forms. Every state-changing form carries a hidden
//! `csrf` field. [`Form`] (forms of a logged-in session) reads the body,
//! compares that field in constant time with the token of the session the
//! request's cookie names, and only then decodes the form. [`PublicForm`]
//! (the ways in: login, the 2FA step, first-run setup, set-password) uses a
//! double-submit token instead: a random `wp_csrf` cookie (`HttpOnly`,
//! `SameSite=Strict`) that the page also puts into the form.
//!
//! A mismatch is a 403 and nothing is decoded or changed.

use std::future::Future;
use std::pin::Pin;

use actix_web::cookie::{Cookie, SameSite};
use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpMessage, HttpRequest, web};
use serde::Deserialize;
use serde::de::DeserializeOwned;

use super::extract::SessionCsrf;
use super::secrets;
use super::state::Auth;
use crate::error::AppError;

/// A form body whose CSRF token matched the session's.
pub struct Form<T>(pub T);

/// A form body whose CSRF token matched the pre-session cookie.
pub struct PublicForm<T>(pub T);

#[derive(Deserialize)]
struct CsrfField {
    #[serde(default)]
    csrf: String,
}

const STALE: &str =
    "This form's security token is missing or stale. Reload the page and submit it again.";

impl<T: DeserializeOwned + 'static> FromRequest for Form<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = body.await?;
            let expected = session_token(&req).await?;
            Ok(Form(checked(&body, expected)?))
        })
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for PublicForm<T> {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let body = web::Bytes::from_request(req, payload);
        let req = req.clone();
        Box::pin(async move {
            let body = body.await?;
            let expected = pre_session_cookie_value(&req);
            Ok(PublicForm(checked(&body, expected)?))
        })
    }
}

/// Decodes `body` once its `csrf` field matches `expected`.
fn checked<T: DeserializeOwned>(body: &[u8], expected: Option<String>) -> Result<T, AppError> {
    let expected = expected.ok_or_else(|| AppError::Forbidden(STALE.into()))?;
    let given = serde_urlencoded::from_bytes::<CsrfField>(body)
        .map(|f| f.csrf)
        .unwrap_or_default();
    if given.is_empty() || !secrets::constant_time_eq(given.as_bytes(), expected.as_bytes()) {
        return Err(AppError::Forbidden(STALE.into()));
    }
    serde_urlencoded::from_bytes::<T>(body).map_err(|e| {
        AppError::BadRequest(format!(
            "The form could not be read: {e}. Check the fields and submit it again."
        ))
    })
}

/// The CSRF token of the live session named by the request's cookie (of any
/// login stage), found by the user extractor or looked up here.
async fn session_token(req: &HttpRequest) -> Result<Option<String>, AppError> {
    if let Some(SessionCsrf(token)) = req.extensions().get::<SessionCsrf>() {
        return Ok(Some(token.clone()));
    }
    let Some(auth) = req.app_data::<web::Data<Auth>>() else {
        return Ok(None);
    };
    let Some(cookie) = req.cookie(auth.session_cookie_name()) else {
        return Ok(None);
    };
    Ok(super::extract::live_session(auth, cookie.value())
        .await?
        .map(|s| s.csrf_token))
}

fn pre_session_cookie_value(req: &HttpRequest) -> Option<String> {
    let auth = req.app_data::<web::Data<Auth>>()?;
    req.cookie(auth.csrf_cookie_name())
        .map(|c| c.value().to_string())
        .filter(|v| !v.is_empty())
}

/// The pre-session token for a form page: the one the browser already has,
/// or a new one that the caller must set with [`pre_session_cookie`].
pub fn pre_session_token(
    req: &HttpRequest,
    auth: &Auth,
) -> Result<(String, bool), secrets::RandomUnavailable> {
    Ok(match req.cookie(auth.csrf_cookie_name()) {
        Some(c) if (20..=64).contains(&c.value().len()) => (c.value().to_string(), false),
        _ => (secrets::random_token(32)?, true),
    })
}

pub fn pre_session_cookie(auth: &Auth, token: String) -> Cookie<'static> {
    Cookie::build(auth.csrf_cookie_name(), token)
        .path("/")
        .http_only(true)
        .secure(auth.secure_cookies)
        .same_site(SameSite::Strict)
        .finish()
}
