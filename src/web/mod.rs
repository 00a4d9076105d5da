//! What every page shares: the base layout and its navigation, the embedded
//! static assets, and the home page.

mod assets;
mod home;
mod layout;

use actix_web::web;

pub use home::ProcessStart;
pub use layout::{Layout, NAV, NavItem};

pub fn routes(cfg: &mut web::ServiceConfig) {
    assets::routes(cfg);
    home::routes(cfg);
}
