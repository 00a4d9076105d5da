//! Static assets embedded in the binary, served under `/assets/` with a strong
//! `ETag` (the file's SHA-256), `Cache-Control`, and `304 Not Modified` when
//! the browser already holds the same bytes.

use actix_web::http::header::{self, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use crate::error::AppError;

#[derive(rust_embed::RustEmbed)]
#[folder = "assets/"]
struct Assets;

/// Pages link assets with `?v=<version>`, so an upgrade fetches new files.
const CACHE_CONTROL: &str = "public, max-age=86400";

async fn asset(req: HttpRequest, path: web::Path<String>) -> Result<HttpResponse, AppError> {
    let file = Assets::get(&path).ok_or(AppError::NotFound)?;
    let etag = format!("\"{}\"", hex(&file.metadata.sha256_hash()[..16]));
    let matches = req
        .headers()
        .get_all(header::IF_NONE_MATCH)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .any(|tag| {
            let tag = tag.trim();
            tag == "*" || tag.trim_start_matches("W/") == etag
        });
    let mut response = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    response.insert_header((header::ETAG, etag)).insert_header((
        header::CACHE_CONTROL,
        HeaderValue::from_static(CACHE_CONTROL),
    ));
    if matches {
        return Ok(response.finish());
    }
    Ok(response
        .content_type(file.metadata.mimetype())
        .body(file.data.into_owned()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

pub fn routes(r: &mut crate::http::routes::Routes) {
    // A scope, so other requests are turned away by a prefix check, not a regex.
    r.service(
        "/assets/{path:.*}",
        web::scope("/assets")
            .route("/{path:.*}", web::get().to(asset))
            .route("/{path:.*}", web::head().to(asset)),
    );
}
