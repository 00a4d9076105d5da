//! The audit trail for admins: the `/audit-trail` page (filters, newest first,
//! 50 a page), its streamed CSV export `/audit-trail.csv` with the same
//! filters, and `GET /api/v1/audit-trail` (`{"entries": [...], "next": id}`,
//! where `next` is the `before` of the following page). Reading only; a CSV
//! export is itself recorded as `trail.exported`.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::http::{Method, StatusCode};
use actix_web::web::{self, Bytes};
use actix_web::{HttpMessage, HttpRequest, HttpResponse, Responder};
use askama::Template;
use askama_web::WebTemplate;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::filter::{Filter, FilterQuery};
use super::model::{Actor, Entry, Outcome, Record, utc_text};
use super::{Trail, export, repo};
use crate::clock;
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::http::{ClientIp, RequestId};
use crate::store::Store;
use crate::web::{Layout, SignedInAdmin};

const PAGE_ROWS: u32 = 50;
const API_MAX_ROWS: u32 = 500;
const CSV_CHUNK_ROWS: u32 = 500;

/// Paging through newest-first results: rows with an id below `before`.
#[derive(Debug, Deserialize)]
struct Cursor {
    before: Option<i64>,
    limit: Option<u32>,
}

/// One row as the page shows it.
struct RowView {
    id: i64,
    time: String,
    actor: String,
    erased: bool,
    ip: String,
    user_agent: String,
    action: String,
    target: String,
    outcome: &'static str,
    details: String,
    request_id: String,
}

impl RowView {
    fn new(r: Record) -> RowView {
        let c = r.canonical;
        let actor = match (c.actor_kind.as_str(), &r.personal.email, c.actor_id) {
            ("user", Some(email), _) => email.clone(),
            ("user", None, Some(id)) => format!("user #{id}"),
            (kind, _, _) => kind.to_string(),
        };
        let mut details = c.details;
        if details == "{}" {
            details.clear();
        }
        if let Some(pii) = r.personal.details {
            if !details.is_empty() {
                details.push(' ');
            }
            details.push_str(&pii);
        }
        RowView {
            id: c.id,
            time: utc_text(c.ts_ms).replace('T', " "),
            actor,
            erased: r.erased_ms.is_some(),
            ip: r.personal.ip.unwrap_or_default(),
            user_agent: r.personal.user_agent.unwrap_or_default(),
            action: c.action,
            target: c.target.unwrap_or_default(),
            outcome: Outcome::parse(&c.outcome).map_or("", Outcome::as_str),
            details,
            request_id: c.request_id.unwrap_or_default(),
        }
    }
}

#[derive(Template, WebTemplate)]
#[template(path = "audit_trail/list.html")]
struct ListPage {
    layout: Layout,
    query: FilterQuery,
    outcomes: [&'static str; 3],
    actions: Vec<String>,
    error: Option<String>,
    rows: Vec<RowView>,
    older: Option<String>,
    newest: Option<String>,
    csv_href: String,
}

impl ListPage {
    fn is_outcome(&self, outcome: &str) -> bool {
        self.query.outcome == outcome
    }
}

/// `path?query`, or `path` alone when the query is empty.
fn with_query(path: &str, query: &str) -> String {
    if query.is_empty() {
        path.to_string()
    } else {
        format!("{path}?{query}")
    }
}

async fn list(
    req: HttpRequest,
    SignedInAdmin(admin): SignedInAdmin,
    store: web::Data<Store>,
    query: web::Query<FilterQuery>,
    cursor: web::Query<Cursor>,
) -> Result<impl Responder, AppError> {
    let query = query.into_inner();
    let filter = query.parse();
    let before = cursor.before;
    let lookup = filter.clone().ok();
    let (actions, mut records) = store
        .read(move |conn| {
            let records = match &lookup {
                Some(f) => repo::page(conn, f, before, PAGE_ROWS + 1)?,
                None => Vec::new(),
            };
            Ok((repo::actions(conn)?, records))
        })
        .await?;
    let more = records.len() > PAGE_ROWS as usize;
    records.truncate(PAGE_ROWS as usize);
    let filters = query.to_query();
    let older = records.last().filter(|_| more).map(|last| {
        let sep = if filters.is_empty() { "" } else { "&" };
        format!("/audit-trail?{filters}{sep}before={}", last.canonical.id)
    });
    let error = filter.err().map(|e| e.0);
    let status = if error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let page = ListPage {
        layout: Layout::new("Audit trail", req.path()).with_viewer(admin),
        csv_href: with_query("/audit-trail.csv", &filters),
        query,
        outcomes: Outcome::ALL.map(Outcome::as_str),
        actions,
        error,
        rows: records.into_iter().map(RowView::new).collect(),
        older,
        newest: before.map(|_| with_query("/audit-trail", &filters)),
    };
    Ok(page
        .customize()
        .with_status(status)
        .insert_header((header::CACHE_CONTROL, "no-store")))
}

fn parse(query: &FilterQuery) -> Result<Filter, AppError> {
    query.parse().map_err(|e| AppError::BadRequest(e.0))
}

/// State of a streamed export: the next page starts below `before`.
struct Stream {
    before: Option<i64>,
    first: bool,
    done: bool,
}

async fn csv_export(
    req: HttpRequest,
    SignedInAdmin(admin): SignedInAdmin,
    store: web::Data<Store>,
    trail: web::Data<Trail>,
    query: web::Query<FilterQuery>,
) -> Result<HttpResponse, AppError> {
    let filter = parse(&query)?;
    let entry = Entry::new(
        Actor::User {
            id: admin.id,
            email: admin.email.clone(),
        },
        "trail.exported",
        Outcome::Success,
    )
    .ip(req.extensions().get::<ClientIp>().map(|ip| ip.0))
    .user_agent(
        req.headers()
            .get(header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default(),
    )
    .request_id(
        req.extensions()
            .get::<RequestId>()
            .map(|r| r.as_str().to_owned()),
    )
    .detail("format", "csv")
    .detail("filters", query.to_query());
    let recorder = trail.get_ref().clone();
    let now = clock::now_ms();
    // A HEAD request downloads nothing, so it is not an export.
    if req.method() == Method::GET {
        store
            .write(move |conn| recorder.append(conn, now, &entry))
            .await?;
    }

    let store = store.into_inner();
    let start = Stream {
        before: None,
        first: true,
        done: false,
    };
    let body = futures_util::stream::try_unfold(start, move |state| {
        let (store, filter) = (store.clone(), filter.clone());
        async move {
            if state.done {
                return Ok(None);
            }
            let before = state.before;
            let records = store
                .read(move |conn| repo::page(conn, &filter, before, CSV_CHUNK_ROWS))
                .await?;
            let next = Stream {
                before: records.last().map(|r| r.canonical.id),
                first: false,
                done: records.len() < CSV_CHUNK_ROWS as usize,
            };
            let bytes = export::chunk(&records, state.first)?;
            Ok::<_, crate::store::StoreError>(Some((Bytes::from(bytes), next)))
        }
    });
    let day = utc_text(now).get(..10).unwrap_or_default().replace('-', "");
    Ok(HttpResponse::Ok()
        .content_type("text/csv; charset=utf-8")
        .insert_header(ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(format!(
                "watchpost-audit-trail-{day}.csv"
            ))],
        })
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .streaming(body))
}

