//! A user's own account: `/account` (profile, password change, sessions, API
//! tokens) and `/account/2fa` (enrol with a QR code, see recovery codes once,
//! turn 2FA off with password + code). Any role may use these, on their own
//! account only.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::accounts::{self, NewApiToken};
use super::audit::user_actor;
use super::csrf::Form;
use super::extract::{CurrentUser, EnrollingUser};
use super::model::{Role, Scope};
use super::repo::{self, SessionInfo, TokenInfo};
use super::session;
use super::state::Auth;
use super::totp;
use super::web::{layout, origin, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

pub fn routes(r: &mut Routes) {
    r.get("/account", Access::SelfService, account_page);
    r.post("/account/password", Access::SelfService, change_password);
    r.post(
        "/account/sessions/{id}/revoke",
        Access::SelfService,
        revoke_session,
    );
    r.post("/account/tokens", Access::SelfService, create_token);
    r.post(
        "/account/tokens/{id}/revoke",
        Access::SelfService,
        revoke_token,
    );
    r.get("/account/2fa", Access::SelfService, twofa_page);
    r.post("/account/2fa/enable", Access::SelfService, twofa_enable);
    r.post("/account/2fa/disable", Access::SelfService, twofa_disable);
}

pub struct SessionRow {
    pub id: i64,
    pub device: String,
    pub ip: String,
    pub last_seen: String,
    pub started: String,
    pub current: bool,
}

pub struct TokenRow {
    pub id: i64,
    pub name: String,
    pub scope: &'static str,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub live: bool,
}

#[derive(Template)]
#[template(path = "auth/account.html")]
struct AccountPage {
    layout: Layout,
    user: CurrentUser,
    role: &'static str,
    sessions: Vec<SessionRow>,
    tokens: Vec<TokenRow>,
    notice: Option<&'static str>,
    error: Option<String>,
    new_token: Option<String>,
    can_write_tokens: bool,
}

#[derive(Deserialize)]
struct DoneQuery {
    done: Option<String>,
}

fn session_rows(sessions: Vec<SessionInfo>, current: Option<&str>) -> Vec<SessionRow> {
    sessions
        .into_iter()
        .map(|s| SessionRow {
            current: current == Some(s.token_hash.as_str()),
            id: s.id,
            device: device_of(&s.user_agent),
            ip: s.ip,
            last_seen: when(Some(s.last_seen_ms)),
            started: when(Some(s.created_ms)),
        })
        .collect()
}

fn token_rows(tokens: Vec<TokenInfo>, now_ms: i64) -> Vec<TokenRow> {
    tokens
        .into_iter()
        .map(|t| TokenRow {
            live: t.revoked_ms.is_none() && t.expires_ms.is_none_or(|e| e > now_ms),
            id: t.id,
            name: t.name,
            scope: t.scope.as_str(),
            created: when(Some(t.created_ms)),
            expires: t
                .expires_ms
                .map_or_else(|| "never".into(), |e| when(Some(e))),
            last_used: when(t.last_used_ms),
        })
        .collect()
}

/// A short description of a browser from its user agent.
fn device_of(user_agent: &str) -> String {
    let browser = [
        "Firefox",
        "Edg",
        "Chrome",
        "Safari",
        "curl",
        "python",
        "Watchpost",
    ]
    .into_iter()
    .find(|b| user_agent.contains(b))
    .map(|b| if b == "Edg" { "Edge" } else { b });
    let system = ["Android", "iPhone", "iPad", "Windows", "Mac OS", "Linux"]
        .into_iter()
        .find(|s| user_agent.contains(s));
    match (browser, system) {
        (Some(b), Some(s)) => format!("{b} on {s}"),
        (Some(b), None) => b.to_string(),
        (None, Some(s)) => s.to_string(),
        (None, None) if user_agent.is_empty() => "unknown device".into(),
        (None, None) => user_agent.chars().take(40).collect(),
    }
}

async fn render_account(
    req: &HttpRequest,
    auth: &Auth,
    user: CurrentUser,
    notice: Option<&'static str>,
    error: Option<String>,
    new_token: Option<String>,
) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let (sessions, tokens) = auth
        .store
        .read(move |conn| Ok((repo::list_sessions(conn, id)?, repo::list_tokens(conn, id)?)))
        .await?;
    let page = AccountPage {
        layout: layout("Account", req, &user),
        role: user.role.as_str(),
        sessions: session_rows(sessions, user.session_hash()),
        tokens: token_rows(tokens, auth.clock.now_ms()),
        notice,
        can_write_tokens: user.role == Role::Admin,
        error,
        new_token,
        user,
    };
    super::web::page(&page, page.error.is_some())
}

