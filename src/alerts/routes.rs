//! The alerting pages and JSON API. `/alerts` shows what fires, is pending
//! or is silenced, the rules in force, the channels (with "send test"), the
//! silences, the delivery log with its dead letters, and the history.
//! Viewers read everything; admins test channels, silence, and retry.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::{Deserialize, Serialize};

use super::Alerts;
use super::config::RuleConfig;
use super::model::Phase;
use super::repo::{EventRow, InstanceRow, OutboxRow, Silence};
use super::rules::Rule;
use super::service::Preview;
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, actioned, layout, page, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(
        overview_api,
        events_api,
        notifications_api,
        retry_api,
        silences_api,
        add_silence_api,
        end_silence_api,
        test_channel_api
    ),
    components(schemas(
        AlertsView,
        InstanceRow,
        EventRow,
        OutboxRow,
        Silence,
        SilenceBody,
        ChannelView
    ))
)]
pub struct AlertsApi;

pub fn routes(r: &mut Routes) {
    r.get("/alerts", Access::Viewer, alerts_page);
    r.post("/alerts/silences", Access::Admin, add_silence_form);
    r.post("/alerts/silences/{id}/end", Access::Admin, end_silence_form);
    r.post(
        "/alerts/channels/{id}/test",
        Access::Admin,
        test_channel_form,
    );
    r.post(
        "/alerts/notifications/{id}/retry",
        Access::Admin,
        retry_form,
    );
    r.get("/alerts/rules/{id}", Access::Viewer, rule_page);
    r.get("/api/v1/alerts", Access::Viewer, overview_api);
    r.post("/api/v1/alerts/preview", Access::Viewer, preview_api);
    r.get("/api/v1/alerts/events", Access::Viewer, events_api);
    r.get(
        "/api/v1/alerts/notifications",
        Access::Viewer,
        notifications_api,
    );
    r.post(
        "/api/v1/alerts/notifications/{id}/retry",
        Access::Admin,
        retry_api,
    );
    r.get("/api/v1/alerts/silences", Access::Viewer, silences_api);
    r.post("/api/v1/alerts/silences", Access::Admin, add_silence_api);
    r.post(
        "/api/v1/alerts/silences/{id}/end",
        Access::Admin,
        end_silence_api,
    );
    r.post(
        "/api/v1/alerts/channels/{id}/test",
        Access::Admin,
        test_channel_api,
    );
}

/// A channel as shown: never its URL's path or its secrets.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChannelView {
    pub id: String,
    pub kind: &'static str,
    /// Scheme and host only.
    pub target: String,
    /// `config` (managed in the file) or `ui`.
    pub origin: &'static str,
}

#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AlertsView {
    /// Firing and pending instances.
    pub instances: Vec<InstanceRow>,
    #[schema(value_type = Vec<Object>)]
    pub rules: Vec<Rule>,
    pub channels: Vec<ChannelView>,
}

fn channel_views(alerts: &Alerts) -> Vec<ChannelView> {
    alerts
        .defs()
        .channels
        .iter()
        .map(|c| ChannelView {
            id: c.id.clone(),
            kind: c.kind(),
            target: c.shown_target(),
            origin: c.origin,
        })
        .collect()
}

/// What fires and is pending now, the rules in force and the channels.
#[utoipa::path(get, path = "/api/v1/alerts", tag = "alerts",
    responses((status = 200, body = AlertsView)), security(("bearer" = []), ("session" = [])))]
async fn overview_api(_: CurrentUser, alerts: web::Data<Alerts>) -> Result<HttpResponse, AppError> {
    let (instances, ..) = alerts.snapshot().await?;
    Ok(HttpResponse::Ok().json(AlertsView {
        instances: instances
            .into_iter()
            .filter(|i| i.phase != Phase::Inactive)
            .collect(),
        rules: alerts.defs().rules.clone(),
        channels: channel_views(&alerts),
    }))
}

