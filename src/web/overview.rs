//! The overview's cards, as a registry: `app.rs` registers each feature's
//! card source in [`Overview`]; the home page asks every source for its
//! cards and shows them in registration order. This module knows no feature.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// One status card: a title, the current value, a line of detail, an
/// optional sparkline (SVG from [`super::chart::sparkline`]) and where to
/// look closer.
pub struct Card {
    pub title: String,
    pub value: String,
    pub detail: String,
    pub sparkline: Option<String>,
    pub href: &'static str,
}

pub type CardsFuture = Pin<Box<dyn Future<Output = Vec<Card>> + Send>>;

/// A feature's cards, computed when the overview is shown.
pub type CardSource = Arc<dyn Fn() -> CardsFuture + Send + Sync>;

/// Every registered source, in display order.
#[derive(Default, Clone)]
pub struct Overview(pub Vec<CardSource>);

impl Overview {
    pub async fn cards(&self) -> Vec<Card> {
        let mut cards = Vec::new();
        for source in &self.0 {
            cards.extend(source().await);
        }
        cards
    }
}
