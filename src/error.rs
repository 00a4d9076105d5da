//! The one error type at the HTTP boundary and the one place it becomes a
//! response. Handlers return `Result<_, AppError>`; [`render_errors`] (applied
//! by a middleware, see `http/mod.rs`) turns every error response — ours or
//! actix-web's own, such as a malformed body — into JSON
//! `{"error": "...", "request_id": "..."}` under `/api/` and an HTML page
//! elsewhere. 4xx carry a message for the user; 5xx are opaque and show the
//! request id, and their cause chain is logged once, here.

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::StatusCode;
use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpMessage, HttpResponse, ResponseError};
use askama::Template;

use crate::http::RequestId;
use crate::store::StoreError;
use crate::web::Layout;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("{0}")]
    BadRequest(String),
    #[error("Nothing is here. Check the address, or go back to the home page.")]
    NotFound,
    #[error("{0}")]
    PayloadTooLarge(String),
    #[error("Log in first: this needs an account. Send a session cookie or an API token.")]
    Unauthorized,
    #[error("The API token is invalid, expired or revoked. Create a new one on your account page.")]
    InvalidToken,
    /// 401 for a signed request whose signature was refused; says why.
    #[error("The signature was refused: {0}.")]
    SignatureRefused(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    /// 429 with `Retry-After` in whole seconds.
    #[error("Too many requests from your address. Wait {0} s, then try again.")]
    TooManyRequests(u64),
    /// A page that needs a login: 303 to `/login?next=<path>`.
    #[error("Log in to continue.")]
    LoginRequired(String),
    /// 303 to another page (e.g. the 2FA step that is still due).
    #[error("Continue at {0}.")]
    Redirect(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl From<StoreError> for AppError {
    fn from(e: StoreError) -> Self {
        AppError::Internal(anyhow::Error::new(e))
    }
}

impl ResponseError for AppError {
    fn status_code(&self) -> StatusCode {
        match self {
            AppError::BadRequest(_) => StatusCode::BAD_REQUEST,
            AppError::NotFound => StatusCode::NOT_FOUND,
            AppError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            AppError::Unauthorized | AppError::InvalidToken | AppError::SignatureRefused(_) => {
                StatusCode::UNAUTHORIZED
            }
            AppError::Forbidden(_) => StatusCode::FORBIDDEN,
            AppError::Conflict(_) => StatusCode::CONFLICT,
            AppError::TooManyRequests(_) => StatusCode::TOO_MANY_REQUESTS,
            AppError::LoginRequired(_) | AppError::Redirect(_) => StatusCode::SEE_OTHER,
            AppError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        let location = match self {
            AppError::LoginRequired(next) => {
                let next: String = url::form_urlencoded::byte_serialize(next.as_bytes()).collect();
                Some(format!("/login?next={next}"))
            }
            AppError::Redirect(to) => Some(to.clone()),
            _ => None,
        };
        if let AppError::TooManyRequests(seconds) = self {
            return HttpResponse::TooManyRequests()
                .insert_header((header::RETRY_AFTER, seconds.to_string()))
                .finish();
        }
        match location {
            Some(location) => HttpResponse::SeeOther()
                .insert_header((header::LOCATION, location))
                .finish(),
            // The body is written by `render_errors`, which knows the request.
            None => HttpResponse::build(self.status_code()).finish(),
        }
    }
}

/// What the user is told for an error response.
fn public_message(res: &ServiceResponse<impl MessageBody>) -> String {
    let status = res.status();
    if status.is_server_error() {
        return "Something went wrong on our side. If it keeps happening, give the administrator this request id.".into();
    }
    match res.response().error() {
        Some(e) => match e.as_error::<AppError>() {
            Some(app) => app.to_string(),
            None => e.to_string(),
        },
        None => status.canonical_reason().unwrap_or("Error").to_string(),
    }
}

fn log_server_error(res: &ServiceResponse<impl MessageBody>) {
    let Some(e) = res.response().error() else {
        return;
    };
    let chain = match e.as_error::<AppError>() {
        Some(AppError::Internal(cause)) => format!("{cause:#}"),
        _ => e.to_string(),
    };
    tracing::error!(status = res.status().as_u16(), error = %chain, "request failed");
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    layout: Layout,
    status: u16,
    reason: &'a str,
    message: &'a str,
    request_id: &'a str,
}

/// Renders an error response (one carrying an error) for its audience and
/// passes every other response through; applied to each response by the
/// `RenderErrors` middleware.
pub fn render_errors<B: MessageBody>(res: ServiceResponse<B>) -> ServiceResponse<EitherBody<B>> {
    let status = res.status();
    if res.response().error().is_none() || !status.is_client_error() && !status.is_server_error() {
        return res.map_into_left_body();
    }
    if status.is_server_error() {
        log_server_error(&res);
    }
    let message = public_message(&res);
    let request_id = res
        .request()
        .extensions()
        .get::<RequestId>()
        .map(|r| r.as_str().to_owned())
        .unwrap_or_default();
    let path = res.request().path();
    let (content_type, body) = if path.starts_with("/api/") {
        let body = serde_json::json!({ "error": message, "request_id": request_id }).to_string();
        ("application/json", body)
    } else {
        let page = ErrorPage {
            layout: Layout::new(status.canonical_reason().unwrap_or("Error"), path),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("Error"),
            message: &message,
            request_id: &request_id,
        };
        let body = page.render().unwrap_or_else(|_| message.clone());
        ("text/html; charset=utf-8", body)
    };
    let (req, mut response) = res.into_parts();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    let response = response.set_body(body).map_into_boxed_body();
    ServiceResponse::new(req, response).map_into_right_body()
}
