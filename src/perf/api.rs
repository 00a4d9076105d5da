//! The perf JSON API under `/api/v1`: each source's figures and routes,
//! one route's detail (the route travels in the query, since it holds
//! slashes), the slowest requests, regressions, and deploy markers — listed,
//! created by an admin's session or write token (audited), and compared
//! before against after.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::model::{Baseline, DeployDelta, Reason, Summary};
use super::repo::{self, Deploy, RegressionRow, Slow};
use super::service::Perf;
use super::views::{self, DeployView, Point, RouteRow, RouteView, SourceView, check_hours};
use crate::auth::{CurrentUser, RequireAdmin, actioned};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        sources,
        source,
        route,
        slow,
        regressions,
        deploys,
        create_deploy,
        deploy
    ),
    components(schemas(
        SourceView,
        RouteView,
        RouteRow,
        Point,
        Summary,
        Baseline,
        Reason,
        Slow,
        RegressionRow,
        Deploy,
        DeployBody,
        DeployView,
        DeployDelta
    ))
)]
pub struct PerfApi;

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/perf/sources", Access::Viewer, sources);
    r.get("/api/v1/perf/source", Access::Viewer, source);
    r.get("/api/v1/perf/route", Access::Viewer, route);
    r.get("/api/v1/perf/slow", Access::Viewer, slow);
    r.get("/api/v1/perf/regressions", Access::Viewer, regressions);
    r.get("/api/v1/deploys", Access::Viewer, deploys);
    r.post("/api/v1/deploys", Access::Admin, create_deploy);
    r.get("/api/v1/deploys/{id}", Access::Viewer, deploy);
}

#[derive(Deserialize)]
pub struct SourceQuery {
    pub source: Option<String>,
    pub hours: Option<i64>,
}

/// A known source, or 404 naming the known ones.
pub(super) fn known_source(perf: &Perf, source: Option<&str>) -> Result<String, AppError> {
    let s = source.unwrap_or(super::model::SELF_SOURCE);
    let live = perf.live_sources();
    if live.iter().any(|l| l == s) {
        Ok(s.to_owned())
    } else {
        Err(AppError::BadRequest(format!(
            "{s:?} is not a source; use one of {}",
            live.join(", ")
        )))
    }
}

/// The sources and their figures over the last 24 hours.
#[utoipa::path(get, path = "/api/v1/perf/sources", tag = "perf",
    responses((status = 200, description = "Every source", body = [Summary])),
    security(("bearer" = []), ("session" = [])))]
async fn sources(_user: CurrentUser, perf: web::Data<Perf>) -> Result<HttpResponse, AppError> {
    let mut out = Vec::new();
    for s in perf.live_sources() {
        let mut total = views::source(&perf, &s, 24).await?.total;
        total.route = s;
        out.push(total);
    }
    Ok(HttpResponse::Ok().json(out))
}

/// A source's totals, points and routes table.
#[utoipa::path(get, path = "/api/v1/perf/source", tag = "perf",
    params(("source" = Option<String>, Query, description = "self (default) or a log source, e.g. nginx:shop"),
           ("hours" = Option<i64>, Query, description = "Window, 1 to 2160 (default 24)")),
    responses((status = 200, description = "The source", body = SourceView), (status = 400, description = "Unknown source or bad window")),
    security(("bearer" = []), ("session" = [])))]
async fn source(
    _user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<SourceQuery>,
) -> Result<HttpResponse, AppError> {
    let s = known_source(&perf, q.source.as_deref())?;
    let view = views::source(&perf, &s, check_hours(q.hours)?).await?;
    Ok(HttpResponse::Ok().json(view))
}

#[derive(Deserialize)]
pub struct RouteQuery {
    pub source: Option<String>,
    pub route: String,
    pub method: Option<String>,
    pub hours: Option<i64>,
}

/// One route: percentiles and throughput over time, status codes, baseline.
#[utoipa::path(get, path = "/api/v1/perf/route", tag = "perf",
    params(("source" = Option<String>, Query, description = "self (default) or a log source"),
           ("route" = String, Query, description = "The route pattern, e.g. /checks/{id}"),
           ("method" = Option<String>, Query, description = "Default GET"),
           ("hours" = Option<i64>, Query, description = "Window, 1 to 2160 (default 24)")),
    responses((status = 200, description = "The route", body = RouteView), (status = 404, description = "No requests for it in the window")),
    security(("bearer" = []), ("session" = [])))]