#[derive(Serialize)]
struct ApiActor {
    kind: String,
    id: Option<i64>,
    email: Option<String>,
}

#[derive(Serialize)]
struct ApiEntry {
    id: i64,
    ts_ms: i64,
    time: String,
    actor: ApiActor,
    ip: Option<String>,
    user_agent: Option<String>,
    action: String,
    target: Option<String>,
    outcome: String,
    request_id: Option<String>,
    details: Value,
    pii_details: Value,
    erased_ms: Option<i64>,
    pii_digest: String,
    prev_hash: String,
    hash: String,
}

impl ApiEntry {
    fn new(r: Record) -> ApiEntry {
        let c = r.canonical;
        let json = |text: &str| serde_json::from_str(text).unwrap_or(Value::String(text.into()));
        ApiEntry {
            id: c.id,
            ts_ms: c.ts_ms,
            time: utc_text(c.ts_ms),
            actor: ApiActor {
                kind: c.actor_kind,
                id: c.actor_id,
                email: r.personal.email,
            },
            ip: r.personal.ip,
            user_agent: r.personal.user_agent,
            action: c.action,
            target: c.target,
            outcome: c.outcome,
            request_id: c.request_id,
            details: json(&c.details),
            pii_details: r.personal.details.as_deref().map_or(Value::Null, json),
            erased_ms: r.erased_ms,
            pii_digest: c.pii_digest,
            prev_hash: c.prev_hash,
            hash: r.hash,
        }
    }
}

#[derive(Serialize)]
struct ApiPage {
    entries: Vec<ApiEntry>,
    next: Option<i64>,
}

async fn api_list(
    _admin: SignedInAdmin,
    store: web::Data<Store>,
    query: web::Query<FilterQuery>,
    cursor: web::Query<Cursor>,
) -> Result<HttpResponse, AppError> {
    let filter = parse(&query)?;
    let limit = cursor.limit.unwrap_or(PAGE_ROWS).clamp(1, API_MAX_ROWS);
    let before = cursor.before;
    let mut records = store
        .read(move |conn| repo::page(conn, &filter, before, limit + 1))
        .await?;
    let more = records.len() > limit as usize;
    records.truncate(limit as usize);
    let next = records
        .last()
        .filter(|_| more)
        .map(|last| last.canonical.id);
    Ok(HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-store"))
        .json(ApiPage {
            entries: records.into_iter().map(ApiEntry::new).collect(),
            next,
        }))
}

pub fn routes(r: &mut Routes) {
    r.get("/audit-trail", Access::Admin, list);
    r.get("/audit-trail.csv", Access::Admin, csv_export);
    r.get("/api/v1/audit-trail", Access::Admin, api_list);
}
