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

#[derive(Serialize)]
struct Me<'a> {
    id: i64,
    email: &'a str,
    display_name: &'a str,
    role: Role,
    totp_enabled: bool,
    csrf_token: &'a str,
}

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

#[derive(Deserialize)]
struct CreateUser {
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: Option<Role>,
    #[serde(default)]
    password: Option<String>,
}

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

#[derive(Deserialize)]
struct ActionBody {
    #[serde(default)]
    role: String,
}

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

async fn own_sessions(auth: web::Data<Auth>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let sessions = auth
        .store
        .read(move |conn| repo::list_sessions(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "sessions": sessions })))
}

async fn own_tokens(auth: web::Data<Auth>, user: CurrentUser) -> Result<HttpResponse, AppError> {
    let id = user.id;
    let tokens = auth
        .store
        .read(move |conn| repo::list_tokens(conn, id))
        .await?;
    Ok(HttpResponse::Ok().json(json!({ "tokens": tokens })))
}

#[derive(Deserialize)]
struct CreateToken {
    name: String,
    scope: Scope,
    /// e.g. `30d`; absent for no expiry.
    #[serde(default)]
    expires_in: Option<String>,
}

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
}

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
    Ok(HttpResponse::Ok()
        .insert_header(("cache-control", "no-store"))
        .json(json!({
            "status": if failing.is_empty() { "ok" } else { "fail" },
            "failing": failing,
            "version": env!("CARGO_PKG_VERSION"),
            "uptime_s": (now - runtime.started_ms).max(0) / 1000,
            "database": { "read_ok": read_ok, "read_latency_us": db_latency_us, "writer_queue_depth": store.queue_depth() },
            "disk": disk.map(|d| json!({ "free_bytes": d.free, "total_bytes": d.total })),
            "tasks": tasks,
            "log": { "dropped_lines": crate::telemetry::dropped_lines() },
        })))
}