async fn route(
    _user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<RouteQuery>,
) -> Result<HttpResponse, AppError> {
    let s = known_source(&perf, q.source.as_deref())?;
    let method = q.method.as_deref().unwrap_or("GET");
    let view = views::route(&perf, &s, &q.route, method, check_hours(q.hours)?).await?;
    Ok(HttpResponse::Ok().json(view))
}

/// The last 100 requests above `perf.slow_threshold`, newest first; query
/// values with secret-looking names are redacted.
#[utoipa::path(get, path = "/api/v1/perf/slow", tag = "perf",
    params(("source" = Option<String>, Query, description = "self (default)")),
    responses((status = 200, description = "Slow requests", body = [Slow])),
    security(("bearer" = []), ("session" = [])))]
async fn slow(
    _user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<SourceQuery>,
) -> Result<HttpResponse, AppError> {
    let s = known_source(&perf, q.source.as_deref())?;
    let rows = perf.store.read(move |c| repo::slow(c, &s, 100)).await?;
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Deserialize)]
struct RegressionsQuery {
    open: Option<bool>,
}

/// Regressions, newest first (`open=true`: only those in force).
#[utoipa::path(get, path = "/api/v1/perf/regressions", tag = "perf",
    params(("open" = Option<bool>, Query, description = "Only open ones")),
    responses((status = 200, description = "Regressions", body = [RegressionRow])),
    security(("bearer" = []), ("session" = [])))]
async fn regressions(
    _user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<RegressionsQuery>,
) -> Result<HttpResponse, AppError> {
    let open = q.open.unwrap_or(false);
    let rows = perf
        .store
        .read(move |c| repo::regressions(c, open, 500))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

#[derive(Deserialize)]
struct HoursQuery {
    hours: Option<i64>,
}

/// Deploy markers of the last `hours` (default 24 × 30), newest first.
#[utoipa::path(get, path = "/api/v1/deploys", tag = "perf",
    params(("hours" = Option<i64>, Query, description = "Window, 1 to 2160 (default 720)")),
    responses((status = 200, description = "Deploys", body = [Deploy])),
    security(("bearer" = []), ("session" = [])))]
async fn deploys(
    _user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<HoursQuery>,
) -> Result<HttpResponse, AppError> {
    let hours = check_hours(Some(q.hours.unwrap_or(720)))?;
    Ok(HttpResponse::Ok().json(views::deploys(&perf, hours).await?))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeployBody {
    /// 1–100 characters, e.g. "v2.4.1" or a commit.
    pub version: String,
    /// The source it concerns; empty or absent for all.
    #[serde(default)]
    pub source: String,
    /// Up to 2000 characters.
    #[serde(default)]
    pub notes: String,
}

/// Records a deploy marker now (admins; audited).
#[utoipa::path(post, path = "/api/v1/deploys", tag = "perf", request_body = DeployBody,
    responses((status = 201, description = "Recorded", body = Deploy), (status = 400, description = "A bad field, named")),
    security(("bearer" = []), ("session" = [])))]
async fn create_deploy(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    perf: web::Data<Perf>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: DeployBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })?;
    let deploy = perf.add_deploy(b, "api", &actioned(&req, &admin)).await?;
    Ok(HttpResponse::Created().json(deploy))
}

/// A deploy and, per route, `hours` before it against `hours` after it.
#[utoipa::path(get, path = "/api/v1/deploys/{id}", tag = "perf",
    params(("id" = i64, Path, description = "The deploy"),
           ("source" = Option<String>, Query, description = "For a deploy of all sources: which one (default self)"),
           ("hours" = Option<i64>, Query, description = "Hours on each side, 1 to 168 (default 2)")),
    responses((status = 200, description = "Before and after", body = DeployView), (status = 404, description = "No such deploy")),
    security(("bearer" = []), ("session" = [])))]
async fn deploy(
    _user: CurrentUser,
    perf: web::Data<Perf>,
    id: web::Path<i64>,
    q: web::Query<SourceQuery>,
) -> Result<HttpResponse, AppError> {
    let s = known_source(&perf, q.source.as_deref())?;
    let hours = q.hours.unwrap_or(2);
    if !(1..=168).contains(&hours) {
        return Err(AppError::BadRequest(format!(
            "hours {hours} is out of range; use 1 to 168"
        )));
    }
    Ok(HttpResponse::Ok().json(views::deploy(&perf, id.into_inner(), &s, hours).await?))
}
