//! The performance pages: `/perf` (a source's requests per minute, 5xx rate
//! and p95 over time with deploy markers, the sortable routes table with Δ
//! against the baseline and regression badges, open regressions, the
//! slowest requests and the deploys), `/perf/route` (one route's
//! percentiles, throughput and status codes) and `/perf/deploys/{id}` (per
//! route, before against after). Viewers read; admins may record a deploy.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::api::{DeployBody, SourceQuery, known_source};
use super::repo::{self, Deploy, RegressionRow, Slow};
use super::service::Perf;
use super::views::{self, DeployView, Point, RouteRow, RouteView, SourceView, check_hours};
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, actioned, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::series::{Bucket, Unit};
use crate::web::Layout;
use crate::web::chart::{Chart, Line, Marker};

pub fn routes(r: &mut Routes) {
    r.get("/perf", Access::Viewer, overview);
    r.get("/perf/route", Access::Viewer, route_page);
    r.get("/perf/deploys/{id}", Access::Viewer, deploy_page);
    r.post("/perf/deploys", Access::Admin, record_deploy);
}

/// The presets offered on every page: (hours, label).
const PRESETS: [(i64, &str); 4] = [(1, "1 h"), (24, "24 h"), (168, "7 d"), (720, "30 d")];

fn fmt_ms(v: &Option<f64>) -> String {
    v.map_or_else(|| "–".to_owned(), |ms| format!("{ms:.1}"))
}

/// A labelled line of a chart: how to read its value from a point.
type Series = (&'static str, fn(&Point) -> Option<f64>);

/// What every chart of a page shares: the points, their step, the window
/// ending at `to` (unix seconds) and the deploy markers.
struct Frame<'a> {
    points: &'a [Point],
    step: i64,
    hours: i64,
    to: i64,
    markers: &'a [Marker],
}

impl Frame<'_> {
    fn chart(&self, title: &str, unit: Unit, series: &[Series]) -> String {
        let lines: Vec<Line> = series
            .iter()
            .map(|(label, value)| Line {
                label: (*label).to_owned(),
                buckets: self
                    .points
                    .iter()
                    .filter_map(|p| Some(Bucket::of(p.ts, value(p)?)))
                    .collect(),
                step: self.step,
            })
            .collect();
        Chart {
            title,
            unit,
            from: self.to - self.hours * 3_600,
            to: self.to,
            lines: &lines,
            band: false,
        }
        .svg_with_markers(self.markers)
    }
}

fn markers(deploys: &[Deploy], source: &str) -> Vec<Marker> {
    deploys
        .iter()
        .filter(|d| d.source.is_empty() || d.source == source)
        .map(|d| Marker {
            ts: d.ts_ms.div_euclid(1000),
            label: format!("deploy {} ({})", d.version, when(Some(d.ts_ms))),
        })
        .collect()
}

#[derive(Debug, Deserialize)]
struct OverviewQuery {
    source: Option<String>,
    hours: Option<i64>,
    sort: Option<String>,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "perf/overview.html")]
struct OverviewPage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    sources: Vec<String>,
    view: SourceView,
    sort: String,
    presets: &'static [(i64, &'static str)],
    charts: Vec<(&'static str, String)>,
    regressions: Vec<RegressionRow>,
    slow: Vec<Slow>,
    deploys: Vec<Deploy>,
    notice: Option<&'static str>,
}

impl OverviewPage {
    fn ms(&self, v: &Option<f64>) -> String {
        fmt_ms(v)
    }

    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }

    fn delta(&self, row: &RouteRow) -> String {
        row.p95_vs_baseline_pct
            .map_or_else(|| "–".to_owned(), |d| format!("{d:+.0} %"))
    }

    fn route_href(&self, row: &RouteRow) -> String {
        route_href(
            &self.view.source,
            &row.summary.route,
            &row.summary.method,
            self.view.hours,
        )
    }
}

fn route_href(source: &str, route: &str, method: &str, hours: i64) -> String {
    let q = serde_urlencoded::to_string([
        ("source", source),
        ("route", route),
        ("method", method),
        ("hours", &hours.to_string()),
    ])
    .unwrap_or_default();
    format!("/perf/route?{q}")
}

/// The column a table is sorted by; unknown names sort by requests.
fn sort_rows(rows: &mut [RouteRow], by: &str) {
    let key = |r: &RouteRow| -> f64 {
        let s = &r.summary;
        match by {
            "errors" => s.error_rate,
            "p50" => s.p50_ms.unwrap_or(0.0),
            "p95" => s.p95_ms.unwrap_or(0.0),
            "p99" => s.p99_ms.unwrap_or(0.0),
            "max" => s.max_ms.unwrap_or(0.0),
            "delta" => r.p95_vs_baseline_pct.unwrap_or(f64::NEG_INFINITY),
            _ => s.requests as f64,
        }
    };
    rows.sort_by(|a, b| {
        key(b)
            .total_cmp(&key(a))
            .then(a.summary.route.cmp(&b.summary.route))
    });
}

