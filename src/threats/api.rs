//! The threats JSON API under `/api/v1`: the security timeline and summary,
//! the ban list (also as plain text for nginx `deny` includes and ipset),
//! manual ban, unban and extend (admins, audited), and the watched logs'
//! health. Targets travel in the body (`{"ip": "198.51.100.0/24"}`), so a
//! CIDR block needs no escaping in a URL.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::bans::Order;
use super::model::{EVENT_KINDS, Target};
use super::repo::bans::Ban;
use super::repo::events::{EventRow, Filter};
use super::service::Threats;
use super::views::{self, Named, TopIp};
pub use crate::auth::actioned;
use crate::auth::{CurrentUser, RequireAdmin};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(events, summary, bans, bans_txt, ban, unban, extend),
    components(schemas(Ban, EventRow, TopIp, Named, BanBody, TargetBody, ExtendBody))
)]
pub struct ThreatsApi;

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/security/events", Access::Viewer, events);
    r.get("/api/v1/security/summary", Access::Viewer, summary);
    r.get("/api/v1/bans", Access::Viewer, bans);
    r.get("/api/v1/bans.txt", Access::Viewer, bans_txt);
    r.post("/api/v1/bans", Access::Admin, ban);
    r.post("/api/v1/bans/unban", Access::Admin, unban);
    r.post("/api/v1/bans/extend", Access::Admin, extend);
}

pub(super) fn duration_ms(value: &str, key: &str) -> Result<i64, AppError> {
    humantime::parse_duration(value.trim())
        .ok()
        .filter(|d| !d.is_zero())
        .and_then(|d| i64::try_from(d.as_millis()).ok())
        .ok_or_else(|| {
            AppError::BadRequest(format!(
                "{key} {value:?} is not a duration; write e.g. \"4h\" or \"30m\""
            ))
        })
}

pub(super) fn target(value: &str) -> Result<Target, AppError> {
    value.parse().map_err(AppError::BadRequest)
}

fn decode<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })
}

#[derive(Deserialize)]
struct EventsQuery {
    kind: Option<String>,
    ip: Option<String>,
    source: Option<String>,
    hours: Option<i64>,
    limit: Option<i64>,
}

/// Parses a timeline filter (shared with the page).
pub(super) fn filter(
    threats: &Threats,
    kind: Option<&str>,
    ip: Option<&str>,
    source: Option<&str>,
    hours: Option<i64>,
    limit: Option<i64>,
) -> Result<Filter, AppError> {
    let kind = kind.map(str::trim).filter(|k| !k.is_empty());
    if let Some(k) = kind
        && !EVENT_KINDS.contains(&k)
    {
        return Err(AppError::BadRequest(format!(
            "{k:?} is not an event kind; use one of {}",
            EVENT_KINDS.join(", ")
        )));
    }
    let hours = hours.unwrap_or(24).clamp(1, 24 * 90);
    let clean = |v: Option<&str>| {
        v.map(str::trim)
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    };
    Ok(Filter {
        kind: kind.map(str::to_owned),
        ip: clean(ip),
        source: clean(source),
        since_ms: threats.clock.now_ms() - hours * 3_600_000,
        limit: limit.unwrap_or(100).clamp(1, 1_000),
    })
}

/// Security events, newest first (aggregated per kind, IP and minute).
#[utoipa::path(get, path = "/api/v1/security/events", tag = "security",
    params(("kind" = Option<String>, Query, description = "probe.path, probe.sqli, ban.created, …"),
           ("ip" = Option<String>, Query, description = "Only this address"),
           ("source" = Option<String>, Query, description = "http, hooks, or a log source's id"),
           ("hours" = Option<i64>, Query, description = "How far back (default 24, at most 2160)"),
           ("limit" = Option<i64>, Query, description = "At most this many rows (default 100, at most 1000)")),
    responses((status = 200, description = "The events", body = [EventRow]), (status = 400, description = "A bad filter, named")),
    security(("bearer" = []), ("session" = [])))]
async fn events(
    _user: CurrentUser,
    threats: web::Data<Threats>,
    q: web::Query<EventsQuery>,
) -> Result<HttpResponse, AppError> {
    let f = filter(
        &threats,
        q.kind.as_deref(),
        q.ip.as_deref(),
        q.source.as_deref(),
        q.hours,
        q.limit,
    )?;
    Ok(HttpResponse::Ok().json(views::timeline(&threats, f).await?))
}

#[derive(Deserialize)]
struct HoursQuery {
    hours: Option<i64>,
}

