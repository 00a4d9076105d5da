//! Small things every accounts page and API handler needs: where the request
//! came from, the page layout for the logged-in user, local redirect targets,
//! and readable times.

use actix_web::http::{StatusCode, header};
use actix_web::{HttpMessage, HttpRequest, HttpResponse};

use super::extract::CurrentUser;
use super::session::Origin;
use crate::error::AppError;
use crate::http::{ClientIp, RequestId};
use crate::web::{Layout, Viewer};

const MAX_USER_AGENT: usize = 256;

pub fn origin(req: &HttpRequest) -> Origin {
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(|c| c.0.to_string())
        .unwrap_or_default();
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .map(|v| {
            String::from_utf8_lossy(v.as_bytes())
                .chars()
                .take(MAX_USER_AGENT)
                .collect()
        })
        .unwrap_or_default();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.as_str().to_owned());
    Origin {
        ip,
        user_agent,
        request_id,
    }
}

/// The layout of a page seen by `user`.
/// Who made a request, for the audit rows of what it changes.
pub fn actioned(req: &HttpRequest, user: &CurrentUser) -> crate::audit_trail::Actioned {
    use actix_web::HttpMessage;
    let ext = req.extensions();
    crate::audit_trail::Actioned {
        actor: crate::audit_trail::Actor::User {
            id: user.id,
            email: user.email.clone(),
        },
        ip: ext.get::<crate::http::ClientIp>().map(|c| c.0),
        request_id: ext
            .get::<crate::http::RequestId>()
            .map(|r| r.as_str().to_owned()),
    }
}

pub fn layout(title: &str, req: &HttpRequest, user: &CurrentUser) -> Layout {
    Layout::new(title, req.path()).with_viewer(Viewer {
        id: user.id,
        email: user.email.clone(),
        name: user.display_name.clone(),
        is_admin: user.is_admin(),
        csrf: user.csrf().to_string(),
    })
}

/// Decodes a JSON request body. API handlers take the body as bytes and
/// decode it after their user extractor has run, so a caller without the
/// right is told 403 whatever they sent.
pub fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, AppError> {
    serde_json::from_slice(body).map_err(|e| {
        AppError::BadRequest(format!(
            "The request body is not the JSON this call expects: {e}"
        ))
    })
}

/// A rendered page that is never cached: 400 when it shows a form error
/// (`failed`), else 200.
pub fn page(page: &impl askama::Template, failed: bool) -> Result<HttpResponse, AppError> {
    let status = if failed {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    page_with_status(page, status)
}

pub fn page_with_status(
    page: &impl askama::Template,
    status: StatusCode,
) -> Result<HttpResponse, AppError> {
    let body = page.render().map_err(|e| AppError::Internal(e.into()))?;
    Ok(HttpResponse::build(status)
        .content_type("text/html; charset=utf-8")
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .body(body))
}

/// `next` if it is a path on this site, else `/` (no open redirects).
pub fn local_target(next: Option<&str>) -> String {
    match next {
        Some(n) if n.starts_with('/') && !n.starts_with("//") && !n.contains('\\') => n.to_string(),
        _ => "/".to_string(),
    }
}

pub fn see_other(location: &str) -> HttpResponse {
    HttpResponse::SeeOther()
        .insert_header((header::LOCATION, location.to_string()))
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .finish()
}

/// A UTC time for people: `2026-12-01 20:15 UTC`, or `never`.
pub fn when(ms: Option<i64>) -> String {
    let Some(ms) = ms else {
        return "never".into();
    };
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(test)]
mod tests {
    use super::local_target;

    #[test]
    fn only_local_paths_are_redirect_targets() {
        assert_eq!(local_target(Some("/users?q=a")), "/users?q=a");
        assert_eq!(local_target(Some("//evil.example")), "/");
        assert_eq!(local_target(Some("https://evil.example")), "/");
        assert_eq!(local_target(Some("/\\evil.example")), "/");
        assert_eq!(local_target(None), "/");
    }
}
