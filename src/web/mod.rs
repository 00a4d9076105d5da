//! What every page shares: the base layout and its navigation, the embedded
//! static assets, SVG charts, unit formatting, and the overview page with its
//! registry of cards.

mod assets;
pub mod chart;
mod home;
mod layout;
pub mod overview;
pub mod units;

use crate::http::routes::Routes;

pub use home::ProcessStart;
pub use layout::{Identify, IdentifyFuture, Layout, NAV, NavItem, SignedIn, SignedInAdmin, Viewer};
pub use overview::{Card, CardSource, CardsFuture, Overview};

pub fn routes(r: &mut Routes) {
    assets::routes(r);
    home::routes(r);
}
