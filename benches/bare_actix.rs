//! The baseline for `benches/http.sh`: a bare actix-web server answering
//! `/health` with a fixed JSON body, no middleware. Watchpost's throughput is
//! reported as a ratio of this one's, measured in the same run.

use actix_web::{App, HttpResponse, HttpServer, web};

#[actix_web::main]
async fn main() -> std::io::Result<()> {
    let bind = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:8090".to_string());
    HttpServer::new(|| {
        App::new().route(
            "/health",
            web::get().to(|| async {
                HttpResponse::Ok().json(serde_json::json!({"status": "ok", "version": "bare"}))
            }),
        )
    })
    .bind(bind)?
    .run()
    .await
}