/// Would this rule fire now, and why? The body is a rule as written in
/// `[[alerts.rules]]` (JSON); nothing is saved.
#[utoipa::path(post, path = "/api/v1/alerts/preview", tag = "alerts", request_body = RuleConfig,
    responses((status = 200, body = Vec<Preview>), (status = 400, description = "The rule is not valid, and why")),
    security(("bearer" = []), ("session" = [])))]
async fn preview_api(
    _: CurrentUser,
    alerts: web::Data<Alerts>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let config: RuleConfig = serde_json::from_slice(&body)
        .map_err(|e| AppError::BadRequest(format!("The request body is not a rule: {e}")))?;
    let rule =
        Rule::from_config(&config, std::time::Duration::ZERO).map_err(AppError::BadRequest)?;
    Ok(HttpResponse::Ok().json(alerts.preview(&rule).await?))
}

#[derive(Template)]
#[template(path = "alerts/rule.html")]
struct RulePage {
    layout: Layout,
    rule: Rule,
    definition: String,
    preview: Vec<Preview>,
}

/// One rule: its definition and, live, whether it would fire now and why.
async fn rule_page(
    req: HttpRequest,
    user: CurrentUser,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let rule = alerts
        .defs()
        .rules
        .iter()
        .find(|r| r.id == *id)
        .cloned()
        .ok_or(AppError::NotFound)?;
    let preview = alerts.preview(&rule).await?;
    let data = RulePage {
        layout: layout(&format!("Rule {}", rule.id), &req, &user),
        definition: serde_json::to_string_pretty(&rule).unwrap_or_default(),
        rule,
        preview,
    };
    page(&data, false)
}

/// Every transition and notification, newest first (the last 200).
#[utoipa::path(get, path = "/api/v1/alerts/events", tag = "alerts",
    responses((status = 200, body = Vec<EventRow>)), security(("bearer" = []), ("session" = [])))]
async fn events_api(_: CurrentUser, alerts: web::Data<Alerts>) -> Result<HttpResponse, AppError> {
    let (_, events, ..) = alerts.snapshot().await?;
    Ok(HttpResponse::Ok().json(events))
}

#[derive(Deserialize)]
struct StatusQuery {
    status: Option<String>,
}

/// The delivery log, newest first; `status` = queued, sent or dead.
#[utoipa::path(get, path = "/api/v1/alerts/notifications", tag = "alerts",
    params(("status" = Option<String>, Query, description = "queued, sent or dead")),
    responses((status = 200, body = Vec<OutboxRow>), (status = 400, description = "An unknown status")),
    security(("bearer" = []), ("session" = [])))]
async fn notifications_api(
    _: CurrentUser,
    alerts: web::Data<Alerts>,
    q: web::Query<StatusQuery>,
) -> Result<HttpResponse, AppError> {
    let status = q.status.clone();
    if let Some(s) = &status
        && !["queued", "sent", "dead"].contains(&s.as_str())
    {
        return Err(AppError::BadRequest(format!(
            "status {s:?} is not one of queued, sent, dead"
        )));
    }
    let rows = alerts
        .store
        .read(move |c| super::repo::outbox(c, status.as_deref(), 500))
        .await?;
    Ok(HttpResponse::Ok().json(rows))
}

/// A dead letter queued again (admins; audited).
#[utoipa::path(post, path = "/api/v1/alerts/notifications/{id}/retry", tag = "alerts",
    responses((status = 204, description = "Queued again"), (status = 404, description = "No such dead letter")),
    security(("bearer" = []), ("session" = [])))]
async fn retry_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    alerts.retry(*id, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Silences still running.
#[utoipa::path(get, path = "/api/v1/alerts/silences", tag = "alerts",
    responses((status = 200, body = Vec<Silence>)), security(("bearer" = []), ("session" = [])))]
