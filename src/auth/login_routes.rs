//! The pages of getting in and out: `/login`, `/login/totp`, `/logout`, the
//! first-run `/setup?token=…` and the one-time `/set-password?token=…`.
//! Every failed password step answers the same 401 page with the same
//! message, whatever the reason.

use actix_web::http::StatusCode;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::accounts::{self, NewUser};
use super::audit::{Event, user_actor};
use super::csrf::{self, Form, PublicForm};
use super::extract::EnrollingUser;
use super::login::{self, GENERIC_FAILURE, PasswordStep, TotpStep};
use super::model::{Role, Stage};
use super::repo;
use super::secrets;
use super::session;
use super::state::Auth;
use super::web::{local_target, origin, see_other};
use crate::audit_trail::{Actor, Outcome};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

pub fn routes(r: &mut Routes) {
    r.get("/login", Access::Public, login_page);
    r.post("/login", Access::Public, login_submit);
    r.get("/login/totp", Access::Public, totp_page);
    r.post("/login/totp", Access::Public, totp_submit);
    r.post("/logout", Access::SelfService, logout);
    r.get("/setup", Access::Public, setup_page);
    r.post("/setup", Access::Public, setup_submit);
    r.get("/set-password", Access::Public, set_password_page);
    r.post("/set-password", Access::Public, set_password_submit);
}

#[derive(Template)]
#[template(path = "auth/login.html")]
struct LoginPage {
    layout: Layout,
    csrf: String,
    next: String,
    email: String,
    error: Option<&'static str>,
    notice: Option<&'static str>,
}

#[derive(Deserialize)]
struct NextQuery {
    next: Option<String>,
    done: Option<String>,
}

/// Renders a pre-session form page, setting the CSRF cookie if it is new.
fn pre_session_page(
    req: &HttpRequest,
    auth: &Auth,
    status: StatusCode,
    render: impl FnOnce(String) -> Result<String, askama::Error>,
) -> Result<HttpResponse, AppError> {
    let (token, fresh) = csrf::pre_session_token(req, auth)?;
    let body = render(token.clone()).map_err(|e| AppError::Internal(e.into()))?;
    let mut res = HttpResponse::build(status);
    res.content_type("text/html; charset=utf-8")
        .insert_header(("cache-control", "no-store"));
    if fresh {
        res.cookie(csrf::pre_session_cookie(auth, token));
    }
    Ok(res.body(body))
}

async fn login_page(
    req: HttpRequest,
    auth: web::Data<Auth>,
    query: web::Query<NextQuery>,
) -> Result<HttpResponse, AppError> {
    let notice = match query.done.as_deref() {
        Some("setup") => Some("Your admin account is ready. Log in to continue."),
        Some("password") => Some("Your password is set. Log in with it."),
        Some("logout") => Some("You are logged out."),
        _ => None,
    };
    let next = local_target(query.next.as_deref());
    pre_session_page(&req, &auth, StatusCode::OK, |csrf| {
        LoginPage {
            layout: Layout::new("Log in", req.path()),
            csrf,
            next,
            email: String::new(),
            error: None,
            notice,
        }
        .render()
    })
}

#[derive(Deserialize)]
struct LoginForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
    next: Option<String>,
}

async fn login_submit(
    req: HttpRequest,
    auth: web::Data<Auth>,
    PublicForm(form): PublicForm<LoginForm>,
) -> Result<HttpResponse, AppError> {
    let previous = req
        .cookie(auth.session_cookie_name())
        .map(|c| c.value().to_string());
    let email: String = form.email.trim().chars().take(254).collect();
    let step = login::password_step(&auth, &email, form.password, &origin(&req), previous).await?;
    let next = local_target(form.next.as_deref());
    match step {
        PasswordStep::Refused => pre_session_page(&req, &auth, StatusCode::UNAUTHORIZED, |csrf| {
            LoginPage {
                layout: Layout::new("Log in", req.path()),
                csrf,
                next,
                email,
                error: Some(GENERIC_FAILURE),
                notice: None,
            }
            .render()
        }),
        PasswordStep::Accepted { cookie, stage } => {
            let to = match stage {
                Stage::Full => next,
                Stage::Totp => "/login/totp".to_string(),
                Stage::Enrol => "/account/2fa".to_string(),
            };
            let mut res = see_other(&to);
            res.add_cookie(&session::cookie(&auth, cookie))
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok(res)
        }
    }
}

#[derive(Template)]
#[template(path = "auth/totp.html")]
struct TotpPage {
    layout: Layout,
    csrf: String,
    error: Option<&'static str>,
}

