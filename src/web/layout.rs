//! The base page layout's data. The navigation is a list: a feature adds its
//! pages by adding an entry to [`NAV`]; the layout template only loops over it.

pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
}

/// The main navigation, in display order.
pub const NAV: &[NavItem] = &[NavItem {
    label: "Home",
    href: "/",
}];

/// What `templates/base.html` needs from every page.
pub struct Layout {
    pub title: String,
    pub path: String,
    pub nav: &'static [NavItem],
    pub version: &'static str,
}

impl Layout {
    pub fn new(title: &str, path: &str) -> Self {
        Layout {
            title: title.to_string(),
            path: path.to_string(),
            nav: NAV,
            version: env!("CARGO_PKG_VERSION"),
        }
    }

    /// Whether `item` is the section the current page belongs to.
    pub fn is_current(&self, item: &NavItem) -> bool {
        match item.href {
            "/" => self.path == "/",
            href => self.path == href || self.path.starts_with(&format!("{href}/")),
        }
    }
}