async fn silences_api(_: CurrentUser, alerts: web::Data<Alerts>) -> Result<HttpResponse, AppError> {
    let (_, _, silences, _) = alerts.snapshot().await?;
    Ok(HttpResponse::Ok().json(silences))
}

/// A new silence: what it covers, for how long, and why.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
pub struct SilenceBody {
    /// A rule id; empty = any rule.
    #[serde(default)]
    pub rule_id: String,
    /// A subject or its beginning (`check:homepage`); empty = any.
    #[serde(default)]
    pub subject: String,
    /// `name=value` of a rule label; empty = any.
    #[serde(default)]
    pub label: String,
    /// 1 minute to 90 days.
    pub minutes: i64,
    pub comment: String,
}

impl SilenceBody {
    fn silence(self) -> (Silence, i64) {
        let silence = Silence {
            id: 0,
            rule_id: self.rule_id.trim().to_string(),
            subject: self.subject.trim().to_string(),
            label: self.label.trim().to_string(),
            starts_ms: 0,
            ends_ms: 0,
            created_by: String::new(),
            comment: self.comment.trim().to_string(),
            created_ms: 0,
        };
        (silence, self.minutes)
    }
}

/// Starts a silence (admins; audited).
#[utoipa::path(post, path = "/api/v1/alerts/silences", tag = "alerts", request_body = SilenceBody,
    responses((status = 201, body = Silence), (status = 400, description = "A bad field, named")),
    security(("bearer" = []), ("session" = [])))]
async fn add_silence_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let b: SilenceBody = serde_json::from_slice(&body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })?;
    let (silence, minutes) = b.silence();
    let made = alerts
        .add_silence(silence, minutes, &actioned(&req, &admin), &admin.email)
        .await?;
    Ok(HttpResponse::Created().json(made))
}

/// Ends a silence now (admins; audited).
#[utoipa::path(post, path = "/api/v1/alerts/silences/{id}/end", tag = "alerts",
    responses((status = 204, description = "Ended"), (status = 404, description = "No such running silence")),
    security(("bearer" = []), ("session" = [])))]
async fn end_silence_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    alerts.end_silence(*id, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// Queues a test notification on a channel (admins; audited).
#[utoipa::path(post, path = "/api/v1/alerts/channels/{id}/test", tag = "alerts",
    responses((status = 202, description = "Queued"), (status = 404, description = "No such channel")),
    security(("bearer" = []), ("session" = [])))]
async fn test_channel_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    alerts.send_test(&id, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::Accepted().finish())
}

#[derive(Template)]
#[template(path = "alerts/index.html")]
struct AlertsPage {
    layout: Layout,
    csrf: String,
    is_admin: bool,
    firing: Vec<InstanceRow>,
    pending: Vec<InstanceRow>,
    silenced: Vec<(InstanceRow, i64)>,
    rules: Vec<Rule>,
    channels: Vec<ChannelView>,
    silences: Vec<Silence>,
    dead: Vec<OutboxRow>,
    deliveries: Vec<OutboxRow>,
    events: Vec<EventRow>,
    notice: Option<&'static str>,
}

impl AlertsPage {
    fn when(&self, ms: &i64) -> String {
        when(Some(*ms))
    }

    fn maybe_when(&self, ms: &Option<i64>) -> String {
        when(*ms)
    }

    fn rule_kind(&self, rule: &Rule) -> String {
        serde_json::to_value(&rule.kind)
            .ok()
            .and_then(|v| v.get("kind").and_then(|k| k.as_str()).map(String::from))
            .unwrap_or_default()
    }

    fn duration(&self, secs: &i64) -> String {
        if *secs == 0 {
            "–".into()
        } else {
            humantime::format_duration(std::time::Duration::from_secs(secs.unsigned_abs()))
                .to_string()
        }
    }

    fn summary_of(&self, row: &OutboxRow) -> String {
        serde_json::from_str::<super::channels::Notification>(&row.body)
            .map(|n| format!("[{}] {}: {}", n.notice, n.rule, n.summary))
            .unwrap_or_default()
    }
}

