//! The accounts JSON API under `/api/v1` (session cookie + `X-CSRF-Token`, or
//! `Authorization: Bearer wp_…`), and `/health/detail` for any logged-in
//! user. Admin actions answer 403 to viewers and read-only tokens.

use std::time::Instant;

use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::accounts::{self, NewApiToken, NewUser};
use super::audit::user_actor;
use super::extract::{CurrentUser, RequireAdmin};
use super::model::{Role, Scope};
use super::repo;
use super::state::Auth;
use super::users_routes::{self, ListQuery};
use super::web::{json_body, origin};
use crate::error::AppError;
use crate::health;
use crate::http::routes::{Access, Routes};
use crate::store::Store;
use crate::tasks::TaskBoard;

/// The accounts API's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        me,
        list_users,
        create_user,
        user_action,
        own_sessions,
        own_tokens,
        create_token,
        revoke_token
    ),
    components(schemas(Me, CreateUser, ActionBody, CreateToken, Role, Scope))
)]
pub struct AccountsApi;

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/me", Access::Viewer, me);
    r.get("/api/v1/users", Access::Admin, list_users);
    r.post("/api/v1/users", Access::Admin, create_user);
    r.post("/api/v1/users/{id}/{action}", Access::Admin, user_action);
    r.get("/api/v1/sessions", Access::Viewer, own_sessions);
    r.get("/api/v1/tokens", Access::Viewer, own_tokens);
    r.post("/api/v1/tokens", Access::SelfService, create_token);
    r.post(
        "/api/v1/tokens/{id}/revoke",
        Access::SelfService,
        revoke_token,
    );
    r.get("/health/detail", Access::Viewer, health_detail);
}

/// Who is calling.
#[derive(Serialize, utoipa::ToSchema)]
struct Me<'a> {
    id: i64,
    email: &'a str,
    display_name: &'a str,
    role: Role,
    totp_enabled: bool,
    csrf_token: &'a str,
}

/// The caller's account, and the session's CSRF token (empty for API tokens).
#[utoipa::path(get, path = "/api/v1/me", tag = "accounts",
    responses((status = 200, description = "The caller", body = Me), (status = 401, description = "No session or API token")),
    security(("bearer" = []), ("session" = [])))]
async fn me(user: CurrentUser) -> HttpResponse {
    HttpResponse::Ok().json(Me {
        id: user.id,
        email: &user.email,
        display_name: &user.display_name,
        role: user.role,
        totp_enabled: user.totp_enabled,
        csrf_token: user.csrf(),
    })
}

/// Users, filtered, with counts per role and status (admins only).
#[utoipa::path(get, path = "/api/v1/users", tag = "accounts",
    params(
        ("q" = Option<String>, Query, description = "Part of an email or name"),
        ("role" = Option<String>, Query, description = "admin or viewer"),
        ("status" = Option<String>, Query, description = "enabled or disabled"),
        ("twofa" = Option<String>, Query, description = "on or off"),
    ),
    responses((status = 200, description = "`{users, counts}`"), (status = 403, description = "Not an admin")),
    security(("bearer" = []), ("session" = [])))]
async fn list_users(
    auth: web::Data<Auth>,
    _admin: RequireAdmin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filter();
    let (counts, users) = auth
        .store
        .read(move |conn| Ok((repo::user_counts(conn)?, repo::list_users(conn, &filter)?)))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "counts": counts, "users": users })))
}

/// A new account; without a password, the answer holds a one-time link to set one.
#[derive(Deserialize, utoipa::ToSchema)]
struct CreateUser {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    password: Option<String>,
}

/// Creates a user (admins only).
#[utoipa::path(post, path = "/api/v1/users", tag = "accounts", request_body = CreateUser,
    responses(
        (status = 201, description = "`{id, email, set_password_link}`"),
        (status = 400, description = "An invalid email or a weak password, with the reason"),
        (status = 403, description = "Not an admin, or no CSRF token with a cookie"),
        (status = 409, description = "The email is taken"),
    ),
    security(("bearer" = []), ("session" = [])))]
async fn create_user(
    req: HttpRequest,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let body: CreateUser = json_body(&body)?;
    let created = accounts::create_user(
        &auth,
        user_actor(admin.id, &admin.email),
        &origin(&req),
        NewUser {
            email: body.email,
            name: body.name,
            role: body.role.unwrap_or(Role::Viewer),
            password: body.password.filter(|p| !p.is_empty()),
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({
        "id": created.user_id,
        "email": created.email,
        "set_password_link": created.link,
    })))
}

/// The new role, for the `role` action.
#[derive(Deserialize, utoipa::ToSchema)]
struct ActionBody {
    #[serde(default)]
    role: String,
}

/// Acts on a user (admins only): role, disable, enable, reset-2fa, revoke-sessions or clear-lockout.
#[utoipa::path(post, path = "/api/v1/users/{id}/{action}", tag = "accounts", request_body(content = ActionBody, description = "Only for `role`"),
    params(("id" = i64, Path, description = "User id"), ("action" = String, Path, description = "role, disable, enable, reset-2fa, revoke-sessions or clear-lockout")),
    responses((status = 200, description = "The user after the action"), (status = 400, description = "An unknown action or role"), (status = 403, description = "Not an admin"), (status = 404, description = "No such user")),
    security(("bearer" = []), ("session" = [])))]
