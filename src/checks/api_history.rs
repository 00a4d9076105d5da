//! The history side of the checks API: results, incidents and their notes,
//! and maintenance windows.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;
use serde_json::json;

use super::api::{actioned, decode};
use super::form::WindowInput;
use super::repo::{self, Incident, ResultRow};
use super::service::Checks;
use crate::auth::{CurrentUser, RequireAdmin};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use actix_web::http::Method;

/// The history part of the checks API's OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(
    paths(results, incidents, windows, add_window, remove_window, add_note),
    components(schemas(ResultRow, Incident, repo::Note, WindowInput, NoteBody))
)]
pub struct CheckHistoryApi;

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/checks/{id}/results", Access::Viewer, results);
    r.get("/api/v1/checks/{id}/incidents", Access::Viewer, incidents);
    r.get("/api/v1/checks/{id}/maintenance", Access::Viewer, windows);
    r.post("/api/v1/checks/{id}/maintenance", Access::Admin, add_window);
    r.add(
        Method::DELETE,
        "/api/v1/checks/{id}/maintenance/{window}",
        Access::Admin,
        remove_window,
    );
    r.post("/api/v1/incidents/{id}/notes", Access::Admin, add_note);
}

#[derive(Deserialize)]
struct LimitQuery {
    limit: Option<i64>,
}

/// The latest results, newest first (`?limit=`, at most 1000).
#[utoipa::path(get, path = "/api/v1/checks/{id}/results", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id"), ("limit" = Option<i64>, Query, description = "1–1000, default 100")),
    responses((status = 200, description = "Results", body = [ResultRow])),
    security(("bearer" = []), ("session" = [])))]
async fn results(
    _: CurrentUser,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    let limit = query.limit.unwrap_or(100).clamp(1, 1000);
    let id = current.row.id;
    let rows = checks
        .store
        .read(move |conn| repo::results(conn, id, limit))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// Incidents with their notes, newest first (`?limit=`, at most 500).
#[utoipa::path(get, path = "/api/v1/checks/{id}/incidents", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id"), ("limit" = Option<i64>, Query, description = "1–500, default 50")),
    responses((status = 200, description = "Incidents", body = [Incident])),
    security(("bearer" = []), ("session" = [])))]
async fn incidents(
    _: CurrentUser,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    query: web::Query<LimitQuery>,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    let limit = query.limit.unwrap_or(50).clamp(1, 500);
    let id = current.row.id;
    let rows = checks
        .store
        .read(move |conn| repo::incidents(conn, Some(id), 0, limit))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// The check's maintenance windows.
#[utoipa::path(get, path = "/api/v1/checks/{id}/maintenance", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 200, description = "`[{id, window, description, note}]`")),
    security(("bearer" = []), ("session" = [])))]
async fn windows(
    _: CurrentUser,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    let id = current.row.id;
    let rows = checks
        .store
        .read(move |conn| repo::windows(conn, Some(id)))
        .await?;
    let out: Vec<_> = rows
        .into_iter()
        .map(|(wid, _, w, note)| json!({"id": wid, "description": w.describe(), "window": w, "note": note}))
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Adds a maintenance window: failures inside it show as maintenance and open no incident.
#[utoipa::path(post, path = "/api/v1/checks/{id}/maintenance", tag = "checks", request_body = WindowInput,
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 201, description = "Added"), (status = 400, description = "Invalid window")),
    security(("bearer" = []), ("session" = [])))]
async fn add_window(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    let input: WindowInput = decode(&body)?;
    let (window, note) = input
        .window()
        .map_err(|e| AppError::BadRequest(format!("The window is not valid: {e}.")))?;
    checks
        .add_window(&current, window, note, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Created().json(json!({"added": true})))
}

/// Removes a maintenance window.
#[utoipa::path(delete, path = "/api/v1/checks/{id}/maintenance/{window}", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id"), ("window" = i64, Path, description = "The window's id")),
    responses((status = 204, description = "Removed"), (status = 404, description = "No such window")),
    security(("bearer" = []), ("session" = [])))]
async fn remove_window(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    path: web::Path<(String, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, window) = path.into_inner();
    let current = checks.get(&id).await?;
    if checks
        .delete_window(&current, window, &actioned(&req, &admin))
        .await?
    {
        Ok(HttpResponse::NoContent().finish())
    } else {
        Err(AppError::NotFound)
    }
}

/// A note on an incident (shown on the status page for public checks).
#[derive(Deserialize, utoipa::ToSchema)]
pub struct NoteBody {
    pub body: String,
}

/// Adds a note to an incident.
#[utoipa::path(post, path = "/api/v1/incidents/{id}/notes", tag = "checks", request_body = NoteBody,
    params(("id" = i64, Path, description = "The incident's id")),
    responses((status = 201, description = "Added"), (status = 404, description = "No such incident")),
    security(("bearer" = []), ("session" = [])))]
async fn add_note(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let note: NoteBody = decode(&body)?;
    let text = note_text(&note.body)?;
    checks
        .add_note(
            *id,
            admin.display_name.clone(),
            text,
            &actioned(&req, &admin),
        )
        .await?;
    Ok(HttpResponse::Created().json(json!({"added": true})))
}

/// A note's text, checked: 1–2000 characters.
pub fn note_text(body: &str) -> Result<String, AppError> {
    let text = body.trim();
    if text.is_empty() || text.chars().count() > 2000 {
        return Err(AppError::BadRequest(
            "A note is 1 to 2000 characters.".into(),
        ));
    }
    Ok(text.to_string())
}
