//! The error pages: `/errors` (projects, and the issue list with filters,
//! search, sort and bulk actions), `/errors/issues/{id}` (one issue with
//! an event, its navigation and the status actions, plus the raw JSON
//! download) and `/errors/projects/{id}` (DSN keys with setup snippets,
//! quotas and retention, crash-free sessions per release, what was
//! skipped). Viewers read; admins change.

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Errors;
use super::event_view::{self, EventView};
use super::issues::{Action, PAGE};
use super::issues_repo::{Filter, Issue, StoredEvent, TagValues};
use super::projects::Settings;
use super::repo::{self, Project, ProjectDetail};
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, actioned, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

pub fn routes(r: &mut Routes) {
    r.get("/errors", Access::Viewer, list_page);
    r.post("/errors/projects", Access::Admin, add_project);
    r.get("/errors/projects/{id}", Access::Viewer, project_page);
    r.post("/errors/projects/{id}/keys", Access::Admin, add_key);
    r.post(
        "/errors/projects/{id}/keys/revoke",
        Access::Admin,
        revoke_key,
    );
    r.post("/errors/projects/{id}/settings", Access::Admin, settings);
    r.get("/errors/issues/{id}", Access::Viewer, issue_page);
    r.get(
        "/errors/issues/{id}/events/{event}/raw",
        Access::Viewer,
        raw_event,
    );
    r.post("/errors/issues/{id}/status", Access::Admin, issue_status);
    r.post("/errors/issues/bulk", Access::Admin, bulk);
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub struct ListQuery {
    pub project: String,
    pub status: String,
    pub level: String,
    pub environment: String,
    pub release: String,
    pub q: String,
    pub sort: String,
    pub page: i64,
    done: String,
}

impl ListQuery {
    pub fn filter(&self) -> Filter {
        Filter {
            project: self.project.clone(),
            status: if self.status.is_empty() {
                "unresolved".into()
            } else {
                self.status.clone()
            },
            level: self.level.clone(),
            environment: self.environment.clone(),
            release: self.release.clone(),
            query: self.q.trim().to_string(),
            sort: self.sort.clone(),
            limit: PAGE,
            offset: self.page.clamp(0, 10_000) * PAGE,
        }
    }
}

#[derive(Template)]
#[template(path = "errors/list.html")]
struct ListPage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    projects: Vec<Project>,
    issues: Vec<Issue>,
    total: i64,
    q: ListQuery,
    filter: Filter,
    environments: Vec<String>,
    releases: Vec<String>,
    backlog: i64,
    notice: Option<String>,
}

impl ListPage {
    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }

    /// The list's URL with one parameter changed (and the page reset).
    fn with(&self, key: &str, value: &str) -> String {
        let q = &self.q;
        let mut pairs = vec![
            ("project", q.project.as_str()),
            ("status", q.status.as_str()),
            ("level", q.level.as_str()),
            ("environment", q.environment.as_str()),
            ("release", q.release.as_str()),
            ("q", q.q.as_str()),
            ("sort", q.sort.as_str()),
        ];
        pairs.retain(|(k, v)| *k != key && !v.is_empty());
        let page = value.to_string();
        if !value.is_empty() {
            pairs.push((key, &page));
        }
        format!(
            "/errors?{}",
            serde_urlencoded::to_string(&pairs).unwrap_or_default()
        )
    }

    fn page_href(&self, page: &i64) -> String {
        format!("{}&page={page}", self.with("page", ""))
    }

    fn pages(&self) -> i64 {
        (self.total + PAGE - 1) / PAGE
    }
}

async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    errors: web::Data<Errors>,
    q: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let q = q.into_inner();
    let filter = q.filter();
    let (issues, total) = errors.issues(filter.clone()).await?;
    let (environments, releases) = errors.facets().await?;
    let projects = errors.store.read(repo::projects).await?;
    let notice = q
        .done
        .parse::<usize>()
        .ok()
        .map(|n| format!("{n} issue(s) changed."));
    let data = ListPage {
        layout: layout("Errors", &req, &user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        projects,
        issues,
        total,
        filter,
        environments,
        releases,
        backlog: errors.backlog(),
        notice,
        q,
    };
    page(&data, false)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct NewProject {
    name: String,
    platform: String,
}

async fn add_project(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    Form(form): Form<NewProject>,
) -> Result<HttpResponse, AppError> {
    let (id, _) = errors
        .projects
        .add(&form.name, &form.platform, &actioned(&req, &admin))
        .await?;
    Ok(see_other(&format!("/errors/projects/{id}?done=created")))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct ProjectQuery {
    done: String,
}

#[derive(Template)]
#[template(path = "errors/project.html")]
struct ProjectPage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    detail: ProjectDetail,
    dsns: Vec<String>,
    notice: Option<&'static str>,
}

impl ProjectPage {
    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }

    fn first_dsn(&self) -> &str {
        self.dsns.first().map_or("", String::as_str)
    }

    fn quota(&self, v: &Option<u32>) -> String {
        v.map(|n| n.to_string()).unwrap_or_default()
    }
}

