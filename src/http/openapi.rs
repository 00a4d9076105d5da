//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of the JSON API,
//! merged at start from each feature's `utoipa` document (see `app.rs`).
//! It describes shapes only, so it is public; its version is the API's
//! (`v1`), not the binary's, so it is no version banner.

use actix_web::{HttpResponse, web};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ComponentsBuilder, OpenApi};

use crate::error::AppError;
use crate::http::routes::{Access, Routes};

/// The merged document, serialised once.
pub struct OpenApiDocument(pub String);

/// Merges the features' documents under one title, with the two ways to
/// authenticate: a bearer API token, or the session cookie.
pub fn document(parts: Vec<OpenApi>) -> Result<OpenApiDocument, AppError> {
    let mut doc = utoipa::openapi::OpenApiBuilder::new()
        .info(
            utoipa::openapi::InfoBuilder::new()
                .title("Watchpost API")
                .version("v1")
                .description(Some(
                    "The JSON API of a Watchpost instance. Authenticate with \
                     `Authorization: Bearer wp_…` (an API token from your account page) \
                     or a session cookie; state-changing cookie calls need `X-CSRF-Token`.",
                ))
                .build(),
        )
        .build();
    for part in parts {
        doc.merge(part);
    }
    let schemes = ComponentsBuilder::new()
        .security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        )
        .security_scheme(
            "session",
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::new("wp_session"))),
        )
        .build();
    match doc.components.as_mut() {
        Some(components) => components.security_schemes.extend(schemes.security_schemes),
        None => doc.components = Some(schemes),
    }
    let json = doc.to_json().map_err(|e| {
        AppError::Internal(anyhow::anyhow!("serialising the OpenAPI document: {e}"))
    })?;
    Ok(OpenApiDocument(json))
}

async fn openapi(doc: web::Data<OpenApiDocument>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("application/json")
        .body(doc.0.clone())
}

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/openapi.json", Access::Public, openapi);
}