/// Counts for a window: events per hour and kind, top offenders, bans in
/// force, lockouts, sshd failures and the watched logs' health.
#[utoipa::path(get, path = "/api/v1/security/summary", tag = "security",
    params(("hours" = Option<i64>, Query, description = "The window (default 24)")),
    responses((status = 200, description = "The summary")),
    security(("bearer" = []), ("session" = [])))]
async fn summary(
    user: CurrentUser,
    threats: web::Data<Threats>,
    q: web::Query<HoursQuery>,
) -> Result<HttpResponse, AppError> {
    let mut s = views::summary(&threats, q.hours.unwrap_or(24)).await?;
    if !user.is_admin() {
        // Who is locked out is the admins' business.
        s.lockouts.clear();
    }
    Ok(HttpResponse::Ok().json(s))
}

/// Bans in force.
#[utoipa::path(get, path = "/api/v1/bans", tag = "security",
    responses((status = 200, description = "Bans in force, longest first", body = [Ban])),
    security(("bearer" = []), ("session" = [])))]
async fn bans(_user: CurrentUser, threats: web::Data<Threats>) -> Result<HttpResponse, AppError> {
    let now = threats.clock.now_ms();
    let active = threats
        .store
        .read(move |conn| super::repo::bans::active(conn, now))
        .await?;
    Ok(HttpResponse::Ok().json(active))
}

/// Bans in force, one address or block per line (for an nginx `deny`
/// include, `ipset restore`, or a firewall script). Any read token works.
#[utoipa::path(get, path = "/api/v1/bans.txt", tag = "security",
    responses((status = 200, description = "One address or CIDR block per line", content_type = "text/plain")),
    security(("bearer" = []), ("session" = [])))]
async fn bans_txt(
    _user: CurrentUser,
    threats: web::Data<Threats>,
) -> Result<HttpResponse, AppError> {
    let now = threats.clock.now_ms();
    let active = threats
        .store
        .read(move |conn| super::repo::bans::active(conn, now))
        .await?;
    let mut lines: Vec<String> = active.into_iter().map(|b| b.ip).collect();
    lines.sort();
    lines.dedup();
    let mut body = lines.join("\n");
    if !body.is_empty() {
        body.push('\n');
    }
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(body))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct BanBody {
    /// An address or a CIDR block.
    ip: String,
    /// How long, e.g. `4h` (default 4h).
    #[serde(default, rename = "for")]
    for_: Option<String>,
    #[serde(default)]
    reason: Option<String>,
}

/// Bans an address or block (admins; audited). An existing ban of the same
/// target is lengthened instead.
#[utoipa::path(post, path = "/api/v1/bans", tag = "security", request_body = BanBody,
    responses((status = 201, description = "The ban", body = Ban), (status = 400, description = "Not an address, on the allowlist, or your own address")),
    security(("bearer" = []), ("session" = [])))]
async fn ban(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: BanBody = decode(&body)?;
    let order = Order {
        target: target(&b.ip)?,
        for_ms: duration_ms(b.for_.as_deref().unwrap_or("4h"), "for")?,
        reason: b.reason.unwrap_or_default(),
    };
    let ban = threats.ban(order, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::Created().json(ban))
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct TargetBody {
    ip: String,
}

/// Lifts a ban now (admins; audited). 404 when the target is not banned.
#[utoipa::path(post, path = "/api/v1/bans/unban", tag = "security", request_body = TargetBody,
    responses((status = 204, description = "Lifted"), (status = 404, description = "Not banned")),
    security(("bearer" = []), ("session" = [])))]
async fn unban(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: TargetBody = decode(&body)?;
    threats
        .unban(target(&b.ip)?, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::NoContent().finish())
}

#[derive(Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
struct ExtendBody {
    ip: String,
    /// How much longer, e.g. `24h`.
    by: String,
}

/// Makes a ban in force last longer (admins; audited).
#[utoipa::path(post, path = "/api/v1/bans/extend", tag = "security", request_body = ExtendBody,
    responses((status = 200, description = "The ban", body = Ban), (status = 404, description = "Not banned")),
    security(("bearer" = []), ("session" = [])))]
async fn extend(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: ExtendBody = decode(&body)?;
    let ban = threats
        .extend(
            target(&b.ip)?,
            duration_ms(&b.by, "by")?,
            &actioned(&req, &admin),
        )
        .await?;
    Ok(HttpResponse::Ok().json(ban))
}
