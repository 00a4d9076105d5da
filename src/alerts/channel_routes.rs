//! Making and changing alert channels: the JSON API, the "Add a channel"
//! form on `/alerts` and `/alerts/channels/{id}/edit`. A channel's secrets
//! (its URL where the URL is the credential, the webhook secret, the bot
//! token, the SMTP password) are sealed at rest and never shown again; an
//! edit that leaves one empty keeps it. Admins only.

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::Alerts;
use super::config::ChannelConfig;
use super::edit_routes::{Empty, json, list, some};
use crate::auth::csrf::Form;
use crate::auth::{CurrentUser, RequireAdmin, actioned, layout, page, see_other};
use crate::config::Secret;
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

#[derive(utoipa::OpenApi)]
#[openapi(
    paths(create_channel_api, update_channel_api, delete_channel_api),
    components(schemas(ChannelConfig))
)]
pub struct AlertChannelsApi;

pub fn routes(r: &mut Routes) {
    use actix_web::http::Method;
    r.post("/alerts/channels", Access::Admin, create_channel_form);
    r.get(
        "/alerts/channels/{id}/edit",
        Access::Admin,
        edit_channel_page,
    );
    r.post("/alerts/channels/{id}", Access::Admin, update_channel_form);
    r.post(
        "/alerts/channels/{id}/delete",
        Access::Admin,
        delete_channel_form,
    );
    r.post("/api/v1/alerts/channels", Access::Admin, create_channel_api);
    r.add(
        Method::PUT,
        "/api/v1/alerts/channels/{id}",
        Access::Admin,
        update_channel_api,
    );
    r.add(
        Method::DELETE,
        "/api/v1/alerts/channels/{id}",
        Access::Admin,
        delete_channel_api,
    );
}

fn shown(channel: &super::channels::Channel) -> serde_json::Value {
    serde_json::json!({
        "id": channel.id,
        "kind": channel.kind(),
        "target": channel.shown_target(),
        "origin": channel.origin,
    })
}

/// Creates a channel (admins; audited). Secrets go inline (`url`, `secret`,
/// `bot_token`, `password`); they are sealed at rest and never shown again.
#[utoipa::path(post, path = "/api/v1/alerts/channels", tag = "alerts", request_body = ChannelConfig,
    responses((status = 201, description = "Created"), (status = 400, description = "A bad field, named"), (status = 409, description = "The id is taken")),
    security(("bearer" = []), ("session" = [])))]
async fn create_channel_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let channel = alerts
        .add_channel(json(&body)?, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Created().json(shown(&channel)))
}

/// Changes a channel made here (admins; audited). The body is a channel as
/// for creating one; its `id` and `kind` are those of the path's channel
/// (a different kind is refused). Secrets left out keep their stored
/// values, so the rules naming the channel keep sending to it.
#[utoipa::path(put, path = "/api/v1/alerts/channels/{id}", tag = "alerts", request_body = ChannelConfig,
    responses((status = 200, description = "Changed; the channel as in force"), (status = 400, description = "A bad field, named"), (status = 404, description = "No such channel"), (status = 409, description = "From the configuration file")),
    security(("bearer" = []), ("session" = [])))]
async fn update_channel_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    body: web::Bytes,
) -> Result<HttpResponse, AppError> {
    let channel = alerts
        .update_channel(&id, json(&body)?, &actioned(&req, &admin))
        .await?;
    Ok(HttpResponse::Ok().json(shown(&channel)))
}

/// Deletes a channel made here that no rule names (admins; audited).
#[utoipa::path(delete, path = "/api/v1/alerts/channels/{id}", tag = "alerts",
    responses((status = 204, description = "Deleted"), (status = 404, description = "No such channel"), (status = 409, description = "From the configuration file, or still named by a rule")),
    security(("bearer" = []), ("session" = [])))]
async fn delete_channel_api(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    alerts.delete_channel(&id, &actioned(&req, &admin)).await?;
    Ok(HttpResponse::NoContent().finish())
}

/// The channel form: every field text; the secret fields are never filled
/// in from what is stored.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(default)]
pub struct ChannelForm {
    id: String,
    kind: String,
    url: String,
    secret: String,
    priority: String,
    tags: String,
    bot_token: String,
    chat_id: String,
    smtp_host: String,
    smtp_port: String,
    tls: String,
    username: String,
    password: String,
    from: String,
    to: String,
}

impl ChannelForm {
    /// The stored entry's plain fields; the secret fields stay empty.
    fn of(c: &ChannelConfig) -> ChannelForm {
        let text = |v: &Option<String>| v.clone().unwrap_or_default();
        ChannelForm {
            id: c.id.clone(),
            kind: c.kind.clone(),
            priority: c.priority.map(|p| p.to_string()).unwrap_or_default(),
            tags: c.tags.join(", "),
            chat_id: text(&c.chat_id),
            smtp_host: text(&c.smtp_host),
            smtp_port: c.smtp_port.map(|p| p.to_string()).unwrap_or_default(),
            tls: text(&c.tls),
            username: text(&c.username),
            from: text(&c.from),
            to: c.to.join(", "),
            ..ChannelForm::default()
        }
    }

