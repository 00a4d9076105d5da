//! The webhook endpoints: `POST /api/v1/hooks/{name}` (signed deliveries;
//! the signature is the authentication), hook management for admins, and
//! `GET /api/v1/annotations` — the stored deploy markers and annotations.

use actix_web::http::Method;
use actix_web::http::header::HeaderMap;
use actix_web::{HttpMessage, HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::api::actioned;
use super::repo::hooks::{Hook, HookEvent};
use super::service::Threats;
use crate::auth::{CurrentUser, RequireAdmin};
use crate::error::AppError;
use crate::http::ClientIp;
use crate::http::routes::{Access, Routes};
use crate::http::signature::{SIGNATURE_HEADER, TIMESTAMP_HEADER};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(deliver, list, create, remove, annotations),
    components(schemas(Hook, HookEvent, NewHook, CreatedHook, Accepted))
)]
pub struct HooksApi;

pub fn routes(r: &mut Routes) {
    r.post("/api/v1/hooks/{name}", Access::Public, deliver);
    r.get("/api/v1/hooks", Access::Admin, list);
    r.post("/api/v1/hooks", Access::Admin, create);
    r.add(
        Method::DELETE,
        "/api/v1/hooks/{name}",
        Access::Admin,
        remove,
    );
    r.get("/api/v1/annotations", Access::Viewer, annotations);
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

#[derive(Serialize, utoipa::ToSchema)]
struct Accepted {
    id: i64,
}

/// A signed delivery: `X-Watchpost-Timestamp` (Unix seconds) and
/// `X-Watchpost-Signature: sha256=<hex HMAC-SHA256 of "<timestamp>.<body>">`.
/// A JSON body `{"kind": "deploy", "version": "1.4.2"}` is a deploy marker;
/// anything else is an annotation.
#[utoipa::path(post, path = "/api/v1/hooks/{name}", tag = "hooks",
    params(("name" = String, Path, description = "The hook's name")),
    responses((status = 202, description = "Stored", body = Accepted),
              (status = 401, description = "Missing, wrong, stale or replayed signature (or no such hook), with the reason")))]
async fn deliver(
    req: HttpRequest,
    threats: web::Data<Threats>,
    name: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let from = req
        .extensions()
        .get::<ClientIp>()
        .map_or(std::net::IpAddr::from([0, 0, 0, 0]), |c| c.0);
    let headers = req.headers();
    let id = threats
        .deliver(
            &name,
            header(headers, SIGNATURE_HEADER),
            header(headers, TIMESTAMP_HEADER),
            &body,
            from,
        )
        .await?;
    Ok(HttpResponse::Accepted().json(Accepted { id }))
}

/// The hooks (admins); secrets are never shown again after creation.
#[utoipa::path(get, path = "/api/v1/hooks", tag = "hooks",
    responses((status = 200, description = "The hooks", body = [Hook])),
    security(("bearer" = []), ("session" = [])))]
async fn list(_admin: RequireAdmin, threats: web::Data<Threats>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(threats.hooks().await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct NewHook {
    name: String,
}

#[derive(Serialize, utoipa::ToSchema)]
struct CreatedHook {
    name: String,
    /// Shown once; store it with the sender.
    secret: String,
    url: String,
}

/// Creates a hook and returns its secret, once (admins; audited).
#[utoipa::path(post, path = "/api/v1/hooks", tag = "hooks", request_body = NewHook,
    responses((status = 201, description = "Created", body = CreatedHook), (status = 409, description = "The name is taken")),
    security(("bearer" = []), ("session" = [])))]
async fn create(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let n: NewHook = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })?;
    let name = n.name.trim().to_owned();
    let secret = threats.create_hook(&name, &actioned(&req, &admin)).await?;
    let url = format!("{}/api/v1/hooks/{name}", threats.base_url());
    Ok(HttpResponse::Created().json(CreatedHook { name, secret, url }))
}

/// Deletes a hook made in the UI or API (admins; audited).
#[utoipa::path(delete, path = "/api/v1/hooks/{name}", tag = "hooks",
    params(("name" = String, Path, description = "The hook's name")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Provisioned from the configuration")),
    security(("bearer" = []), ("session" = [])))]
async fn remove(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    name: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    threats.delete_hook(&name, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize)]
struct HoursQuery {
    hours: Option<i64>,
}

/// Deploy markers and annotations received by the hooks, newest first.
#[utoipa::path(get, path = "/api/v1/annotations", tag = "hooks",
    params(("hours" = Option<i64>, Query, description = "How far back (default 168)")),
    responses((status = 200, description = "The deliveries", body = [HookEvent])),
    security(("bearer" = []), ("session" = [])))]
async fn annotations(
    _user: CurrentUser,
    threats: web::Data<Threats>,
    q: web::Query<HoursQuery>,
) -> Result<HttpResponse, AppError> {
    let since = threats.clock.now_ms() - q.hours.unwrap_or(168).clamp(1, 24 * 400) * 3_600_000;
    let rows = threats
        .store
        .read(move |conn| super::repo::hooks::hook_events(conn, since, 500))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}