async fn overview(
    req: HttpRequest,
    user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<OverviewQuery>,
) -> Result<HttpResponse, AppError> {
    let source = known_source(&perf, q.source.as_deref())?;
    let hours = check_hours(q.hours)?;
    let mut view = views::source(&perf, &source, hours).await?;
    let sort = q.sort.clone().unwrap_or_else(|| "rpm".into());
    sort_rows(&mut view.routes, &sort);
    let deploys = views::deploys(&perf, hours).await?;
    let marks = markers(&deploys, &source);
    let frame = Frame {
        points: &view.points,
        step: view.step,
        hours,
        to: perf.clock.now_s(),
        markers: &marks,
    };
    let charts = vec![
        (
            "Requests per minute",
            frame.chart(
                "Requests per minute",
                Unit::Count,
                &[("requests/min", |p| Some(p.rpm))],
            ),
        ),
        (
            "5xx share (%)",
            frame.chart(
                "5xx share",
                Unit::Percent,
                &[("5xx %", |p| Some(p.error_rate))],
            ),
        ),
        (
            "p95 latency",
            frame.chart("p95 latency", Unit::Milliseconds, &[("p95", |p| p.p95_ms)]),
        ),
    ];
    let s = source.clone();
    let (regressions, slow) = perf
        .store
        .read(move |c| Ok((repo::regressions(c, false, 50)?, repo::slow(c, &s, 100)?)))
        .await?;
    let data = OverviewPage {
        layout: layout("Performance", &req, &user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        sources: perf.live_sources(),
        view,
        sort,
        presets: &PRESETS,
        charts,
        regressions,
        slow,
        deploys,
        notice: q.done.as_deref().map(|_| "Deploy recorded."),
    };
    page(&data, false)
}

#[derive(Debug, Deserialize)]
struct RouteQuery {
    source: Option<String>,
    route: String,
    method: Option<String>,
    hours: Option<i64>,
}

#[derive(Template)]
#[template(path = "perf/route.html")]
struct RoutePage {
    layout: Layout,
    view: RouteView,
    method: String,
    presets: &'static [(i64, &'static str)],
    charts: Vec<(&'static str, String)>,
}

impl RoutePage {
    fn ms(&self, v: &Option<f64>) -> String {
        fmt_ms(v)
    }

    fn href(&self, hours: &i64) -> String {
        route_href(
            &self.view.source,
            &self.view.summary.route,
            &self.method,
            *hours,
        )
    }
}

async fn route_page(
    req: HttpRequest,
    user: CurrentUser,
    perf: web::Data<Perf>,
    q: web::Query<RouteQuery>,
) -> Result<HttpResponse, AppError> {
    let source = known_source(&perf, q.source.as_deref())?;
    let hours = check_hours(q.hours)?;
    let method = q.method.clone().unwrap_or_else(|| "GET".into());
    let view = views::route(&perf, &source, &q.route, &method, hours).await?;
    let marks = markers(&views::deploys(&perf, hours).await?, &source);
    let frame = Frame {
        points: &view.points,
        step: view.step,
        hours,
        to: perf.clock.now_s(),
        markers: &marks,
    };
    let charts = vec![
        (
            "Latency percentiles",
            frame.chart(
                "Latency percentiles",
                Unit::Milliseconds,
                &[
                    ("p50", |p| p.p50_ms),
                    ("p95", |p| p.p95_ms),
                    ("p99", |p| p.p99_ms),
                ],
            ),
        ),
        (
            "Requests per minute",
            frame.chart(
                "Requests per minute",
                Unit::Count,
                &[("requests/min", |p| Some(p.rpm))],
            ),
        ),
    ];
    let data = RoutePage {
        layout: layout("Route performance", &req, &user),
        view,
        method,
        presets: &PRESETS,
        charts,
    };
    page(&data, false)
}

#[derive(Template)]
#[template(path = "perf/deploy.html")]
struct DeployPage {
    layout: Layout,
    view: DeployView,
}

impl DeployPage {
    fn ms(&self, v: &Option<f64>) -> String {
        fmt_ms(v)
    }

    fn pct(&self, v: &Option<f64>) -> String {
        v.map_or_else(|| "–".to_owned(), |d| format!("{d:+.0} %"))
    }

    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }
}

async fn deploy_page(
    req: HttpRequest,
    user: CurrentUser,
    perf: web::Data<Perf>,
    id: web::Path<i64>,
    q: web::Query<SourceQuery>,
) -> Result<HttpResponse, AppError> {
    let source = known_source(&perf, q.source.as_deref())?;
    let hours = q.hours.unwrap_or(2).clamp(1, 168);
    let view = views::deploy(&perf, id.into_inner(), &source, hours).await?;
    let data = DeployPage {
        layout: layout("Deploy", &req, &user),
        view,
    };
    page(&data, false)
}

/// Every field defaults, so a viewer's bare post meets the admin check first.
#[derive(Deserialize)]
struct DeployForm {
    #[serde(default)]
    version: String,
    #[serde(default)]
    source: String,
    #[serde(default)]
    notes: String,
}

async fn record_deploy(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    perf: web::Data<Perf>,
    Form(form): Form<DeployForm>,
) -> Result<HttpResponse, AppError> {
    let body = DeployBody {
        version: form.version,
        source: form.source,
        notes: form.notes,
    };
    perf.add_deploy(body, "ui", &actioned(&req, &admin)).await?;
    Ok(see_other("/perf?done=deploy#deploys"))
}
