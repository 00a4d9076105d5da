//! What every page shares: the base layout and its navigation, the embedded
//! static assets, and the home page.

mod assets;
mod home;
mod layout;

use crate::http::routes::Routes;

pub use home::ProcessStart;
pub use layout::{Identify, IdentifyFuture, Layout, NAV, NavItem, SignedIn, SignedInAdmin, Viewer};

pub fn routes(r: &mut Routes) {
    assets::routes(r);
    home::routes(r);
}