    fn entry(self) -> Result<ChannelConfig, AppError> {
        let secret = |t: &str| some(t).map(Secret::new);
        let number = |field: &str, t: &str| -> Result<Option<u16>, AppError> {
            some(t)
                .map(|t| {
                    t.parse::<u16>().map_err(|_| {
                        AppError::BadRequest(format!("{field} {t:?} is not a whole number"))
                    })
                })
                .transpose()
        };
        Ok(ChannelConfig {
            id: self.id.trim().to_string(),
            kind: self.kind.trim().to_string(),
            url: secret(&self.url),
            secret: secret(&self.secret),
            priority: number("priority", &self.priority)?
                .map(|p| u8::try_from(p).unwrap_or(u8::MAX)),
            tags: list(&self.tags),
            bot_token: secret(&self.bot_token),
            chat_id: some(&self.chat_id),
            smtp_host: some(&self.smtp_host),
            smtp_port: number("smtp_port", &self.smtp_port)?,
            tls: some(&self.tls),
            username: some(&self.username),
            password: secret(&self.password),
            from: some(&self.from),
            to: list(&self.to),
            ..ChannelConfig::default()
        })
    }
}

async fn create_channel_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    Form(form): Form<ChannelForm>,
) -> Result<HttpResponse, AppError> {
    alerts
        .add_channel(form.entry()?, &actioned(&req, &admin))
        .await?;
    Ok(see_other("/alerts?done=channel-added#channels"))
}

async fn delete_channel_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    Form(_): Form<Empty>,
) -> Result<HttpResponse, AppError> {
    alerts.delete_channel(&id, &actioned(&req, &admin)).await?;
    Ok(see_other("/alerts?done=channel-deleted#channels"))
}

/// Which secrets a stored channel has, so the edit form can say so.
#[derive(Default)]
struct SecretsSet {
    url: bool,
    secret: bool,
    bot_token: bool,
    password: bool,
}

#[derive(Template)]
#[template(path = "alerts/channel_form.html")]
struct ChannelFormPage {
    layout: Layout,
    csrf: String,
    form: ChannelForm,
    set: SecretsSet,
    error: Option<String>,
}

fn channel_page(
    req: &HttpRequest,
    user: &CurrentUser,
    form: ChannelForm,
    set: SecretsSet,
    error: Option<String>,
) -> Result<HttpResponse, AppError> {
    let failed = error.is_some();
    let data = ChannelFormPage {
        layout: layout("Edit channel", req, user),
        csrf: user.csrf().to_string(),
        form,
        set,
        error,
    };
    page(&data, failed)
}

/// The stored entry of a channel made here, or why it cannot be edited.
async fn editable(alerts: &Alerts, id: &str) -> Result<ChannelConfig, AppError> {
    let (entry, origin) = alerts.stored_channel(id).await?;
    if origin == super::defs::ORIGIN_CONFIG {
        return Err(super::edit::managed("channel", id));
    }
    Ok(entry)
}

fn secrets_of(c: &ChannelConfig) -> SecretsSet {
    SecretsSet {
        url: c.url.is_some(),
        secret: c.secret.is_some(),
        bot_token: c.bot_token.is_some(),
        password: c.password.is_some(),
    }
}

async fn edit_channel_page(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
) -> Result<HttpResponse, AppError> {
    let entry = editable(&alerts, &id).await?;
    channel_page(
        &req,
        &admin,
        ChannelForm::of(&entry),
        secrets_of(&entry),
        None,
    )
}

async fn update_channel_form(
    req: HttpRequest,
    RequireAdmin(admin): RequireAdmin,
    alerts: web::Data<Alerts>,
    id: web::Path<String>,
    Form(form): Form<ChannelForm>,
) -> Result<HttpResponse, AppError> {
    let outcome = match form.clone().entry() {
        Ok(entry) => {
            alerts
                .update_channel(&id, entry, &actioned(&req, &admin))
                .await
        }
        Err(e) => Err(e),
    };
    let message = match outcome {
        Ok(_) => return Ok(see_other("/alerts?done=channel-updated#channels")),
        Err(AppError::BadRequest(message) | AppError::Conflict(message)) => message,
        Err(e) => return Err(e),
    };
    // Shown again as typed, but with the stored id and kind and no secret.
    let stored = editable(&alerts, &id).await?;
    let shown = ChannelForm {
        id: stored.id.clone(),
        kind: stored.kind.clone(),
        url: String::new(),
        secret: String::new(),
        bot_token: String::new(),
        password: String::new(),
        ..form
    };
    channel_page(&req, &admin, shown, secrets_of(&stored), Some(message))
}