async fn project_page(
    req: HttpRequest,
    user: CurrentUser,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    q: web::Query<ProjectQuery>,
) -> Result<HttpResponse, AppError> {
    let id = *id;
    let detail = errors
        .store
        .read(move |c| repo::project_detail(c, id))
        .await?
        .ok_or(AppError::NotFound)?;
    let dsns = detail
        .keys
        .iter()
        .filter(|k| k.active)
        .map(|k| errors.dsn(&k.public_key, id))
        .collect();
    let notice = match q.done.as_str() {
        "created" => Some("Project created. Configure your SDK with the DSN below."),
        "key" => Some("Key added. Both keys work until you revoke the old one."),
        "revoked" => Some("Key revoked. Events sent with it are refused with 403."),
        "settings" => Some("Settings saved."),
        _ => None,
    };
    let data = ProjectPage {
        layout: layout(&detail.project.name, &req, &user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        detail,
        dsns,
        notice,
    };
    page(&data, false)
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct KeyForm {
    label: String,
    key: String,
}

async fn add_key(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    Form(form): Form<KeyForm>,
) -> Result<HttpResponse, AppError> {
    errors
        .projects
        .add_key(*id, &form.label, &actioned(&req, &admin))
        .await?;
    Ok(see_other(&format!("/errors/projects/{}?done=key", *id)))
}

async fn revoke_key(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    Form(form): Form<KeyForm>,
) -> Result<HttpResponse, AppError> {
    errors
        .projects
        .revoke_key(*id, form.key.trim(), &actioned(&req, &admin))
        .await?;
    Ok(see_other(&format!("/errors/projects/{}?done=revoked", *id)))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct SettingsForm {
    quota_per_minute: String,
    quota_per_hour: String,
    keep_events: String,
    keep_days: String,
}

fn number(field: &str, text: &str) -> Result<Option<u32>, AppError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    text.parse()
        .map(Some)
        .map_err(|_| AppError::BadRequest(format!("{field} must be a whole number, e.g. 1000")))
}

async fn settings(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    Form(form): Form<SettingsForm>,
) -> Result<HttpResponse, AppError> {
    let settings = Settings {
        quota_per_minute: number("quota_per_minute", &form.quota_per_minute)?,
        quota_per_hour: number("quota_per_hour", &form.quota_per_hour)?,
        keep_events: number("keep_events", &form.keep_events)?.unwrap_or(10_000),
        keep_days: number("keep_days", &form.keep_days)?.unwrap_or(90),
    };
    errors
        .projects
        .set(*id, settings, &actioned(&req, &admin))
        .await?;
    Ok(see_other(&format!(
        "/errors/projects/{}?done=settings",
        *id
    )))
}

#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IssueQuery {
    event: Option<i64>,
    done: String,
}

#[derive(Template)]
#[template(path = "errors/issue.html")]
struct IssuePage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    issue: Issue,
    tags: TagValues,
    stored: Option<StoredEvent>,
    event: Option<EventView>,
    notice: Option<&'static str>,
}

impl IssuePage {
    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }

    fn share(&self, count: &i64) -> String {
        if self.issue.events == 0 {
            return "0".into();
        }
        format!("{:.0}", 100.0 * *count as f64 / self.issue.events as f64)
    }
}

async fn issue_page(
    req: HttpRequest,
    user: CurrentUser,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    q: web::Query<IssueQuery>,
) -> Result<HttpResponse, AppError> {
    let detail = errors.detail(*id, q.event).await?;
    let (stored, event) = match detail.event {
        Some((stored, json)) => (Some(stored), Some(event_view::view(&json))),
        None => (None, None),
    };
    let notice = match q.done.as_str() {
        "resolved" => Some("Resolved."),
        "ignored" => Some("Ignored."),
        "unresolved" => Some("Reopened."),
        _ => None,
    };
    let data = IssuePage {
        layout: layout(&detail.issue.title, &req, &user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        issue: detail.issue,
        tags: detail.tags,
        stored,
        event,
        notice,
    };
    page(&data, false)
}

async fn raw_event(
    _: CurrentUser,
    errors: web::Data<Errors>,
    path: web::Path<(i64, i64)>,
) -> Result<HttpResponse, AppError> {
    let (id, event) = path.into_inner();
    let detail = errors.detail(id, Some(event)).await?;
    let (stored, json) = detail.event.ok_or(AppError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/json")
        .insert_header((
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"event-{}.json\"", stored.event_id),
        ))
        .body(serde_json::to_string_pretty(&json).unwrap_or_default()))
}

async fn issue_status(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    id: web::Path<i64>,
    Form(action): Form<Action>,
) -> Result<HttpResponse, AppError> {
    errors
        .act(vec![*id], &action, &actioned(&req, &admin))
        .await?;
    let status = match action.action.as_str() {
        "ignore" => "ignored",
        "reopen" => "unresolved",
        _ => "resolved",
    };
    Ok(see_other(&format!("/errors/issues/{}?done={status}", *id)))
}

/// The bulk form: `ids` repeated, `action`, and the ignore fields.
async fn bulk(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    errors: web::Data<Errors>,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let mut ids = Vec::new();
    let mut action = Action::default();
    for (key, value) in pairs {
        match key.as_str() {
            "ids" => ids.push(
                value
                    .parse::<i64>()
                    .map_err(|_| AppError::BadRequest(format!("{value:?} is not an issue id")))?,
            ),
            "action" => action.action = value,
            "until_events" if !value.trim().is_empty() => {
                action.until_events = Some(value.trim().parse().map_err(|_| {
                    AppError::BadRequest("until_events must be a whole number".into())
                })?);
            }
            "for_duration" => action.for_duration = Some(value),
            _ => {}
        }
    }
    let n = errors.act(ids, &action, &actioned(&req, &admin)).await?;
    let back = req
        .headers()
        .get(header::REFERER)
        .and_then(|r| r.to_str().ok())
        .and_then(|r| r.find("/errors?").map(|at| r[at..].to_string()))
        .unwrap_or_else(|| "/errors?".into());
    let back = back
        .split("&done=")
        .next()
        .unwrap_or("/errors?")
        .to_string();
    Ok(see_other(&format!("{back}&done={n}")))
}
