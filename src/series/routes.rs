//! The series JSON API: `GET /api/v1/series` lists every series with its
//! unit; `GET /api/v1/series/{name}?from=&to=&points=` returns one series as
//! `[ts, min, avg, max]` points. Any logged-in user (or read token) may read.

use actix_web::{HttpResponse, web};
use serde::{Deserialize, Serialize};

use super::{DEFAULT_POINTS, MAX_POINTS, SeriesInfo, Unit, parse_instant};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::store::Store;
use crate::web::SignedIn;

/// The widest range a query may cover.
const MAX_RANGE_S: i64 = 800 * 86_400;

#[derive(Debug, Deserialize)]
pub struct RangeQuery {
    from: Option<String>,
    to: Option<String>,
    points: Option<String>,
}

/// One series over a range.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeriesPoints {
    pub name: String,
    pub unit: Unit,
    pub label: String,
    /// The tier answering: `raw`, `1m` or `1h`.
    pub tier: String,
    /// Seconds each point covers.
    pub step: i64,
    /// `[ts, min, avg, max]`, oldest first; ts is the start of the span in Unix seconds.
    pub points: Vec<[f64; 4]>,
}

impl RangeQuery {
    pub fn new(from: Option<String>, to: Option<String>) -> Self {
        RangeQuery {
            from,
            to,
            points: None,
        }
    }

    /// The range in Unix seconds and the point budget; the last hour and
    /// [`DEFAULT_POINTS`] unless given.
    pub fn resolve(&self, now: i64) -> Result<(i64, i64, usize), AppError> {
        let bad = AppError::BadRequest;
        let to = self
            .to
            .as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(bad)?;
        let to = to.unwrap_or(now);
        let from = self
            .from
            .as_deref()
            .map(parse_instant)
            .transpose()
            .map_err(bad)?;
        let from = from.unwrap_or(to - 3600);
        if from >= to {
            return Err(AppError::BadRequest("from must be before to".into()));
        }
        if to - from > MAX_RANGE_S {
            return Err(AppError::BadRequest(
                "the range may cover at most 800 days".into(),
            ));
        }
        let points = match self.points.as_deref() {
            None => DEFAULT_POINTS,
            Some(p) => p
                .trim()
                .parse::<usize>()
                .ok()
                .filter(|p| (1..=MAX_POINTS).contains(p))
                .ok_or_else(|| {
                    AppError::BadRequest(format!("points must be a number from 1 to {MAX_POINTS}"))
                })?,
        };
        Ok((from, to, points))
    }
}

/// Every series, with its unit and label.
#[utoipa::path(
    get,
    path = "/api/v1/series",
    tag = "series",
    responses(
        (status = 200, description = "Every stored series", body = [SeriesInfo]),
        (status = 401, description = "No session or API token"),
    ),
    security(("bearer" = []), ("session" = []))
)]
async fn list(_: SignedIn, store: web::Data<Store>) -> Result<HttpResponse, AppError> {
    let series = store.read(super::repo::list).await?;
    Ok(HttpResponse::Ok().json(series))
}

/// One series over a range, from the coarsest tier that resolves it.
#[utoipa::path(
    get,
    path = "/api/v1/series/{name}",
    tag = "series",
    params(
        ("name" = String, Path, description = "Series name, as listed by /api/v1/series"),
        ("from" = Option<String>, Query, description = "Start: Unix seconds or RFC 3339; default one hour before `to`"),
        ("to" = Option<String>, Query, description = "End: Unix seconds or RFC 3339; default now"),
        ("points" = Option<usize>, Query, description = "At most this many points (1–10000, default 600)"),
    ),
    responses(
        (status = 200, description = "The series' points", body = SeriesPoints),
        (status = 400, description = "A malformed range or point count"),
        (status = 401, description = "No session or API token"),
        (status = 404, description = "No series has that name"),
    ),
    security(("bearer" = []), ("session" = []))
)]
async fn one(
    _: SignedIn,
    store: web::Data<Store>,
    name: web::Path<String>,
    query: web::Query<RangeQuery>,
) -> Result<HttpResponse, AppError> {
    let now = crate::clock::now_ms().div_euclid(1000);
    let (from, to, points) = query.resolve(now)?;
    let answer = super::query(&store, &name, from, to, points)
        .await?
        .ok_or(AppError::NotFound)?;
    let points = answer
        .buckets
        .iter()
        .map(|b| [b.ts as f64, b.min, b.avg(), b.max])
        .collect();
    Ok(HttpResponse::Ok().json(SeriesPoints {
        name: answer.info.name,
        unit: answer.info.unit,
        label: answer.info.label,
        tier: answer.tier.as_str().to_string(),
        step: answer.step,
        points,
    }))
}

/// This feature's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(list, one), components(schemas(SeriesInfo, SeriesPoints, Unit)))]
pub struct SeriesApi;

pub fn routes(r: &mut Routes) {
    r.get("/api/v1/series", Access::Viewer, list);
    r.get("/api/v1/series/{name}", Access::Viewer, one);
}