#[derive(Deserialize)]
struct PageQuery {
    done: Option<String>,
}

async fn alerts_page(
    req: HttpRequest,
    user: CurrentUser,
    alerts: web::Data<Alerts>,
    q: web::Query<PageQuery>,
) -> Result<HttpResponse, AppError> {
    let (instances, events, silences, outbox) = alerts.snapshot().await?;
    let now = alerts.clock.now_ms();
    let defs = alerts.defs();
    let rule_of = |id: &str| defs.rules.iter().find(|r| r.id == id);
    let mut firing = Vec::new();
    let mut pending = Vec::new();
    let mut silenced = Vec::new();
    for row in instances {
        let silence = rule_of(&row.rule_id).and_then(|rule| {
            silences
                .iter()
                .find(|s| super::silences::covers(s, rule, &row.subject, now))
                .map(|s| s.id)
        });
        match (row.phase, silence) {
            (Phase::Inactive, _) => {}
            (_, Some(id)) => silenced.push((row, id)),
            (Phase::Firing, None) => firing.push(row),
            (Phase::Pending, None) => pending.push(row),
        }
    }
    let (dead, deliveries): (Vec<_>, Vec<_>) = outbox.into_iter().partition(|r| r.status == "dead");
    let data = AlertsPage {
        layout: layout("Alerts", &req, &user),
        csrf: user.csrf().to_string(),
        is_admin: user.is_admin(),
        firing,
        pending,
        silenced,
        rules: alerts.defs().rules.clone(),
        channels: channel_views(&alerts),
        silences,
        dead,
        deliveries: deliveries.into_iter().take(50).collect(),
        events: events.into_iter().take(100).collect(),
        notice: match q.done.as_deref() {
            Some("silenced") => Some("Silence started."),
            Some("ended") => Some("Silence ended."),
            Some("tested") => Some("Test notification queued; see the delivery log."),
            Some("retried") => Some("Notification queued again."),
            Some("rule-deleted") => Some("Rule deleted."),
            Some("channel-added") => {
                Some("Channel added; its secrets are sealed and not shown again.")
            }
            Some("channel-deleted") => Some("Channel deleted."),
            Some("channel-updated") => Some("Channel saved."),
            _ => None,
        },
    };
    page(&data, false)
}

/// Every field has a default, so a request without the right is refused
/// (403) before a missing field is reported.
#[derive(Deserialize)]
#[serde(default)]
#[derive(Default)]
struct SilenceForm {
    rule_id: String,
    subject: String,
    label: String,
    minutes: String,
    comment: String,
}

async fn add_silence_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    Form(form): Form<SilenceForm>,
) -> Result<HttpResponse, AppError> {
    let minutes = form
        .minutes
        .trim()
        .parse()
        .map_err(|_| AppError::BadRequest("minutes must be a whole number".into()))?;
    let (silence, minutes) = SilenceBody {
        rule_id: form.rule_id,
        subject: form.subject,
        label: form.label,
        minutes,
        comment: form.comment,
    }
    .silence();
    alerts
        .add_silence(silence, minutes, &actioned(&req, &admin), &admin.email)
        .await?;
    Ok(see_other("/alerts?done=silenced#silences"))
}

#[derive(Deserialize)]
struct Empty {}

async fn end_silence_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<i64>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    alerts.end_silence(*id, &actioned(&req, &admin)).await?;
    Ok(see_other("/alerts?done=ended#silences"))
}

async fn test_channel_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    alerts.send_test(&id, &actioned(&req, &admin)).await?;
    Ok(see_other("/alerts?done=tested#deliveries"))
}

async fn retry_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<i64>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    alerts.retry(*id, &actioned(&req, &admin)).await?;
    Ok(see_other("/alerts?done=retried#deliveries"))
}