async fn user_action(
    req: HttpRequest,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    path: web::Path<(i64, String)>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let role = if body.is_empty() {
        String::new()
    } else {
        json_body::<ActionBody>(&body)?.role
    };
    users_routes::apply(&auth, &admin, &req, id, &action, &role).await?;
    let user = accounts::user(&auth, id).await?;
    Ok(HttpResponse::Ok().json(user))
}

/// The caller's live sessions.
#[utoipa::path(get, path = "/api/v1/sessions", tag = "accounts",
    responses((status = 200, description = "`{sessions}`"), (status = 401, description = "No session or API token")),
    security(("bearer" = []), ("session" = [])))]
async fn own_sessions(auth: web::Data<Auth>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let sessions = auth
        .store
        .read(move |conn| repo::list_sessions(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "sessions": sessions })))
}

/// The caller's API tokens (never their values).
#[utoipa::path(get, path = "/api/v1/tokens", tag = "accounts",
    responses((status = 200, description = "`{tokens}`"), (status = 401, description = "No session or API token")),
    security(("bearer" = []), ("session" = [])))]
async fn own_tokens(auth: web::Data<Auth>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let tokens = auth
        .store
        .read(move |conn| repo::list_tokens(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

/// A new API token.
#[derive(Deserialize, utoipa::ToSchema)]
struct CreateToken {
    name: String,
    scope: Scope,
    /// e.g. `30d`; absent for no expiry.
    #[serde(default)]
    expires_in: Option<String>,
}

/// Creates an API token for the caller; its value is in this answer only.
#[utoipa::path(post, path = "/api/v1/tokens", tag = "accounts", request_body = CreateToken,
    responses((status = 201, description = "`{id, token, scope}`"), (status = 400, description = "A missing name, unknown scope or bad expiry")),
    security(("bearer" = []), ("session" = [])))]
async fn create_token(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let body: CreateToken = json_body(&body)?;
    let expires_in =
        super::account_routes::parse_expiry(body.expires_in.as_deref().unwrap_or_default())?;
    let (id, token) = accounts::create_token(
        &auth,
        user_actor(user.id, &user.email),
        &origin(&req),
        user.id,
        NewApiToken {
            name: body.name,
            scope: body.scope,
            expires_in,
        },
    )
    .await?;
    Ok(HttpResponse::Created().json(json!({ "id": id, "token": token, "scope": body.scope })))
}

/// Revokes one of the caller's tokens.
#[utoipa::path(post, path = "/api/v1/tokens/{id}/revoke", tag = "accounts",
    params(("id" = i64, Path, description = "Token id")),
    responses((status = 204, description = "Revoked"), (status = 404, description = "Not one of the caller's tokens")),
    security(("bearer" = []), ("session" = [])))]
async fn revoke_token(
    req: HttpRequest,
    auth: web::Data<Auth>,
    user: CurrentUser,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    accounts::revoke_token(
        &auth,
        user_actor(user.id, &user.email),
        &origin(&req),
        user.id,
        *path,
    )
    .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// When this process started, and the handle on its background tasks.
pub struct Runtime {
    pub started_ms: i64,
    pub tasks: TaskBoard,
    /// Sections features add to `/health/detail` (`log_sources`, …), each
    /// computed when the page is asked for.
    pub sections: Vec<(&'static str, HealthSection)>,
}

/// One feature's part of `/health/detail`.
pub type HealthSection = std::sync::Arc<dyn Fn() -> serde_json::Value + Send + Sync>;

async fn health_detail(
    auth: web::Data<Auth>,
    _user: CurrentUser,
    store: web::Data<Store>,
    runtime: web::Data<Runtime>,
    health: web::Data<health::HealthState>,
) -> Result<HttpResponse, AppError> {
    let started = Instant::now();
    let read_ok = store
        .read(|conn| Ok(conn.query_row("SELECT COUNT(*) FROM users", [], |r| r.get::<_, i64>(0))?))
        .await
        .is_ok();
    let db_latency_us = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    let failing = health.failing().await;
    let disk = health::space_of(&auth.data_dir).ok();
    let now = auth.clock.now_ms();
    let tasks: Vec<_> = runtime
        .tasks
        .read()
        .into_iter()
        .map(|(name, status)| json!({ "name": name, "restarts": status.restarts, "last_panic": status.last_panic }))
        .collect();
    let mut body = json!({
            "status": if failing.is_empty() { "ok" } else { "fail" },
            "failing": failing,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": (now - runtime.started_ms).max(0) / 1000,
            "database": { "read_ok": read_ok, "read_latency_us": db_latency_us, "writer_queue_depth": store.queue_depth() },
            "disk": disk.map(|d| json!({ "free_bytes": d.free, "total_bytes": d.total })),
            "tasks": tasks,
            "log": { "dropped_lines": crate::telemetry::dropped_lines() },
    });
    for (name, section) in &runtime.sections {
        body[*name] = section();
    }
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(body))
}
