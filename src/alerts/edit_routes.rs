//! Making and changing rules: the JSON API and the forms of
//! `/alerts/rules/new` and `/alerts/rules/{id}/edit` (with "Preview", which
//! saves nothing). Channels are in `channel_routes.rs`. Admins only; viewers
//! read the results on the other pages.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Alerts;
use super::config::RuleConfig;
use super::rules::{KINDS, Rule};
use super::service::Preview;
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, actioned, layout, page, see_other};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create_rule_api, update_rule_api, delete_rule_api),
    components(schemas(RuleConfig))
)]
pub struct AlertEditsApi;

pub fn routes(r: &mut Routes) {
    use actix_web::http::Method;
    r.get("/alerts/rules/new", Access::Admin, new_rule_page);
    r.post("/alerts/rules", Access::Admin, create_rule_form);
    r.get("/alerts/rules/{id}/edit", Access::Admin, edit_rule_page);
    r.post("/alerts/rules/{id}", Access::Admin, update_rule_form);
    r.post("/alerts/rules/{id}/delete", Access::Admin, delete_rule_form);
    r.post("/api/v1/alerts/rules", Access::Admin, create_rule_api);
    r.add(
        Method::PUT,
        "/api/v1/alerts/rules/{id}",
        Access::Admin,
        update_rule_api,
    );
    r.add(
        Method::DELETE,
        "/api/v1/alerts/rules/{id}",
        Access::Admin,
        delete_rule_api,
    );
}

pub(super) fn json<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })
}

/// Creates a rule (admins; audited). The body is a rule as written in
/// `[[alerts.rules]]`.
#[utoipa::path(post, path = "/api/v1/alerts/rules", tag = "alerts", request_body = RuleConfig,
    responses((status = 201, description = "Created; the rule as in force"), (status = 400, description = "A bad field, named"), (status = 409, description = "The id is taken")),
    security(("bearer" = []), ("session" = [])))]
async fn create_rule_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let rule = alerts
        .save_rule(json(&body)?, None, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Created().json(rule))
}

/// Replaces a rule (admins; audited); `409` for one from the configuration file.
#[utoipa::path(put, path = "/api/v1/alerts/rules/{id}", tag = "alerts", request_body = RuleConfig,
    responses((status = 200, description = "The rule as in force"), (status = 400, description = "A bad field, named"), (status = 404, description = "No such rule"), (status = 409, description = "Managed by the configuration file")),
    security(("bearer" = []), ("session" = [])))]
async fn update_rule_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let rule = alerts
        .save_rule(json(&body)?, Some(&id), &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Ok().json(rule))
}

/// Deletes a rule made here (admins; audited).
#[utoipa::path(delete, path = "/api/v1/alerts/rules/{id}", tag = "alerts",
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such rule"), (status = 409, description = "From the configuration file, or a shipped default")),
    security(("bearer" = []), ("session" = [])))]
async fn delete_rule_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    alerts.delete_rule(&id, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The rule form, as typed: every field text, lists comma-separated.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct RuleForm {
    pub id: String,
    pub kind: String,
    pub enabled: Option<String>,
    pub checks: String,
    pub series: String,
    pub op: String,
    pub value: String,
    pub source: String,
    pub route: String,
    pub window: String,
    pub min_requests: String,
    #[serde(rename = "for")]
    pub for_: String,
    pub resolve_after: String,
    pub reminder: String,
    pub severity: String,
    pub labels: String,
    pub channels: String,
    pub runbook: String,
    /// Set by the "Preview" button: show, do not save.
    pub preview: Option<String>,
}

pub(super) fn list(text: &str) -> Vec<String> {
    text.split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(String::from)
        .collect()
}

pub(super) fn some(text: &str) -> Option<String> {
    Some(text.trim().to_string()).filter(|s| !s.is_empty())
}

impl RuleForm {
    fn entry(&self) -> Result<RuleConfig, AppError> {
        let number = |field: &str, text: &str| -> Result<Option<f64>, AppError> {
            some(text)
                .map(|t| {
                    t.parse::<f64>()
                        .map_err(|_| AppError::BadRequest(format!("{field} {t:?} is not a number")))
                })
                .transpose()
        };
        let mut labels = std::collections::BTreeMap::new();
        for pair in list(&self.labels) {
            let (name, value) = pair
                .split_once('=')
                .ok_or_else(|| AppError::BadRequest(format!("label {pair:?} is not name=value")))?;
            labels.insert(name.trim().to_string(), value.trim().to_string());
        }
        Ok(RuleConfig {
            id: self.id.trim().to_string(),
            kind: self.kind.trim().to_string(),
            enabled: Some(self.enabled.is_some()),
            checks: list(&self.checks),
            series: some(&self.series),
            op: some(&self.op),
            value: number("value", &self.value)?,
            source: some(&self.source),
            route: some(&self.route),
            window: some(&self.window),
            min_requests: number("min_requests", &self.min_requests)?.map(|n| n.max(0.0) as u64),
            for_: some(&self.for_),
            resolve_after: some(&self.resolve_after),
            reminder: some(&self.reminder),
            severity: some(&self.severity),
            labels,
            channels: list(&self.channels),
            runbook: some(&self.runbook),
        })
    }

    fn of(c: &RuleConfig) -> RuleForm {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        let num = |v: Option<f64>| v.map(|n| n.to_string()).unwrap_or_default();
        RuleForm {
            id: c.id.clone(),
            kind: c.kind.clone(),
            enabled: c.enabled.unwrap_or(true).then(|| "on".to_string()),
            checks: c.checks.join(", "),
            series: text(&c.series),
            op: text(&c.op),
            value: num(c.value),
            source: text(&c.source),
            route: text(&c.route),
            window: text(&c.window),
            min_requests: c.min_requests.map(|n| n.to_string()).unwrap_or_default(),
            for_: text(&c.for_),
            resolve_after: text(&c.resolve_after),
            reminder: text(&c.reminder),
            severity: text(&c.severity),
            labels: c
                .labels
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(", "),
            channels: c.channels.join(", "),
            runbook: text(&c.runbook),
            preview: None,
        }
    }
}

#[derive(Template)]
#[template(path = "alerts/rule_form.html")]
struct RuleFormPage {
    layout: Layout,
    csrf: String,
    form: RuleForm,
    /// Where the form posts: `/alerts/rules` or `/alerts/rules/{id}`.
    action: String,
    editing: bool,
    kinds: &'static [&'static str],
    error: Option<String>,
    preview: Option<Vec<Preview>>,
}

