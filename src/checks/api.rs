//! The checks JSON API under `/api/v1`: list, create, read, replace and
//! delete checks, pause and resume, "test" a definition without saving it,
//! results, incidents (with notes) and maintenance windows. Everyone logged
//! in reads; changes need an admin (and a `write` token). Checks managed by
//! `watchpost.toml` cannot be replaced or deleted here (409).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::api_history;
use super::definition::Definition;
use super::model::{Outcome, State};
use super::repo;
use super::service::{Checks, Loaded, Refusal};
use super::views::{self, CheckJson, Uptime};
pub use crate::auth::actioned;
use crate::auth::{CurrentUser, RequireAdmin};
use crate::config::Problem;
use crate::error::AppError;
use crate::http::routes::{Access, Routes};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(list, create, read, replace, remove, pause, resume, run, test),
    components(schemas(RunAnswer, CheckJson, Definition, Uptime, State, Outcome))
)]
pub struct ChecksApi;

pub fn routes(r: &mut Routes) {
    api_history::routes(r);
    r.get("/api/v1/checks", Access::Viewer, list);
    r.post("/api/v1/checks", Access::Admin, create);
    r.post("/api/v1/checks/test", Access::Admin, test);
    r.get("/api/v1/checks/{id}", Access::Viewer, read);
    r.add(Method::PUT, "/api/v1/checks/{id}", Access::Admin, replace);
    r.add(Method::DELETE, "/api/v1/checks/{id}", Access::Admin, remove);
    r.post("/api/v1/checks/{id}/pause", Access::Admin, pause);
    r.post("/api/v1/checks/{id}/resume", Access::Admin, resume);
    r.post("/api/v1/checks/{id}/run", Access::Admin, run);
}

/// All problems of a refused definition, in one message.
pub fn problems_text(problems: &[Problem]) -> String {
    let parts: Vec<String> = problems.iter().map(ToString::to_string).collect();
    format!("The check is not valid: {}.", parts.join("; "))
}

fn refused(r: Refusal) -> AppError {
    match r {
        Refusal::Invalid(p) => AppError::BadRequest(problems_text(&p)),
        Refusal::Other(e) => e,
    }
}

pub(super) fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })
}

async fn one_json(checks: &Checks, l: &Loaded, admin: bool) -> Result<CheckJson, AppError> {
    let figures = views::figures(checks, std::slice::from_ref(l), false).await?;
    let uptime = figures.get(&l.row.id).map(|f| f.uptime).unwrap_or_default();
    Ok(views::json(checks, l, uptime, admin))
}

#[derive(Deserialize)]
struct ListQuery {
    state: Option<String>,
    tag: Option<String>,
}

/// Every check with its state and uptime; `?state=down`, `?tag=web` filter.
#[utoipa::path(get, path = "/api/v1/checks", tag = "checks",
    params(("state" = Option<String>, Query, description = "up, degraded, down, paused, pending or maintenance"),
           ("tag" = Option<String>, Query, description = "Only checks with this tag")),
    responses((status = 200, description = "The checks", body = [CheckJson])),
    security(("bearer" = []), ("session" = [])))]
async fn list(
    user: CurrentUser,
    checks: web::Data<Checks>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let state = match query.state.as_deref().filter(|s| !s.is_empty()) {
        Some(s) => Some(State::parse(s).ok_or_else(|| {
            AppError::BadRequest(format!(
                "{s:?} is not a state; use up, degraded, down, paused, pending or maintenance"
            ))
        })?),
        None => None,
    };
    let all: Vec<Loaded> = checks
        .all()
        .await?
        .into_iter()
        .filter(|l| state.is_none_or(|s| l.row.state == s))
        .filter(|l| {
            query
                .tag
                .as_deref()
                .is_none_or(|t| l.check.tags.iter().any(|x| x == t))
        })
        .collect();
    let figures = views::figures(&checks, &all, false).await?;
    let out: Vec<CheckJson> = all
        .iter()
        .map(|l| {
            views::json(
                &checks,
                l,
                figures.get(&l.row.id).map(|f| f.uptime).unwrap_or_default(),
                user.is_admin(),
            )
        })
        .collect();
    Ok(HttpResponse::Ok().json(out))
}

/// Creates a check (admins; 409 if the id is taken).
#[utoipa::path(post, path = "/api/v1/checks", tag = "checks", request_body = Definition,
    responses((status = 201, description = "Created", body = CheckJson), (status = 400, description = "Invalid, with every problem named"), (status = 409, description = "The id is taken")),
    security(("bearer" = []), ("session" = [])))]
async fn create(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let def: Definition = decode(&body)?;
    let loaded = checks
        .create(def, super::service::ORIGIN_UI, &actioned(&req, &admin))
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Created().json(one_json(&checks, &loaded, true).await?))
}

