//! A check's page: its state and uptime, a latency chart over a chosen
//! range, incidents with notes, maintenance windows, the heartbeat URL and
//! recent pings (admins), and the latest results.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::model::{State, Window};
use super::pages::{Row, row};
use super::repo::{self, Incident, Ping, ResultRow};
use super::service::Checks;
use super::views;
use crate::auth::{CurrentUser, layout, page, when};
use crate::error::AppError;
use crate::series::{self, Tier, Unit};
use crate::web::Layout;
use crate::web::chart::{Chart, Line};

const RANGES: [(&str, &str, i64); 5] = [
    ("1h", "1 hour", 3600),
    ("24h", "24 hours", 86_400),
    ("7d", "7 days", 7 * 86_400),
    ("30d", "30 days", 30 * 86_400),
    ("90d", "90 days", 90 * 86_400),
];

#[derive(Debug, Default, Deserialize)]
pub struct DetailQuery {
    range: Option<String>,
    done: Option<String>,
}

pub struct WindowRow {
    pub id: i64,
    pub text: String,
    pub note: String,
    pub active: bool,
    pub over: bool,
}

pub struct ResultView {
    pub at: String,
    pub outcome: State,
    pub latency: String,
    pub reason: String,
}

pub struct IncidentView {
    pub id: i64,
    pub started: String,
    pub ended: String,
    pub duration: String,
    pub severity: State,
    pub first_error: String,
    pub notes: Vec<(String, String, String)>,
}

#[derive(Template)]
#[template(path = "checks/detail.html")]
struct DetailPage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    row: Row,
    since: String,
    interval: String,
    managed_by: Option<&'static str>,
    paused: bool,
    cert_days: Option<i64>,
    ranges: Vec<(&'static str, &'static str, bool)>,
    chart: String,
    incidents: Vec<IncidentView>,
    results: Vec<ResultView>,
    windows: Vec<WindowRow>,
    ping_url: Option<String>,
    pings: Vec<(String, String, String)>,
    notice: Option<&'static str>,
    public: bool,
}

pub async fn detail_page(
    req: HttpRequest,
    user: CurrentUser,
    checks: web::Data<Checks>,
    id: web::Path<String>,
    query: web::Query<DetailQuery>,
) -> Result<HttpResponse, AppError> {
    let l = checks.get(&id).await?;
    let key = query.range.as_deref().unwrap_or("24h");
    let (key, _, span) = RANGES
        .iter()
        .find(|(k, _, _)| *k == key)
        .copied()
        .ok_or_else(|| {
            AppError::BadRequest("That is not a range; use 1h, 24h, 7d, 30d or 90d.".into())
        })?;
    let now = checks.clock.now_ms();
    let figures = views::figures(&checks, std::slice::from_ref(&l), true).await?;
    let (id_num, series_name) = (l.row.id, l.series_name());
    let (to, from) = (now / 1000, now / 1000 - span);
    let (answer, incidents, results, windows, pings) = checks
        .store
        .read(move |conn| {
            Ok((
                series::answer(conn, &series_name, from, to, 600)?,
                repo::incidents(conn, Some(id_num), 0, 50)?,
                repo::results(conn, id_num, 50)?,
                repo::windows(conn, Some(id_num))?,
                repo::pings(conn, id_num, 20)?,
            ))
        })
        .await?;
    let band = answer.as_ref().is_some_and(|a| a.tier != Tier::Raw);
    let lines: Vec<Line> = answer
        .map(|a| Line {
            label: "Latency".into(),
            buckets: a.buckets,
            step: a.step,
        })
        .into_iter()
        .collect();
    let chart = Chart {
        title: "Latency",
        unit: Unit::Milliseconds,
        from,
        to,
        lines: &lines,
        band,
    }
    .svg();
    let notice = match query.done.as_deref() {
        Some("saved") => Some("Saved. The first run comes within a few seconds."),
        Some("paused") => Some("Paused: no runs until resumed."),
        Some("resumed") => Some("Resumed: pending until the next run."),
        Some("window") => Some("Maintenance window added."),
        Some("ran") => Some("Checked just now; the result is below."),
        _ => None,
    };
    let data = DetailPage {
        layout: layout(&l.row.name, &req, &user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        row: row(&l, figures.get(&l.row.id)),
        since: when(Some(l.row.state_since_ms)),
        interval: humantime::format_duration(l.check.interval).to_string(),
        managed_by: match l.row.origin.as_str() {
            "config" => Some("watchpost.toml"),
            "builtin" => Some("Watchpost itself"),
            _ => None,
        },
        paused: l.row.paused,
        cert_days: l.row.cert_days,
        ranges: RANGES
            .iter()
            .map(|(k, label, _)| (*k, *label, *k == key))
            .collect(),
        chart,
        incidents: incidents
            .into_iter()
            .map(|i| incident_view(i, now))
            .collect(),
        results: results.into_iter().map(result_view).collect(),
        windows: windows
            .into_iter()
            .map(|(id, _, w, note)| window_row(id, &w, note, now))
            .collect(),
        ping_url: if user.is_admin() {
            checks.ping_url(&l)
        } else {
            None
        },
        pings: pings.into_iter().map(ping_view).collect(),
        notice,
        public: l.check.public,
    };
    page(&data, false)
}

fn result_view(r: ResultRow) -> ResultView {
    ResultView {
        at: crate::web::units::utc_minute(r.ts_ms / 1000),
        outcome: r.outcome,
        latency: r
            .latency_ms
            .map(|ms| crate::web::units::format(ms, Unit::Milliseconds))
            .unwrap_or_default(),
        reason: r.reason.unwrap_or_default(),
    }
}

pub fn duration_text(ms: i64) -> String {
    let secs = u64::try_from(ms / 1000).unwrap_or(0);
    humantime::format_duration(std::time::Duration::from_secs(secs)).to_string()
}

fn incident_view(i: Incident, now: i64) -> IncidentView {
    IncidentView {
        id: i.id,
        started: when(Some(i.started_ms)),
        ended: i
            .ended_ms
            .map_or_else(|| "ongoing".to_string(), |e| when(Some(e))),
        duration: duration_text(i.ended_ms.unwrap_or(now) - i.started_ms),
        severity: i.severity,
        first_error: i.first_error,
        notes: i
            .notes
            .into_iter()
            .map(|n| (when(Some(n.ts_ms)), n.author, n.body))
            .collect(),
    }
}

fn window_row(id: i64, w: &Window, note: String, now: i64) -> WindowRow {
    WindowRow {
        id,
        text: w.describe(),
        note,
        active: w.covers(now),
        over: w.is_over(now),
    }
}

fn ping_view(p: Ping) -> (String, String, String) {
    (when(Some(p.ts_ms)), p.kind, p.body.unwrap_or_default())
}