async fn totp_page(req: HttpRequest, auth: web::Data<Auth>) -> Result<HttpResponse, AppError> {
    let pending = match req.cookie(auth.session_cookie_name()) {
        Some(c) => super::extract::live_session(&auth, c.value()).await?,
        None => None,
    };
    if !pending.is_some_and(|s| s.stage == Stage::Totp) {
        return Ok(see_other("/login"));
    }
    pre_session_page(&req, &auth, StatusCode::OK, |csrf| {
        TotpPage {
            layout: Layout::new("Two-factor code", req.path()),
            csrf,
            error: None,
        }
        .render()
    })
}

#[derive(Deserialize)]
struct CodeForm {
    #[serde(default)]
    code: String,
}

async fn totp_submit(
    req: HttpRequest,
    auth: web::Data<Auth>,
    PublicForm(form): PublicForm<CodeForm>,
) -> Result<HttpResponse, AppError> {
    let Some(cookie) = req.cookie(auth.session_cookie_name()) else {
        return Ok(see_other("/login"));
    };
    let code: String = form.code.chars().take(64).collect();
    match login::totp_step(&auth, cookie.value(), &code, &origin(&req)).await? {
        TotpStep::NoSession => Ok(see_other("/login")),
        TotpStep::Accepted { cookie } => {
            let mut res = see_other("/");
            res.add_cookie(&session::cookie(&auth, cookie))
                .map_err(|e| AppError::Internal(e.into()))?;
            Ok(res)
        }
        TotpStep::Throttled { retry_after_s } => {
            let mut res = pre_session_page(&req, &auth, StatusCode::TOO_MANY_REQUESTS, |csrf| {
                TotpPage {
                    layout: Layout::new("Two-factor code", req.path()),
                    csrf,
                    error: Some(login::WAIT_FOR_NEXT),
                }
                .render()
            })?;
            res.headers_mut().insert(
                actix_web::http::header::RETRY_AFTER,
                actix_web::http::header::HeaderValue::from(retry_after_s),
            );
            Ok(res)
        }
        TotpStep::Refused(message) => {
            pre_session_page(&req, &auth, StatusCode::UNAUTHORIZED, |csrf| {
                TotpPage {
                    layout: Layout::new("Two-factor code", req.path()),
                    csrf,
                    error: Some(message),
                }
                .render()
            })
        }
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn logout(
    req: HttpRequest,
    auth: web::Data<Auth>,
    EnrollingUser(user): EnrollingUser,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    if let Some(hash) = user.session_hash().map(str::to_string) {
        let (trail, origin, now) = (auth.trail.clone(), origin(&req), auth.clock.now_ms());
        let (id, email) = (user.id, user.email.clone());
        auth.store
            .write(move |conn| {
                repo::delete_session_by_hash(conn, &hash)?;
                Event::new(user_actor(id, &email), "logout", Outcome::Success)
                    .target(format!("user:{id}"))
                    .write(&trail, conn, now, &origin)
            })
            .await?;
    }
    let mut res = see_other("/login?done=logout");
    res.add_cookie(&session::removal(&auth))
        .map_err(|e| AppError::Internal(e.into()))?;
    Ok(res)
}

#[derive(Template)]
#[template(path = "auth/set_password.html")]
struct PasswordPage {
    layout: Layout,
    csrf: String,
    token: String,
    /// First-run setup asks for the admin's email and name too.
    setup: bool,
    valid: bool,
    email: String,
    name: String,
    error: Option<String>,
}

#[derive(Deserialize)]
struct TokenQuery {
    #[serde(default)]
    token: String,
}

async fn link_is_live(auth: &Auth, token: &str, purpose: &'static str) -> Result<bool, AppError> {
    if token.is_empty() || token.len() > 128 {
        return Ok(false);
    }
    let (hash, now) = (secrets::sha256_hex(token), auth.clock.now_ms());
    Ok(auth
        .store
        .read(move |conn| repo::peek_one_time(conn, &hash, purpose, now))
        .await?
        .is_some())
}

fn password_page(
    req: &HttpRequest,
    auth: &Auth,
    status: StatusCode,
    page: impl FnOnce(String) -> PasswordPage,
) -> Result<HttpResponse, AppError> {
    pre_session_page(req, auth, status, |csrf| page(csrf).render())
}

async fn setup_page(
    req: HttpRequest,
    auth: web::Data<Auth>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let valid = link_is_live(&auth, &query.token, "setup").await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    password_page(&req, &auth, status, |csrf| PasswordPage {
        layout: Layout::new("Set up Watchpost", req.path()),
        csrf,
        token: query.token.clone(),
        setup: true,
        valid,
        email: String::new(),
        name: String::new(),
        error: None,
    })
}

#[derive(Deserialize)]
struct PasswordForm {
    #[serde(default)]
    token: String,
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    password: String,
    #[serde(default)]
    password_confirm: String,
}

const MISMATCH: &str = "The two passwords differ. Type the same password twice.";
const DEAD_LINK: &str = "This link has expired or was already used. Ask an admin for a new one.";

async fn setup_submit(
    req: HttpRequest,
    auth: web::Data<Auth>,
    PublicForm(form): PublicForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let again = |error: String, status: StatusCode| {
        password_page(&req, &auth, status, |csrf| PasswordPage {
            layout: Layout::new("Set up Watchpost", req.path()),
            csrf,
            token: form.token.clone(),
            setup: true,
            valid: true,
            email: form.email.clone(),
            name: form.name.clone(),
            error: Some(error),
        })
    };
    if form.password != form.password_confirm {
        return again(MISMATCH.into(), StatusCode::BAD_REQUEST);
    }
    let email = match super::model::normalise_email(&form.email) {
        Ok(email) => email,
        Err(e) => return again(e, StatusCode::BAD_REQUEST),
    };
    if let Err(reason) = auth
        .policy_for(Role::Admin, false)
        .check(&form.password, &email)
    {
        return again(reason.to_string(), StatusCode::BAD_REQUEST);
    }
    let (hash, now) = (secrets::sha256_hex(&form.token), auth.clock.now_ms());
    let taken = auth
        .store
        .write(move |conn| repo::take_one_time(conn, &hash, "setup", now))
        .await?;
    if taken.is_none() {
        return again(DEAD_LINK.into(), StatusCode::NOT_FOUND);
    }
    accounts::create_user(
        &auth,
        Actor::Anonymous,
        &origin(&req),
        NewUser {
            email,
            name: form.name.clone(),
            role: Role::Admin,
            password: Some(form.password.clone()),
        },
    )
    .await?;
    let _ = std::fs::remove_file(auth.data_dir.join(super::bootstrap::SETUP_TOKEN_FILE));
    Ok(see_other("/login?done=setup"))
}

async fn set_password_page(
    req: HttpRequest,
    auth: web::Data<Auth>,
    query: web::Query<TokenQuery>,
) -> Result<HttpResponse, AppError> {
    let valid = link_is_live(&auth, &query.token, "set_password").await?;
    let status = if valid {
        StatusCode::OK
    } else {
        StatusCode::NOT_FOUND
    };
    password_page(&req, &auth, status, |csrf| PasswordPage {
        layout: Layout::new("Set your password", req.path()),
        csrf,
        token: query.token.clone(),
        setup: false,
        valid,
        email: String::new(),
        name: String::new(),
        error: None,
    })
}

async fn set_password_submit(
    req: HttpRequest,
    auth: web::Data<Auth>,
    PublicForm(form): PublicForm<PasswordForm>,
) -> Result<HttpResponse, AppError> {
    let again = |error: String, status: StatusCode| {
        password_page(&req, &auth, status, |csrf| PasswordPage {
            layout: Layout::new("Set your password", req.path()),
            csrf,
            token: form.token.clone(),
            setup: false,
            valid: true,
            email: String::new(),
            name: String::new(),
            error: Some(error),
        })
    };
    if form.password != form.password_confirm {
        return again(MISMATCH.into(), StatusCode::BAD_REQUEST);
    }
    let (hash, now) = (secrets::sha256_hex(&form.token), auth.clock.now_ms());
    let peek = hash.clone();
    let Some(Some(user_id)) = auth
        .store
        .read(move |conn| repo::peek_one_time(conn, &peek, "set_password", now))
        .await?
    else {
        return again(DEAD_LINK.into(), StatusCode::NOT_FOUND);
    };
    let user = accounts::user(&auth, user_id).await?;
    if let Err(reason) = auth
        .policy_for(user.role, user.totp_enabled)
        .check(&form.password, &user.email)
    {
        return again(reason.to_string(), StatusCode::BAD_REQUEST);
    }
    let taken = auth
        .store
        .write(move |conn| repo::take_one_time(conn, &hash, "set_password", now))
        .await?;
    if taken.is_none() {
        return again(DEAD_LINK.into(), StatusCode::NOT_FOUND);
    }
    accounts::set_password(
        &auth,
        user_actor(user.id, &user.email),
        &origin(&req),
        user.id,
        form.password.clone(),
        None,
    )
    .await?;
    Ok(see_other("/login?done=password"))
}
