//! What the checks feature shows without a login: the status page
//! (`/status`: public checks only, their state, 90 one-day uptime bars, and
//! active and recent incidents with admins' notes), SVG badges of public
//! checks, and the heartbeat ping URLs. Internal targets and error texts
//! appear only for checks that allow it (`public_details`).

use actix_web::http::header;
use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::config::StatusPageConfig;
use super::heartbeat::PingKind;
use super::model::{Counts, State, day_of, uptime_text};
use super::repo::{self, Incident};
use super::service::{Checks, Loaded};
use super::views::{self, DayBar};
use crate::auth::when;
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

pub fn routes(r: &mut Routes) {
    r.get("/status", Access::Public, status_page);
    r.get("/badge/{id}/status.svg", Access::Public, status_badge);
    r.get("/badge/{id}/uptime.svg", Access::Public, uptime_badge);
    for path in ["/ping/{token}", "/ping/{token}/{kind}"] {
        r.get(path, Access::Public, ping);
        r.post(path, Access::Public, ping);
    }
}

pub struct PublicCheck {
    pub name: String,
    pub state: State,
    pub detail: Option<String>,
    pub uptime_90: String,
    pub bars: Vec<DayBar>,
}

pub struct PublicIncident {
    pub check: String,
    pub started: String,
    pub ended: Option<String>,
    pub severity: State,
    pub detail: Option<String>,
    pub notes: Vec<(String, String)>,
}

#[derive(Template)]
#[template(path = "checks/status.html")]
struct StatusPage {
    layout: Layout,
    title: String,
    overall: (&'static str, &'static str),
    checks: Vec<PublicCheck>,
    active: Vec<PublicIncident>,
    past: Vec<PublicIncident>,
    updated: String,
}

async fn public_checks(checks: &Checks) -> Result<Vec<Loaded>, AppError> {
    Ok(checks
        .all()
        .await?
        .into_iter()
        .filter(|l| l.check.public)
        .collect())
}

async fn status_page(
    checks: web::Data<Checks>,
    settings: web::Data<StatusPageConfig>,
) -> Result<HttpResponse, AppError> {
    let public = public_checks(&checks).await?;
    let figures = views::figures(&checks, &public, false).await?;
    let now = checks.clock.now_ms();
    let incidents = checks
        .store
        .read(move |conn| repo::incidents(conn, None, now - 14 * 86_400_000, 200))
        .await?;
    let mut active = Vec::new();
    let mut past = Vec::new();
    for incident in incidents {
        let Some(l) = public.iter().find(|l| l.row.id == incident.check_id) else {
            continue;
        };
        let view = public_incident(l, incident);
        if view.ended.is_none() {
            active.push(view)
        } else {
            past.push(view)
        }
    }
    let mut shown = Vec::with_capacity(public.len());
    for l in &public {
        let f = figures.get(&l.row.id);
        shown.push(PublicCheck {
            name: l.row.name.clone(),
            state: l.row.state,
            detail: l.check.public_details.then(|| match &l.row.last_error {
                Some(e) if l.row.state != State::Up => format!("{} — {e}", l.check.probe.target()),
                _ => l.check.probe.target(),
            }),
            uptime_90: f
                .map(|f| uptime_text(f.uptime.d90))
                .unwrap_or_else(|| "—".into()),
            bars: f.map(|f| f.bars.clone()).unwrap_or_default(),
        });
    }
    let overall = if shown.iter().any(|c| c.state == State::Down) {
        ("down", "Some services are down")
    } else if shown.iter().any(|c| c.state == State::Degraded) {
        ("degraded", "Some services are degraded")
    } else if shown.iter().any(|c| c.state == State::Maintenance) {
        ("maintenance", "Maintenance in progress")
    } else if shown.is_empty() {
        ("pending", "No services are listed yet")
    } else {
        ("up", "All services are operating normally")
    };
    let data = StatusPage {
        layout: Layout::new(&settings.title, "/status"),
        title: settings.title.clone(),
        overall,
        checks: shown,
        active,
        past,
        updated: when(Some(now)),
    };
    let body = data.render().map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "public, max-age=30"))
        .body(body))
}

fn public_incident(l: &Loaded, i: Incident) -> PublicIncident {
    PublicIncident {
        check: l.row.name.clone(),
        started: when(Some(i.started_ms)),
        ended: i.ended_ms.map(|e| when(Some(e))),
        severity: i.severity,
        detail: l.check.public_details.then_some(i.first_error),
        notes: i
            .notes
            .into_iter()
            .map(|n| (when(Some(n.ts_ms)), n.body))
            .collect(),
    }
}

