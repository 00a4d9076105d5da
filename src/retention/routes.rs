//! Retention for admins: the `/settings/retention` page (each data type with
//! its rows, size, oldest record, policy and last run, and a "run now"
//! button), `GET /api/v1/retention` with the same figures, and
//! `POST /api/v1/retention/run`. A run asked for is audited as
//! `retention.run` by the admin.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::repo::{Figures, Row};
use super::{Retention, run_once};
use crate::auth::csrf::Form;
use crate::auth::{RequireAdmin, actioned, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

/// The retention API's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, run_now_api), components(schemas(Row, Figures, Ran)))]
pub struct RetentionApi;

pub fn routes(r: &mut Routes) {
    r.get("/settings/retention", Access::Admin, retention_page);
    r.post("/settings/retention/run", Access::Admin, run_now_page);
    r.get("/api/v1/retention", Access::Admin, list);
    r.post("/api/v1/retention/run", Access::Admin, run_now_api);
}

struct RowView {
    row: Row,
    size: String,
    oldest: String,
    last_run: String,
}

#[derive(Template)]
#[template(path = "retention/page.html")]
struct RetentionPage {
    layout: Layout,
    csrf: String,
    rows: Vec<RowView>,
    notice: Option<String>,
}

/// Bytes as people read them (binary units).
fn size(bytes: i64) -> String {
    bytesize::ByteSize::b(u64::try_from(bytes).unwrap_or(0)).to_string()
}

#[derive(Deserialize)]
struct PageQuery {
    removed: Option<u64>,
}

async fn retention_page(
    req: HttpRequest,
    retention: web::Data<Retention>,
    RequireAdmin(admin): RequireAdmin,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let rows = retention
        .overview()
        .await?
        .into_iter()
        .map(|row| RowView {
            size: format!(
                "{}{}",
                if row.figures.bytes_exact { "" } else { "≈ " },
                size(row.figures.bytes)
            ),
            oldest: row
                .figures
                .oldest_ms
                .map_or_else(|| "—".to_string(), |ms| when(Some(ms))),
            last_run: when(row.last_run_ms),
            row,
        })
        .collect();
    let page_data = RetentionPage {
        layout: layout("Retention", &req, &admin),
        csrf: admin.csrf().to_string(),
        rows,
        notice: query
            .removed
            .map(|n| format!("Retention ran now: {n} record(s) removed.")),
    };
    page(&page_data, false)
}

/// Every data type with its figures and policy (admins only).
#[utoipa::path(get, path = "/api/v1/retention", tag = "retention",
    responses((status = 200, description = "`{data_types: [...]}` in policy order", body = [Row]),
        (status = 403, description = "Not an admin")),
    security(("bearer" = []), ("session" = [])))]
async fn list(
    retention: web::Data<Retention>,
    _admin: RequireAdmin,
) -> Result<HttpResponse, AppError> {
    let rows = retention.overview().await?;
    Ok(HttpResponse::Ok().json(serde_json::json!({ "data_types": rows })))
}

/// What a run removed.
#[derive(Serialize, utoipa::ToSchema)]
struct Ran {
    /// Removed per data type.
    removed: std::collections::BTreeMap<&'static str, usize>,
    total: usize,
}

async fn run(retention: &Retention, by: &crate::audit_trail::Actioned) -> Result<Ran, AppError> {
    let now = retention.clock.now_ms();
    let report = run_once(
        &retention.store,
        &retention.trail,
        &retention.policies,
        now,
        by,
    )
    .await?;
    Ok(Ran {
        total: report.total(),
        removed: report.removed.into_iter().collect(),
    })
}

#[derive(Deserialize)]
struct RunForm {}

async fn run_now_page(
    req: HttpRequest,
    retention: web::Data<Retention>,
    RequireAdmin(admin): RequireAdmin,
    Form(RunForm {}): Form<RunForm>,
) -> Result<HttpResponse, AppError> {
    let ran = run(&retention, &actioned(&req, &admin)).await?;
    Ok(see_other(&format!(
        "/settings/retention?removed={}",
        ran.total
    )))
}

/// Applies every policy now (admins only); audited as `retention.run`.
#[utoipa::path(post, path = "/api/v1/retention/run", tag = "retention",
    responses((status = 200, description = "What was removed, per data type", body = Ran),
        (status = 403, description = "Not an admin")),
    security(("bearer" = []), ("session" = [])))]
async fn run_now_api(
    req: HttpRequest,
    retention: web::Data<Retention>,
    RequireAdmin(admin): RequireAdmin,
) -> Result<HttpResponse, AppError> {
    let ran = run(&retention, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::Ok().json(ran))
}