fn form_page(
    req: &HttpRequest,
    user: &CurrentUser,
    form: RuleForm,
    editing: bool,
    error: Option<String>,
    preview: Option<Vec<Preview>>,
) -> Result<HttpResponse, AppError> {
    let action = if editing {
        format!("/alerts/rules/{}", form.id)
    } else {
        "/alerts/rules".to_string()
    };
    let failed = error.is_some();
    let data = RuleFormPage {
        layout: layout(if editing { "Edit rule" } else { "New rule" }, req, user),
        csrf: user.csrf().to_string(),
        form,
        action,
        editing,
        kinds: KINDS,
        error,
        preview,
    };
    page(&data, failed)
}

async fn new_rule_page(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
) -> Result<HttpResponse, AppError> {
    let form = RuleForm {
        kind: "check_down".into(),
        enabled: Some("on".into()),
        severity: "warning".into(),
        ..RuleForm::default()
    };
    form_page(&req, &admin, form, false, None, None)
}

async fn edit_rule_page(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let id = id.into_inner();
    let rows = alerts.store.read(super::repo::rules).await?;
    let row = rows
        .into_iter()
        .find(|r| r.id == id)
        .ok_or(AppError::NotFound)?;
    if row.origin == super::defs::ORIGIN_CONFIG {
        return Err(AppError::Conflict(format!(
            "rule {id:?} is managed by the configuration file; change it there"
        )));
    }
    let entry: RuleConfig = serde_json::from_str(&row.definition)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("stored rule {id:?}: {e}")))?;
    form_page(&req, &admin, RuleForm::of(&entry), true, None, None)
}

/// Saves the form, or shows its preview, or shows it again with the reason
/// it was refused.
async fn submit_rule(
    req: HttpRequest,
    admin: CurrentUser,
    alerts: web::Data<Alerts>,
    form: RuleForm,
    path_id: Option<String>,
) -> Result<HttpResponse, AppError> {
    let editing = path_id.is_some();
    let entry = match form.entry() {
        Ok(entry) => entry,
        Err(e) => return form_page(&req, &admin, form, editing, Some(e.to_string()), None),
    };
    if form.preview.is_some() {
        let shown = match Rule::from_config(&entry, std::time::Duration::ZERO) {
            Ok(rule) => alerts.preview(&rule).await.map_err(|e| e.to_string()),
            Err(e) => Err(e),
        };
        return match shown {
            Ok(preview) => form_page(&req, &admin, form, editing, None, Some(preview)),
            Err(e) => form_page(&req, &admin, form, editing, Some(e), None),
        };
    }
    match alerts
        .save_rule(entry, path_id.as_deref(), &actioned(&req, &admin))
        .await
    {
        Ok(rule) => Ok(see_other(&format!(
            "/alerts/rules/{}",
            percent_encoding::utf8_percent_encode(&rule.id, percent_encoding::NON_ALPHANUMERIC)
        ))),
        Err(AppError::BadRequest(message) | AppError::Conflict(message)) => {
            form_page(&req, &admin, form, editing, Some(message), None)
        }
        Err(e) => Err(e),
    }
}

async fn create_rule_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    Form(form): Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    submit_rule(req, admin, alerts, form, None).await
}

async fn update_rule_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    Form(form): Form<RuleForm>,
) -> Result<HttpResponse, AppError> {
    submit_rule(req, admin, alerts, form, Some(id.into_inner())).await
}

#[derive(Deserialize)]
pub(super) struct Empty {}

async fn delete_rule_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    alerts.delete_rule(&id, &actioned(&req, &admin)).await?;
    Ok(see_other("/alerts?done=rule-deleted#rules"))
}
