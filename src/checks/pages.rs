//! The checks pages: the list (state, uptime 24 h / 7 d / 30 d / 90 d,
//! latency sparkline, last error; filter by state and tag), a check's page
//! (latency chart over a chosen range, incidents with notes, recent results,
//! maintenance windows, the heartbeat URL), and the create / edit form with
//! its "test now" button. Viewers read; admins change. Checks managed by
//! `watchpost.toml` are read-only here.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::api::{actioned, test_definition};
use super::api_history::note_text;
use super::form::{CheckForm, WindowInput};
use super::model::{ALL_STATES, Outcome, State};
use super::repo;
use super::service::{Checks, Loaded, ORIGIN_UI, Refusal};
use super::views::{self, Figures};
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

pub fn routes(r: &mut Routes) {
    r.get("/checks", Access::Viewer, list_page);
    r.get("/checks/new", Access::Admin, new_page);
    r.post("/checks", Access::Admin, create);
    r.get("/checks/{id}", Access::Viewer, super::detail::detail_page);
    r.get("/checks/{id}/edit", Access::Admin, edit_page);
    r.post("/checks/{id}", Access::Admin, update);
    r.post("/checks/{id}/delete", Access::Admin, delete);
    r.post("/checks/{id}/pause", Access::Admin, pause);
    r.post("/checks/{id}/resume", Access::Admin, resume);
    r.post("/checks/{id}/run", Access::Admin, run_now);
    r.post("/checks/{id}/maintenance", Access::Admin, add_window);
    r.post(
        "/checks/{id}/maintenance/{window}/delete",
        Access::Admin,
        delete_window,
    );
    r.post(
        "/checks/{id}/incidents/{incident}/notes",
        Access::Admin,
        add_note,
    );
}

pub struct Row {
    pub slug: String,
    pub name: String,
    pub kind: String,
    pub state: State,
    pub target: String,
    pub tags: Vec<String>,
    pub uptime: [String; 4],
    pub sparkline: Option<String>,
    pub last_error: Option<String>,
    pub last_run: String,
    pub managed: bool,
}

pub(super) fn row(l: &Loaded, f: Option<&Figures>) -> Row {
    Row {
        slug: l.row.slug.clone(),
        name: l.row.name.clone(),
        kind: l.row.kind.clone(),
        state: l.row.state,
        target: l.check.probe.target(),
        tags: l.check.tags.clone(),
        uptime: f.map(|f| f.uptime.texts()).unwrap_or_else(|| {
            [
                "—".to_string(),
                "—".to_string(),
                "—".to_string(),
                "—".to_string(),
            ]
        }),
        sparkline: f.and_then(|f| f.sparkline.clone()),
        last_error: l
            .row
            .last_error
            .clone()
            .filter(|_| l.row.state != State::Up),
        last_run: when(l.row.last_run_ms),
        managed: l.is_managed(),
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub tag: String,
    pub done: Option<String>,
}

#[derive(Template)]
#[template(path = "checks/list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
    counts: Vec<(State, usize)>,
    tags: Vec<String>,
    query: ListQuery,
    is_admin: bool,
    notice: Option<&'static str>,
}

async fn list_page(
    req: HttpRequest,
    user: CurrentUser,
    checks: web::Data<Checks>,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let all = checks.all().await?;
    let counts = ALL_STATES
        .iter()
        .map(|s| (*s, all.iter().filter(|l| l.row.state == *s).count()))
        .filter(|(_, n)| *n > 0)
        .collect();
    let mut tags: Vec<String> = all.iter().flat_map(|l| l.check.tags.clone()).collect();
    tags.sort();
    tags.dedup();
    let state = State::parse(&query.state);
    let shown: Vec<Loaded> = all
        .into_iter()
        .filter(|l| state.is_none_or(|s| l.row.state == s))
        .filter(|l| query.tag.is_empty() || l.check.tags.contains(&query.tag))
        .collect();
    let figures = views::figures(&checks, &shown, true).await?;
    let notice = match query.done.as_deref() {
        Some("deleted") => Some("Check deleted, with its history."),
        _ => None,
    };
    let page_data = ListPage {
        layout: layout("Checks", &req, &user),
        rows: shown
            .iter()
            .map(|l| row(l, figures.get(&l.row.id)))
            .collect(),
        counts,
        tags,
        query,
        is_admin: user.is_admin(),
        notice,
    };
    page(&page_data, false)
}

#[derive(Template)]
#[template(path = "checks/form.html")]
struct FormPage {
    layout: Layout,
    csrf: String,
    form: CheckForm,
    /// `None` when creating.
    editing: Option<String>,
    problems: Vec<String>,
    tested: Option<Outcome>,
}

fn form_page(
    req: &HttpRequest,
    admin: &CurrentUser,
    form: CheckForm,
    editing: Option<String>,
    problems: Vec<String>,
    tested: Option<Outcome>,
) -> Result<HttpResponse, AppError> {
    let title = if editing.is_some() {
        "Edit check"
    } else {
        "New check"
    };
    let failed = !problems.is_empty();
    let data = FormPage {
        layout: layout(title, req, admin),
        csrf: admin.csrf().to_string(),
        form,
        editing,
        problems,
        tested,
    };
    page(&data, failed)
}

async fn new_page(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
) -> Result<HttpResponse, AppError> {
    let form = CheckForm {
        kind: "http".into(),
        interval: "60s".into(),
        timeout: "10s".into(),
        ..CheckForm::default()
    };
    form_page(&req, &admin, form, None, Vec::new(), None)
}

