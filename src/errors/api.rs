//! The error-tracking JSON API under `/api/v1/errors/`: projects (list,
//! create, one with its keys and release health, add and revoke keys, set
//! quotas and retention), issues (filtered list, one with its tags and
//! latest or chosen event, status changes one at a time or in bulk).
//! Viewers read; admins change (audited).

use actix_web::http::Method;
use actix_web::{HttpRequest, HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::Errors;
use super::issues::Action;
use super::issues_repo::{Issue, TagValues};
use super::pages::ListQuery;
use super::projects::Settings;
use super::repo::{self, Key, Project, ProjectDetail, ReleaseHealth};
use crate::auth::{CurrentUser, RequireAdmin, actioned, json_body};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        projects_api,
        add_project_api,
        project_api,
        add_key_api,
        revoke_key_api,
        settings_api,
        issues_api,
        issue_api,
        issue_status_api,
        bulk_api
    ),
    components(schemas(
        Project,
        ProjectDetail,
        Key,
        ReleaseHealth,
        Settings,
        Issue,
        Action,
        NewProject,
        Created,
        IssueList,
        IssueDetail,
        Bulk
    ))
)]
pub struct ErrorsApi;

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/errors/projects", Access::Viewer, projects_api);
    r.post("/api/v1/errors/projects", Access::Admin, add_project_api);
    r.get("/api/v1/errors/projects/{id}", Access::Viewer, project_api);
    r.post(
        "/api/v1/errors/projects/{id}/keys",
        Access::Admin,
        add_key_api,
    );
    r.add(
        Method::DELETE,
        "/api/v1/errors/projects/{id}/keys/{key}",
        Access::Admin,
        revoke_key_api,
    );
    r.add(
        Method::PUT,
        "/api/v1/errors/projects/{id}/settings",
        Access::Admin,
        settings_api,
    );
    r.get("/api/v1/errors/issues", Access::Viewer, issues_api);
    r.get("/api/v1/errors/issues/{id}", Access::Viewer, issue_api);
    r.post(
        "/api/v1/errors/issues/{id}/status",
        Access::Admin,
        issue_status_api,
    );
    r.post("/api/v1/errors/issues/bulk", Access::Admin, bulk_api);
}

/// Every project.
#[utoipa::path(get, path = "/api/v1/errors/projects", tag = "errors",
    responses((status = 200, body = Vec<Project>)), security(("bearer" = []), ("session" = [])))]
async fn projects_api(_: CurrentUser, errors: web::Data<Errors>) -> Result<HttpResponse, AppError> {
    Ok(HttpResponse::Ok().json(errors.store.read(repo::projects).await?))
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct NewProject {
    pub name: String,
    /// `python`, `javascript`, `rust`, … (free text, 32 characters).
    #[serde(default)]
    pub platform: String,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct Created {
    pub id: i64,
    pub dsn: String,
}

/// Creates a project with its first key (admins; audited).
#[utoipa::path(post, path = "/api/v1/errors/projects", tag = "errors", request_body = NewProject,
    responses((status = 201, body = Created), (status = 409, description = "The name is taken")),
    security(("bearer" = []), ("session" = [])))]
async fn add_project_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: NewProject = json_body(&body)?;
    let (id, key) = errors
        .projects
        .add(&b.name, &b.platform, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Created().json(Created {
        id,
        dsn: errors.dsn(&key, id),
    }))
}

/// One project: keys, release health, skipped items, client reports.
#[utoipa::path(get, path = "/api/v1/errors/projects/{id}", tag = "errors",
    responses((status = 200, body = ProjectDetail), (status = 404, description = "No such project")),
    security(("bearer" = []), ("session" = [])))]
async fn project_api(
    _: CurrentUser,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let detail = errors
        .store
        .read(move |c| repo::project_detail(c, id))
        .await?
        .ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok().json(detail))
}

#[derive(Debug, Default, Deserialize)]
struct KeyBody {
    #[serde(default)]
    label: String,
}

/// Adds a key (admins; audited); the old keys keep working until revoked.
#[utoipa::path(post, path = "/api/v1/errors/projects/{id}/keys", tag = "errors",
    responses((status = 201, body = Created), (status = 404, description = "No such project")),
    security(("bearer" = []), ("session" = [])))]
