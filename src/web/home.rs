//! The overview (`/`): the status cards every feature registered in
//! [`super::Overview`], then what this instance is (version, installation id,
//! when it was installed and started).

use actix_web::{HttpRequest, web};
use askama::Template;
use askama_web::WebTemplate;

use super::overview::{Card, Overview};
use super::{Layout, SignedIn};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::store::{Instance, Store, instance};

/// When this process started, in Unix milliseconds.
pub struct ProcessStart(pub i64);

#[derive(Template, WebTemplate)]
#[template(path = "home.html")]
struct HomePage {
    layout: Layout,
    cards: Vec<Card>,
    instance: Instance,
    installed: String,
    started: String,
}

async fn home(
    req: HttpRequest,
    SignedIn(viewer): SignedIn,
    store: web::Data<Store>,
    start: web::Data<ProcessStart>,
    overview: Option<web::Data<Overview>>,
) -> Result<HomePage, AppError> {
    let cards = match overview {
        Some(overview) => overview.cards().await,
        None => Vec::new(),
    };
    let instance = store
        .read(instance::load)
        .await?
        .ok_or_else(|| AppError::Internal(anyhow::anyhow!("the instance row is missing")))?;
    Ok(HomePage {
        layout: Layout::new("Overview", req.path()).with_viewer(viewer),
        cards,
        installed: super::units::utc_minute(instance.created_ms.div_euclid(1000)),
        started: super::units::utc_minute(start.0.div_euclid(1000)),
        instance,
    })
}

pub fn routes(r: &mut Routes) {
    r.get("/", Access::Viewer, home);
}