async fn public_check(checks: &Checks, slug: &str) -> Result<Loaded, AppError> {
    let l = checks.get(slug).await?;
    if l.check.public {
        Ok(l)
    } else {
        Err(AppError::NotFound)
    }
}

fn svg(response: String) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("image/svg+xml")
        .insert_header((header::CACHE_CONTROL, "public, max-age=60"))
        .body(response)
}

async fn status_badge(
    checks: web::Data<Checks>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let l = public_check(&checks, &id).await?;
    let colour = colour_of(l.row.state);
    Ok(svg(badge("status", l.row.state.as_str(), colour)))
}

#[derive(Deserialize)]
struct DaysQuery {
    days: Option<i64>,
}

async fn uptime_badge(
    checks: web::Data<Checks>,
    id: web::Path<String>,
    query: web::Query<DaysQuery>,
) -> Result<HttpResponse, AppError> {
    let days = query.days.unwrap_or(30);
    if !(1..=views::BAR_DAYS).contains(&days) {
        return Err(AppError::BadRequest(format!(
            "days must be 1 to {}",
            views::BAR_DAYS
        )));
    }
    let l = public_check(&checks, &id).await?;
    let today = day_of(checks.clock.now_ms());
    let per_day = checks
        .store
        .read(move |conn| repo::days(conn, today - (days - 1)))
        .await?;
    let mut counts = Counts::default();
    for (_, c) in per_day
        .get(&l.row.id)
        .map(Vec::as_slice)
        .unwrap_or_default()
    {
        counts.add(*c);
    }
    let uptime = counts.uptime();
    let colour = match uptime {
        None => "#9f9f9f",
        Some(u) if u >= 99.9 => "#2e9b3e",
        Some(u) if u >= 99.0 => "#a4a61d",
        Some(u) if u >= 95.0 => "#dfb317",
        Some(_) => "#d9534f",
    };
    Ok(svg(badge(
        &format!("uptime {days}d"),
        &uptime_text(uptime),
        colour,
    )))
}

fn colour_of(state: State) -> &'static str {
    match state {
        State::Up => "#2e9b3e",
        State::Degraded => "#dfb317",
        State::Down => "#d9534f",
        State::Maintenance => "#3b82f6",
        State::Paused | State::Pending => "#9f9f9f",
    }
}

/// A flat two-part badge; widths estimated from the text (7 px a character).
pub fn badge(label: &str, value: &str, colour: &str) -> String {
    let esc = crate::web::chart::esc;
    let width = |s: &str| 10 + 7 * s.chars().count();
    let (lw, vw) = (width(label), width(value));
    let total = lw + vw;
    let (label, value) = (esc(label), esc(value));
    format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" width="{total}" height="20" role="img" aria-label="{label}: {value}"><title>{label}: {value}</title><rect width="{lw}" height="20" fill="#555"/><rect x="{lw}" width="{vw}" height="20" fill="{colour}"/><g fill="#fff" text-anchor="middle" font-family="Verdana,DejaVu Sans,sans-serif" font-size="11"><text x="{lx}" y="14">{label}</text><text x="{vx}" y="14">{value}</text></g></svg>"##,
        lx = lw / 2,
        vx = lw + vw / 2,
    )
}

async fn ping(
    req: HttpRequest,
    checks: web::Data<Checks>,
    path: web::Path<Vec<String>>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let parts = path.into_inner();
    let token = parts.first().cloned().unwrap_or_default();
    let kind = match parts.get(1).map(String::as_str) {
        None => PingKind::Success,
        Some("start") => PingKind::Start,
        Some("fail") => PingKind::Fail,
        Some(_) => return Err(AppError::NotFound),
    };
    let body = (!body.is_empty() && req.method() == actix_web::http::Method::POST)
        .then(|| String::from_utf8_lossy(&body).into_owned());
    match checks.ping(&token, kind, body).await? {
        Some(_) => Ok(HttpResponse::Ok()
            .content_type("text/plain; charset=utf-8")
            .insert_header((header::CACHE_CONTROL, "no-store"))
            .body("OK\n")),
        None => Err(AppError::NotFound),
    }
}

#[cfg(test)]
mod tests {
    use super::badge;

    #[test]
    fn badges_escape_and_size_their_text() {
        let svg = badge("uptime 30d", "99.5%", "#2e9b3e");
        assert!(svg.starts_with("<svg") && svg.contains(">99.5%</text>"));
        assert!(badge("a<b", "x", "#000").contains("a&lt;b"));
    }
}
