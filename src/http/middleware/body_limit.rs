//! Layer 8: request bodies are capped per route class (`/api/` or pages). A
//! declared `Content-Length` over the limit is refused with 413 before any
//! handler runs; a chunked body is counted as it streams and cut off at the
//! limit, which the extractors report as 413 too.

use std::pin::Pin;

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, ServiceRequest, ServiceResponse};
use actix_web::error::PayloadError;
use actix_web::http::header;
use actix_web::middleware::Next;
use actix_web::web::Bytes;
use actix_web::web::Data;
use futures_util::{Stream, StreamExt};

type BodyStream = Pin<Box<dyn Stream<Item = Result<Bytes, PayloadError>>>>;

use crate::error::AppError;
use crate::http::HttpSettings;

pub async fn body_limit(
    mut req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<EitherBody<impl MessageBody>>, actix_web::Error> {
    let limit = req
        .app_data::<Data<HttpSettings>>()
        .map_or(64 * 1024, |s| s.body_limit_for(req.path()));
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => {
            let error = AppError::PayloadTooLarge(format!(
                "The request body is {length} bytes; the limit here is {limit} bytes. Send less, or raise server.body_limit."
            ));
            return Ok(req.error_response(error).map_into_right_body());
        }
        Some(_) => {}
        None if req.headers().contains_key(header::TRANSFER_ENCODING) => {
            let mut seen = 0u64;
            let limited = req.take_payload().map(move |chunk| {
                let chunk = chunk?;
                seen += chunk.len() as u64;
                if seen > limit {
                    Err(PayloadError::Overflow)
                } else {
                    Ok(chunk)
                }
            });
            req.set_payload(Payload::from(Box::pin(limited) as BodyStream));
        }
        None => {}
    }
    Ok(next.call(req).await?.map_into_left_body())
}
