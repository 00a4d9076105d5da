//! The security page: events per hour by kind (chart), the timeline with
//! filters, top offending addresses, bans in force (unban, extend, ban by
//! hand), lockouts (clear), sshd failures (top user names and addresses),
//! the watched logs' health, and the inbound webhooks. Viewers read; admins
//! change, each change audited.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::api::{actioned, duration_ms, filter, target};
use super::bans::Order;
use super::model::EVENT_KINDS;
use super::repo::events::EventRow;
use super::repo::hooks::Hook;
use super::service::Threats;
use super::views::{self, Summary};
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::series::{Bucket, Unit};
use crate::web::Layout;
use crate::web::chart::{COLOURS, Chart, Line};

pub fn routes(r: &mut Routes) {
    r.get("/security", Access::Viewer, security_page);
    r.post("/security/bans", Access::Admin, ban);
    r.post("/security/bans/unban", Access::Admin, unban);
    r.post("/security/bans/extend", Access::Admin, extend);
    r.post("/security/hooks", Access::Admin, create_hook);
    r.post("/security/hooks/{name}/delete", Access::Admin, delete_hook);
}

#[derive(Debug, Default, Deserialize)]
pub struct PageQuery {
    #[serde(default)]
    pub kind: String,
    #[serde(default)]
    pub ip: String,
    #[serde(default)]
    pub source: String,
    pub hours: Option<i64>,
    pub done: Option<String>,
}

#[derive(Template)]
#[template(path = "threats/security.html")]
struct SecurityPage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    query: PageQuery,
    hours: i64,
    kinds: &'static [&'static str],
    summary: Summary,
    chart: Option<String>,
    /// (colour class, kind, occurrences in the window), in the chart's order.
    legend: Vec<(usize, String, i64)>,
    events: Vec<EventRow>,
    hooks: Vec<Hook>,
    notice: Option<&'static str>,
    problem: Option<String>,
    /// A hook just created: (name, secret, url), shown once.
    created: Option<(String, String, String)>,
}

impl SecurityPage {
    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }

    fn when_opt(&self, ms: &Option<i64>) -> String {
        when(*ms)
    }
}

