//! The Sentry-compatible ingest endpoints: `POST /api/{project_id}/envelope/`
//! and the legacy `/store/`, with `OPTIONS` and CORS for browser SDKs.
//! Answers as SDKs expect: `200 {"id"}`, or `{"detail"}` with 400, 401,
//! 403, 413, 429 (with `Retry-After` and
//! `X-Sentry-Rate-Limits`) or 503 — never a 500 for what a client sent.

use actix_web::http::{Method, header};
use actix_web::{HttpRequest, HttpResponse, web};

use super::service::{Errors, Refused, Request};
use crate::http::routes::{Access, Routes};

pub fn routes(r: &mut Routes) {
    super::pages::routes(r);
    super::api::routes(r);
    r.post("/api/{project_id}/envelope/", Access::Public, envelope);
    r.post("/api/{project_id}/store/", Access::Public, store);
    r.add(
        Method::OPTIONS,
        "/api/{project_id}/envelope/",
        Access::Public,
        preflight,
    );
    r.add(
        Method::OPTIONS,
        "/api/{project_id}/store/",
        Access::Public,
        preflight,
    );
}

const ALLOW_HEADERS: &str =
    "Content-Type, X-Sentry-Auth, Content-Encoding, sentry-trace, baggage, Authorization";

fn cors(mut res: HttpResponse) -> HttpResponse {
    let headers = res.headers_mut();
    headers.insert(
        header::ACCESS_CONTROL_ALLOW_ORIGIN,
        header::HeaderValue::from_static("*"),
    );
    headers.insert(
        header::ACCESS_CONTROL_EXPOSE_HEADERS,
        header::HeaderValue::from_static("X-Sentry-Rate-Limits, Retry-After"),
    );
    res
}

async fn preflight() -> HttpResponse {
    cors(
        HttpResponse::Ok()
            .insert_header((header::ACCESS_CONTROL_ALLOW_METHODS, "POST, OPTIONS"))
            .insert_header((header::ACCESS_CONTROL_ALLOW_HEADERS, ALLOW_HEADERS))
            .insert_header((header::ACCESS_CONTROL_MAX_AGE, "3600"))
            .finish(),
    )
}

fn detail(status: actix_web::http::StatusCode, detail: &str) -> HttpResponse {
    cors(HttpResponse::build(status).json(serde_json::json!({ "detail": detail })))
}

async fn ingest(
    req: HttpRequest,
    errors: web::Data<Errors>,
    project: web::Path<String>,
    body: web::Bytes,
    legacy_store: bool,
) -> HttpResponse {
    use actix_web::http::StatusCode;
    let Ok(project_id) = project.parse::<i64>() else {
        return detail(
            StatusCode::BAD_REQUEST,
            "the project id in the URL must be an integer",
        );
    };
    let header_text = |name: header::HeaderName| {
        req.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    let auth = header_text(header::HeaderName::from_static("x-sentry-auth"));
    let encoding = header_text(header::CONTENT_ENCODING);
    let outcome = errors
        .ingest(Request {
            project_id,
            legacy_store,
            query: req.query_string(),
            auth_header: auth.as_deref(),
            content_encoding: encoding.as_deref(),
            body: &body,
        })
        .await;
    match outcome {
        Ok(id) => cors(HttpResponse::Ok().json(serde_json::json!({ "id": id }))),
        Err(Refused::Bad(why)) => detail(StatusCode::BAD_REQUEST, &why),
        Err(Refused::NoKey) => detail(
            StatusCode::UNAUTHORIZED,
            "no sentry_key: send it in the query string, X-Sentry-Auth or the envelope's dsn",
        ),
        Err(Refused::WrongKey) => detail(
            StatusCode::FORBIDDEN,
            "the key is not an active key of this project",
        ),
        Err(Refused::TooLarge(why)) => detail(StatusCode::PAYLOAD_TOO_LARGE, &why),
        Err(Refused::TooMany {
            retry_after_s,
            scope,
        }) => {
            let mut res = detail(
                StatusCode::TOO_MANY_REQUESTS,
                &format!("over the {scope} quota; send again in {retry_after_s} s"),
            );
            let headers = res.headers_mut();
            if let Ok(v) = header::HeaderValue::from_str(&retry_after_s.to_string()) {
                headers.insert(header::RETRY_AFTER, v);
            }
            if let Ok(v) = header::HeaderValue::from_str(&format!("{retry_after_s}::{scope}")) {
                headers.insert(header::HeaderName::from_static("x-sentry-rate-limits"), v);
            }
            res
        }
        Err(Refused::Unavailable) => detail(
            StatusCode::SERVICE_UNAVAILABLE,
            "the event could not be stored now; send it again",
        ),
    }
}

async fn envelope(
    req: HttpRequest,
    errors: web::Data<Errors>,
    project: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    ingest(req, errors, project, body, false).await
}

async fn store(
    req: HttpRequest,
    errors: web::Data<Errors>,
    project: web::Path<String>,
    body: web::Bytes,
) -> HttpResponse {
    ingest(req, errors, project, body, true).await
}