/// One check.
#[utoipa::path(get, path = "/api/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 200, description = "The check", body = CheckJson), (status = 404, description = "No such check")),
    security(("bearer" = []), ("session" = [])))]
async fn read(
    user: CurrentUser,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let loaded = checks.get(&id).await?;
    Ok(HttpResponse::Ok().json(one_json(&checks, &loaded, user.is_admin()).await?))
}

/// Replaces a check's definition (its id stays).
#[utoipa::path(put, path = "/api/v1/checks/{id}", tag = "checks", request_body = Definition,
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 200, description = "Saved", body = CheckJson), (status = 400, description = "Invalid"), (status = 409, description = "Managed by watchpost.toml")),
    security(("bearer" = []), ("session" = [])))]
async fn replace(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    current.editable()?;
    let def: Definition = decode(&body)?;
    let loaded = checks
        .update(&current, def, &actioned(&req, &admin))
        .await
        .map_err(refused)?;
    Ok(HttpResponse::Ok().json(one_json(&checks, &loaded, true).await?))
}

/// Deletes a check with its history.
#[utoipa::path(delete, path = "/api/v1/checks/{id}", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 204, description = "Deleted"), (status = 409, description = "Managed by watchpost.toml")),
    security(("bearer" = []), ("session" = [])))]
async fn remove(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    current.editable()?;
    checks.delete(&current, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Pauses a check: no runs, its open incident closed.
#[utoipa::path(post, path = "/api/v1/checks/{id}/pause", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 200, description = "Paused", body = CheckJson)),
    security(("bearer" = []), ("session" = [])))]
async fn pause(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    set_paused(req, admin, checks, id.into_inner(), true).await
}

/// Resumes a paused check (pending until its next run).
#[utoipa::path(post, path = "/api/v1/checks/{id}/resume", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 200, description = "Resumed", body = CheckJson)),
    security(("bearer" = []), ("session" = [])))]
async fn resume(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    set_paused(req, admin, checks, id.into_inner(), false).await
}

async fn set_paused(
    req: HttpRequest,
    admin: CurrentUser,
    checks: web::Data<Checks>,
    id: String,
    paused: bool,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    checks
        .set_paused(&current, paused, &actioned(&req, &admin))
        .await?;
    let loaded = checks.get(&id).await?;
    Ok(HttpResponse::Ok().json(one_json(&checks, &loaded, true).await?))
}

/// What a "run now" found and the state it left.
#[derive(serde::Serialize, utoipa::ToSchema)]
struct RunAnswer {
    /// `null` for a heartbeat with nothing to judge yet, or a paused check.
    outcome: Option<Outcome>,
    state: State,
}

/// Runs a check now and stores the result (409 while a run is going).
#[utoipa::path(post, path = "/api/v1/checks/{id}/run", tag = "checks",
    params(("id" = String, Path, description = "The check's stable id")),
    responses((status = 200, description = "The run's outcome and the check's state", body = RunAnswer), (status = 409, description = "A run is in progress")),
    security(("bearer" = []), ("session" = [])))]
async fn run(
    _: RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let current = checks.get(&id).await?;
    let (outcome, state) = checks.run_now(&current).await?;
    Ok(HttpResponse::Ok().json(RunAnswer { outcome, state }))
}

/// Runs a definition once and answers what it found; nothing is stored.
#[utoipa::path(post, path = "/api/v1/checks/test", tag = "checks", request_body = Definition,
    responses((status = 200, description = "What one run found", body = Outcome), (status = 400, description = "Invalid")),
    security(("bearer" = []), ("session" = [])))]
async fn test(
    _: RequireAdmin,
    checks: web::Data<Checks>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let def: Definition = decode(&body)?;
    let outcome = test_definition(&checks, def).await.map_err(refused)?;
    Ok(HttpResponse::Ok().json(outcome))
}

/// Runs an unsaved definition once (the API's and the form's "test now").
pub async fn test_definition(checks: &Checks, mut def: Definition) -> Result<Outcome, Refusal> {
    if def.id.trim().is_empty() {
        def.id = "test".into();
    }
    let check = def.validate("").map_err(Refusal::Invalid)?;
    if let super::check::Probe::Heartbeat { .. } = check.probe {
        return Ok(Outcome::degraded(
            None,
            "a heartbeat is judged by the pings it receives; save it and point the job at its URL",
        ));
    }
    let now = checks.clock.now_ms();
    let loaded = Loaded {
        row: repo::CheckRow::unsaved(&check, now),
        def,
        check: std::sync::Arc::new(check),
    };
    Ok(checks
        .probe(&loaded)
        .await
        .unwrap_or_else(|| Outcome::down("nothing to run")))
}