/// The kinds on the chart, in its line order, with their colour and total.
fn legend(summary: &Summary) -> Vec<(usize, String, i64)> {
    let mut kinds: Vec<&str> = summary
        .per_hour
        .iter()
        .map(|(_, k, _)| k.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    kinds
        .iter()
        .enumerate()
        .map(|(i, kind)| {
            let total = summary
                .per_hour
                .iter()
                .filter(|(_, k, _)| k == kind)
                .map(|(_, _, n)| n)
                .sum();
            (i % COLOURS, (*kind).to_owned(), total)
        })
        .collect()
}

/// One line per kind over the window's hours; hours without events are 0.
fn chart(summary: &Summary, now_ms: i64) -> Option<String> {
    if summary.per_hour.is_empty() {
        return None;
    }
    const HOUR: i64 = 3_600;
    let to = now_ms.div_euclid(1000);
    let from = to - summary.hours * HOUR;
    let first = from - from.rem_euclid(HOUR);
    let mut kinds: Vec<&str> = summary
        .per_hour
        .iter()
        .map(|(_, k, _)| k.as_str())
        .collect();
    kinds.sort_unstable();
    kinds.dedup();
    let lines: Vec<Line> = kinds
        .iter()
        .map(|kind| Line {
            label: (*kind).to_owned(),
            buckets: (0..)
                .map(|i| first + i * HOUR)
                .take_while(|ts| *ts <= to)
                .map(|ts| {
                    let n = summary
                        .per_hour
                        .iter()
                        .filter(|(h, k, _)| h.div_euclid(1000) == ts && k == kind)
                        .map(|(_, _, n)| *n)
                        .sum::<i64>();
                    Bucket::of(ts, n as f64)
                })
                .collect(),
            step: HOUR,
        })
        .collect();
    Some(
        Chart {
            title: "Security events per hour, by kind",
            unit: Unit::Count,
            from,
            to,
            lines: &lines,
            band: false,
        }
        .svg(),
    )
}

struct Extra {
    notice: Option<&'static str>,
    problem: Option<String>,
    created: Option<(String, String, String)>,
}

async fn render(
    req: &HttpRequest,
    user: &CurrentUser,
    threats: &Threats,
    query: PageQuery,
    extra: Extra,
) -> Result<HttpResponse, AppError> {
    let hours = query.hours.unwrap_or(24).clamp(1, 24 * 90);
    let f = filter(
        threats,
        Some(&query.kind),
        Some(&query.ip),
        Some(&query.source),
        Some(hours),
        Some(200),
    )?;
    let mut summary = views::summary(threats, hours).await?;
    if !user.is_admin() {
        summary.lockouts.clear();
    }
    let events = views::timeline(threats, f).await?;
    let hooks = if user.is_admin() {
        threats.hooks().await?
    } else {
        Vec::new()
    };
    let failed = extra.problem.is_some();
    let data = SecurityPage {
        layout: layout("Security", req, user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        chart: chart(&summary, threats.clock.now_ms()),
        legend: legend(&summary),
        hours,
        kinds: &EVENT_KINDS,
        query,
        summary,
        events,
        hooks,
        notice: extra.notice,
        problem: extra.problem,
        created: extra.created,
    };
    page(&data, failed)
}

async fn security_page(
    req: HttpRequest,
    user: CurrentUser,
    threats: web::Data<Threats>,
    query: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let query = query.into_inner();
    let notice = match query.done.as_deref() {
        Some("banned") => Some("Banned."),
        Some("unbanned") => Some("Ban lifted. The unban command, if any, runs within seconds."),
        Some("extended") => Some("Ban extended."),
        Some("hook-deleted") => Some("Hook deleted."),
        _ => None,
    };
    let extra = Extra {
        notice,
        problem: None,
        created: None,
    };
    render(&req, &user, &threats, query, extra).await
}

/// A refused change: the page again, with the reason.
async fn refused(
    req: &HttpRequest,
    user: &CurrentUser,
    threats: &Threats,
    e: AppError,
) -> Result<HttpResponse, AppError> {
    match e {
        AppError::BadRequest(m) | AppError::Conflict(m) => {
            let extra = Extra {
                notice: None,
                problem: Some(m),
                created: None,
            };
            render(req, user, threats, PageQuery::default(), extra).await
        }
        AppError::NotFound => {
            let extra = Extra {
                notice: None,
                problem: Some("That address or block is not banned now.".into()),
                created: None,
            };
            render(req, user, threats, PageQuery::default(), extra).await
        }
        other => Err(other),
    }
}

// Every field has a default, so an incomplete form reaches the handler
// (after the admin check) and is refused there with the reason.
#[derive(Deserialize)]
struct BanForm {
    #[serde(default)]
    ip: String,
    #[serde(default, rename = "for")]
    for_: String,
    #[serde(default)]
    reason: String,
}

async fn ban(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    Form(form): Form<BanForm>,
) -> Result<HttpResponse, AppError> {
    let length = if form.for_.trim().is_empty() {
        "4h"
    } else {
        form.for_.as_str()
    };
    let outcome = async {
        let order = Order {
            target: target(&form.ip)?,
            for_ms: duration_ms(length, "The length")?,
            reason: form.reason.clone(),
        };
        threats.ban(order, &actioned(&req, &admin)).await
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/security?done=banned#bans")),
        Err(e) => refused(&req, &admin, &threats, e).await,
    }
}

#[derive(Deserialize)]
struct TargetForm {
    #[serde(default)]
    ip: String,
    #[serde(default)]
    by: String,
}

async fn unban(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    Form(form): Form<TargetForm>,
) -> Result<HttpResponse, AppError> {
    let outcome = async {
        threats
            .unban(target(&form.ip)?, &actioned(&req, &admin))
            .await
    }
    .await;
    match outcome {
        Ok(()) => Ok(see_other("/security?done=unbanned#bans")),
        Err(e) => refused(&req, &admin, &threats, e).await,
    }
}

async fn extend(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    Form(form): Form<TargetForm>,
) -> Result<HttpResponse, AppError> {
    let by = if form.by.trim().is_empty() {
        "4h"
    } else {
        form.by.as_str()
    };
    let outcome = async {
        let by = duration_ms(by, "The extension")?;
        threats
            .extend(target(&form.ip)?, by, &actioned(&req, &admin))
            .await
    }
    .await;
    match outcome {
        Ok(_) => Ok(see_other("/security?done=extended#bans")),
        Err(e) => refused(&req, &admin, &threats, e).await,
    }
}

#[derive(Deserialize)]
struct HookForm {
    #[serde(default)]
    name: String,
}

async fn create_hook(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    Form(form): Form<HookForm>,
) -> Result<HttpResponse, AppError> {
    let name = form.name.trim().to_owned();
    match threats.create_hook(&name, &actioned(&req, &admin)).await {
        Ok(secret) => {
            let url = format!("{}/api/v1/hooks/{name}", threats.base_url());
            let extra = Extra {
                notice: Some("Hook created. Copy its secret now: it is not shown again."),
                problem: None,
                created: Some((name, secret, url)),
            };
            render(&req, &admin, &threats, PageQuery::default(), extra).await
        }
        Err(e) => refused(&req, &admin, &threats, e).await,
    }
}

#[derive(Deserialize)]
struct Empty {}

async fn delete_hook(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    threats: web::Data<Threats>,
    name: web::Path<String>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    match threats.delete_hook(&name, &actioned(&req, &admin)).await {
        Ok(()) => Ok(see_other("/security?done=hook-deleted#hooks")),
        Err(e) => refused(&req, &admin, &threats, e).await,
    }
}
