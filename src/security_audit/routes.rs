//! The security audit's page (`/security/audit`: the last report, and "Run
//! now") and JSON API (`GET /api/v1/security/audit`, `POST
//! /api/v1/security/audit/run`). Admins only: findings name files, accounts
//! and open ports. Each run is audited as `security_audit.run`.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::model::{Category, Finding, Report, Severity, Summary};
use super::service::{SecurityAudit, Trigger};
use crate::auth::csrf::Form;
use crate::auth::{RequireAdmin, actioned, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(last_api, run_api),
    components(schemas(Report, Finding, Summary, Severity, Category))
)]
pub struct SecurityAuditApi;

pub fn routes(r: &mut Routes) {
    r.get("/security/audit", Access::Admin, audit_page);
    r.post("/security/audit/run", Access::Admin, run_form);
    r.get("/api/v1/security/audit", Access::Admin, last_api);
    r.post("/api/v1/security/audit/run", Access::Admin, run_api);
}

#[derive(Template)]
#[template(path = "security_audit/page.html")]
struct AuditPage {
    layout: Layout,
    csrf: String,
    /// (when, trigger, report) of the last run.
    last: Option<(String, String, Report)>,
    notice: Option<&'static str>,
}

#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    done: Option<String>,
}

async fn audit_page(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    audit: web::Data<SecurityAudit>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let last = audit
        .last()
        .await?
        .map(|(ts, trigger, report)| (when(Some(ts)), trigger, report));
    let notice = match query.done.as_deref() {
        Some("ran") => Some("The audit ran; its report is below."),
        _ => None,
    };
    let data = AuditPage {
        layout: layout("Security audit", &req, &admin),
        csrf: admin.csrf().to_string(),
        last,
        notice,
    };
    page(&data, false)
}

#[derive(Deserialize)]
struct Empty {}

async fn run_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    audit: web::Data<SecurityAudit>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    audit
        .run(Trigger::Manual, Some(&actioned(&req, &admin)))
        .await?;
    Ok(see_other("/security/audit?done=ran"))
}

/// The last stored report (schema `watchpost.audit.v1`).
#[utoipa::path(get, path = "/api/v1/security/audit", tag = "security",
    responses((status = 200, description = "The last report", body = Report),
              (status = 404, description = "No audit has run yet")),
    security(("bearer" = []), ("session" = [])))]
async fn last_api(
    RequireAdmin(_admin): RequireAdmin,
    audit: web::Data<SecurityAudit>,
) -> Result<HttpResponse, AppError> {
    match audit.last().await? {
        Some((_, _, report)) => Ok(HttpResponse::Ok().json(report)),
        None => Err(AppError::NotFound),
    }
}

/// Runs every check now, stores the report and returns it (admins; audited
/// as `security_audit.run`).
#[utoipa::path(post, path = "/api/v1/security/audit/run", tag = "security",
    responses((status = 200, description = "The new report", body = Report)),
    security(("bearer" = []), ("session" = [])))]
async fn run_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    audit: web::Data<SecurityAudit>,
) -> Result<HttpResponse, AppError> {
    let report = audit
        .run(Trigger::Manual, Some(&actioned(&req, &admin)))
        .await?;
    Ok(HttpResponse::Ok().json(report))
}