/// Test the form (button `action=test`) or save it.
async fn submit(
    req: &HttpRequest,
    admin: &CurrentUser,
    checks: &Checks,
    form: CheckForm,
    editing: Option<&Loaded>,
) -> Result<HttpResponse, AppError> {
    let slug = editing.map(|l| l.row.slug.clone());
    let mut def = match form.definition() {
        Ok(def) => def,
        Err(p) => {
            return form_page(
                req,
                admin,
                form,
                slug,
                p.iter().map(ToString::to_string).collect(),
                None,
            );
        }
    };
    if let Some(l) = editing {
        def.id = l.row.slug.clone();
    }
    if form.action == "test" {
        return match test_definition(checks, def).await {
            Ok(outcome) => form_page(req, admin, form, slug, Vec::new(), Some(outcome)),
            Err(Refusal::Invalid(p)) => form_page(
                req,
                admin,
                form,
                slug,
                p.iter().map(ToString::to_string).collect(),
                None,
            ),
            Err(Refusal::Other(e)) => Err(e),
        };
    }
    let by = actioned(req, admin);
    let saved = match editing {
        Some(l) => checks.update(l, def, &by).await,
        None => checks.create(def, ORIGIN_UI, &by).await,
    };
    match saved {
        Ok(l) => Ok(see_other(&format!("/checks/{}?done=saved", l.row.slug))),
        Err(Refusal::Invalid(p)) => form_page(
            req,
            admin,
            form,
            slug,
            p.iter().map(ToString::to_string).collect(),
            None,
        ),
        Err(Refusal::Other(AppError::Conflict(message))) => {
            form_page(req, admin, form, slug, vec![message], None)
        }
        Err(Refusal::Other(e)) => Err(e),
    }
}

async fn create(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    Form(form): Form<CheckForm>,
) -> Result<HttpResponse, AppError> {
    submit(&req, &admin, &checks, form, None).await
}

async fn editable(checks: &Checks, slug: &str) -> Result<Loaded, AppError> {
    let l = checks.get(slug).await?;
    l.editable()?;
    Ok(l)
}

async fn edit_page(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let l = editable(&checks, &id).await?;
    let form = CheckForm::of(&super::definition::redacted(&l.def));
    form_page(
        &req,
        &admin,
        form,
        Some(l.row.slug.clone()),
        Vec::new(),
        None,
    )
}

async fn update(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    Form(form): Form<CheckForm>,
) -> Result<HttpResponse, AppError> {
    let l = editable(&checks, &id).await?;
    submit(&req, &admin, &checks, form, Some(&l)).await
}

#[derive(Deserialize)]
struct Empty {}

async fn delete(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    _: Form<Empty>,
) -> Result<HttpResponse, AppError> {
    let l = editable(&checks, &id).await?;
    checks.delete(&l, &actioned(&req, &admin)).await?;
    Ok(see_other("/checks?done=deleted"))
}

async fn pause(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    _: Form<Empty>,
) -> Result<HttpResponse, AppError> {
    let l = checks.get(&id).await?;
    checks.set_paused(&l, true, &actioned(&req, &admin)).await?;
    Ok(see_other(&format!("/checks/{}?done=paused", l.row.slug)))
}

async fn resume(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    _: Form<Empty>,
) -> Result<HttpResponse, AppError> {
    let l = checks.get(&id).await?;
    checks
        .set_paused(&l, false, &actioned(&req, &admin))
        .await?;
    Ok(see_other(&format!("/checks/{}?done=resumed", l.row.slug)))
}

async fn run_now(
    RequireAdmin(_): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    _: Form<Empty>,
) -> Result<HttpResponse, AppError> {
    let l = checks.get(&id).await?;
    checks.run_now(&l).await?;
    Ok(see_other(&format!("/checks/{}?done=ran", l.row.slug)))
}

async fn add_window(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    Form(input): Form<WindowInput>,
) -> Result<HttpResponse, AppError> {
    let l = checks.get(&id).await?;
    let (window, note) = input.window().map_err(|e| {
        AppError::BadRequest(format!(
            "The maintenance window is not valid: {e}. Go back and correct it."
        ))
    })?;
    checks
        .add_window(&l, window, note, &actioned(&req, &admin))
        .await?;
    Ok(see_other(&format!(
        "/checks/{}?done=window#maintenance",
        l.row.slug
    )))
}

async fn delete_window(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    path: web::Path<(String, i64)>,
    _: Form<Empty>,
) -> Result<HttpResponse, AppError> {
    let (id, window) = path.into_inner();
    let l = checks.get(&id).await?;
    if !checks
        .delete_window(&l, window, &actioned(&req, &admin))
        .await?
    {
        return Err(AppError::NotFound);
    }
    Ok(see_other(&format!("/checks/{}#maintenance", l.row.slug)))
}

#[derive(Deserialize)]
struct NoteForm {
    #[serde(default)]
    body: String,
}

async fn add_note(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    checks: web::Data<Checks>,
    path: web::Path<(String, i64)>,
    Form(form): Form<NoteForm>,
) -> Result<HttpResponse, AppError> {
    let (id, incident) = path.into_inner();
    let l = checks.get(&id).await?;
    let text = note_text(&form.body)?;
    let check_id = l.row.id;
    let owner = checks
        .store
        .read(move |conn| repo::incident_check(conn, incident))
        .await?;
    if owner != Some(check_id) {
        return Err(AppError::NotFound);
    }
    checks
        .add_note(
            incident,
            admin.display_name.clone(),
            text,
            &actioned(&req, &admin),
        )
        .await?;
    Ok(see_other(&format!("/checks/{}#incidents", l.row.slug)))
}