async fn add_key_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: KeyBody = if body.is_empty() {
        KeyBody::default()
    } else {
        json_body(&body)?
    };
    let key = errors
        .projects
        .add_key(*id, &b.label, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Created().json(Created {
        id: *id,
        dsn: errors.dsn(&key, *id),
    }))
}

/// Revokes a key (admins; audited); a project keeps at least one.
#[utoipa::path(delete, path = "/api/v1/errors/projects/{id}/keys/{key}", tag = "errors",
    responses((status = 204, description = "Revoked"), (status = 404, description = "No such active key"),
        (status = 409, description = "The last active key")),
    security(("bearer" = []), ("session" = [])))]
async fn revoke_key_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    path: web::Path<(i64, String)>,
) -> Result<HttpResponse, AppError> {
    let (id, key) = path.into_inner();
    errors
        .projects
        .revoke_key(id, &key, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Sets quotas and retention (admins; audited).
#[utoipa::path(put, path = "/api/v1/errors/projects/{id}/settings", tag = "errors", request_body = Settings,
    responses((status = 204, description = "Saved"), (status = 400, description = "A bad field, named")),
    security(("bearer" = []), ("session" = [])))]
async fn settings_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let settings: Settings = json_body(&body)?;
    errors
        .projects
        .set(*id, settings, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueList {
    pub total: i64,
    pub issues: Vec<Issue>,
}

/// Issues, filtered (`project`, `status` = unresolved|resolved|ignored|all,
/// `level`, `environment`, `release`, `q`), sorted (`sort` = last_seen|
/// first_seen|events|users), 50 per `page`.
#[utoipa::path(get, path = "/api/v1/errors/issues", tag = "errors",
    responses((status = 200, body = IssueList)), security(("bearer" = []), ("session" = [])))]
async fn issues_api(
    _: CurrentUser,
    errors: web::Data<Errors>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let (issues, total) = errors.issues(q.filter()).await?;
    Ok(HttpResponse::Ok().json(IssueList { total, issues }))
}

#[derive(Debug, Deserialize)]
struct EventQuery {
    event: Option<i64>,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IssueDetail {
    pub issue: Issue,
    /// Per tag, its most frequent values with their counts: `[key, [[value, count]]]`.
    #[schema(value_type = Vec<Object>)]
    pub tags: TagValues,
    /// The event (scrubbed), the latest unless `?event=` names one.
    #[schema(value_type = Object)]
    pub event: Option<serde_json::Value>,
    pub older_event: Option<i64>,
    pub newer_event: Option<i64>,
}

/// One issue with its tags and one event.
#[utoipa::path(get, path = "/api/v1/errors/issues/{id}", tag = "errors",
    responses((status = 200, body = IssueDetail), (status = 404, description = "No such issue or event")),
    security(("bearer" = []), ("session" = [])))]
async fn issue_api(
    _: CurrentUser,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    q: web::Query<EventQuery>,
) -> Result<HttpResponse, AppError> {
    let d = errors.detail(*id, q.event).await?;
    let (older_event, newer_event) = d
        .event
        .as_ref()
        .map_or((None, None), |(s, _)| (s.older, s.newer));
    Ok(HttpResponse::Ok().json(IssueDetail {
        issue: d.issue,
        tags: d.tags,
        event: d.event.map(|(_, json)| json),
        older_event,
        newer_event,
    }))
}

/// Resolves, ignores or reopens an issue (admins; audited).
#[utoipa::path(post, path = "/api/v1/errors/issues/{id}/status", tag = "errors", request_body = Action,
    responses((status = 204, description = "Changed"), (status = 400, description = "A bad action, named"),
        (status = 404, description = "No such issue")),
    security(("bearer" = []), ("session" = [])))]
async fn issue_status_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let action: Action = json_body(&body)?;
    errors
        .act(vec![*id], &action, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct Bulk {
    pub ids: Vec<i64>,
    #[serde(flatten)]
    pub action: Action,
}

/// The same status change on many issues (at most 500; admins; audited).
#[utoipa::path(post, path = "/api/v1/errors/issues/bulk", tag = "errors", request_body = Bulk,
    responses((status = 200, description = "`{\"changed\": n}`"), (status = 400, description = "A bad action, named")),
    security(("bearer" = []), ("session" = [])))]
async fn bulk_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: Bulk = json_body(&body)?;
    let n = errors
        .act(b.ids, &b.action, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "changed": n })))
}