async fn account_page(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    query: web::Query<DoneQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = match query.done.as_deref() {
        Some("password") => Some("Password changed. Your other sessions were ended."),
        Some("session") => Some("Session ended."),
        Some("token_revoked") => Some("Token revoked."),
        Some("2fa_off") => Some("Two-factor authentication is off."),
        _ => None,
    };
    render_account(&req, &auth, user, notice, None, None).await
}

#[derive(Deserialize)]
struct PasswordChange {
    #[serde(default)]
    current: String,
    #[serde(default)]
    new: String,
    #[serde(default)]
    confirm: String,
}

async fn change_password(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    Form(form): Form<PasswordChange>,
) -> Result<HttpResponse, AppError> {
    if !accounts::password_matches(&auth, user.id, form.current).await? {
        let error = "Your current password is not right; type it again.".to_string();
        return render_account(&req, &auth, user, None, Some(error), None).await;
    }
    if form.new != form.confirm {
        let error = "The two new passwords differ. Type the same password twice.".to_string();
        return render_account(&req, &auth, user, None, Some(error), None).await;
    }
    let keep = user.session_hash().map(str::to_string);
    let result = accounts::set_password(
        &auth,
        user_actor(user.id, &user.email),
        &origin(&req),
        user.id,
        form.new,
        keep,
    )
    .await;
    match result {
        Ok(cookie) => {
            let mut res = see_other("/account?done=password");
            if let Some(cookie) = cookie {
                res.add_cookie(&session::cookie(&auth, cookie))
                    .map_err(|e| AppError::Internal(e.into()))?;
            }
            Ok(res)
        }
        Err(AppError::BadRequest(reason)) => {
            render_account(&req, &auth, user, None, Some(reason), None).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn revoke_session(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    path: web::Path<i64>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    accounts::revoke_own_session(&auth, user.id, &user.email, &origin(&req), *path).await?;
    Ok(see_other("/account?done=session"))
}

#[derive(Deserialize)]
struct TokenForm {
    #[serde(default)]
    name: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    expires_in: String,
}

/// Parses a token lifetime such as `30d`; empty means no expiry.
pub fn parse_expiry(text: &str) -> Result<Option<std::time::Duration>, AppError> {
    let text = text.trim();
    if text.is_empty() || text == "never" {
        return Ok(None);
    }
    humantime::parse_duration(text).map(Some).map_err(|_| {
        AppError::BadRequest(format!(
            "{text:?} is not a lifetime; write e.g. 30d, 12h, or leave it empty for no expiry."
        ))
    })
}

async fn create_token(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    Form(form): Form<TokenForm>,
) -> Result<HttpResponse, AppError> {
    let made = async {
        let scope: Scope = form.scope.parse().map_err(AppError::BadRequest)?;
        let expires_in = parse_expiry(&form.expires_in)?;
        let new = NewApiToken {
            name: form.name,
            scope,
            expires_in,
        };
        accounts::create_token(
            &auth,
            user_actor(user.id, &user.email),
            &origin(&req),
            user.id,
            new,
        )
        .await
    }
    .await;
    match made {
        Ok((_, token)) => {
            let notice = Some("Token created. Copy it now: it is shown only this once.");
            render_account(&req, &auth, user, notice, None, Some(token)).await
        }
        Err(AppError::BadRequest(reason)) => {
            render_account(&req, &auth, user, None, Some(reason), None).await
        }
        Err(e) => Err(e),
    }
}

async fn revoke_token(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    path: web::Path<i64>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    accounts::revoke_token(
        &auth,
        user_actor(user.id, &user.email),
        &origin(&req),
        user.id,
        *path,
    )
    .await?;
    Ok(see_other("/account?done=token_revoked"))
}

#[derive(Template)]
#[template(path = "auth/twofa.html")]
struct TwoFactorPage {
    layout: Layout,
    enabled: bool,
    /// An admin who must enrol before reaching anything else.
    required: bool,
    qr_svg: String,
    manual_key: String,
    recovery_left: i64,
    recovery_codes: Vec<String>,
    error: Option<&'static str>,
    may_disable: bool,
    csrf: String,
}

async fn render_twofa(
    req: &HttpRequest,
    auth: &Auth,
    user: &CurrentUser,
    error: Option<&'static str>,
    recovery_codes: Vec<String>,
    status: actix_web::http::StatusCode,
) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let recovery_left = auth
        .store
        .read(move |conn| repo::unused_recovery_codes(conn, id))
        .await?;
    let enabled = user.totp_enabled || !recovery_codes.is_empty();
    let (qr_svg, manual_key) = if enabled {
        (String::new(), String::new())
    } else {
        let secret = accounts::pending_totp_secret(auth, id).await?;
        let url = totp::otpauth_url(&secret, &user.email, "Watchpost");
        let svg = totp::qr_svg(&url)
            .map_err(|e| AppError::Internal(anyhow::anyhow!("drawing the QR code: {e}")))?;
        (svg, totp::manual_key(&secret))
    };
    let enrolling = matches!(user.via, super::extract::Via::Session { .. })
        && !user.totp_enabled
        && user.role == Role::Admin
        && auth.settings.require_2fa_for_admins;
    let page = TwoFactorPage {
        layout: layout("Two-factor authentication", req, user),
        enabled,
        required: enrolling,
        qr_svg,
        manual_key,
        recovery_left,
        recovery_codes,
        error,
        may_disable: !(user.role == Role::Admin && auth.settings.require_2fa_for_admins),
        csrf: user.csrf().to_string(),
    };
    super::web::page_with_status(&page, status)
}

async fn twofa_page(
    req: HttpRequest,
    auth: web::Data<Auth>,
    EnrollingUser(user): EnrollingUser,
) -> Result<HttpResponse, AppError> {
    render_twofa(
        &req,
        &auth,
        &user,
        None,
        Vec::new(),
        actix_web::http::StatusCode::OK,
    )
    .await
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn twofa_enable(
    req: HttpRequest,
    auth: web::Data<Auth>,
    EnrollingUser(user): EnrollingUser,
    Form(form): Form<CodeForm>,
) -> Result<HttpResponse, AppError> {
    if user.totp_enabled {
        return Ok(see_other("/account/2fa"));
    }
    let code: String = form.code.chars().take(16).collect();
    let session = user.session_hash().map(str::to_string);
    let enrolled =
        accounts::confirm_totp(&auth, user.id, &user.email, &origin(&req), &code, session).await?;
    let Some(enrolled) = enrolled else {
        let error = Some(
            "That code is not right. Check your device's clock and enter the code your app shows now.",
        );
        return render_twofa(
            &req,
            &auth,
            &user,
            error,
            Vec::new(),
            actix_web::http::StatusCode::BAD_REQUEST,
        )
        .await;
    };
    let mut res = render_twofa(
        &req,
        &auth,
        &user,
        None,
        enrolled.recovery_codes,
        actix_web::http::StatusCode::OK,
    )
    .await?;
    if let Some(cookie) = enrolled.cookie {
        res.add_cookie(&session::cookie(&auth, cookie))
            .map_err(|e| AppError::Internal(e.into()))?;
    }
    Ok(res)
}

#[derive(Deserialize)]
struct DisableForm {
    #[serde(default)]
    password: String,
    #[serde(default)]
    code: String,
}

async fn twofa_disable(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    Form(form): Form<DisableForm>,
) -> Result<HttpResponse, AppError> {
    if user.role == Role::Admin && auth.settings.require_2fa_for_admins {
        return Err(AppError::Forbidden(
            "Admins must keep two-factor authentication (auth.require_2fa_for_admins). Another admin can reset it if your device is lost.".into(),
        ));
    }
    let code: String = form.code.chars().take(16).collect();
    if accounts::disable_totp(
        &auth,
        user.id,
        &user.email,
        &origin(&req),
        form.password,
        &code,
    )
    .await?
    {
        return Ok(see_other("/account?done=2fa_off"));
    }
    let error = Some("The password or the code is not right. Both are needed to turn 2FA off.");
    render_twofa(
        &req,
        &auth,
        &user,
        error,
        Vec::new(),
        actix_web::http::StatusCode::BAD_REQUEST,
    )
    .await
}
