//! The base page layout's data. The navigation is a list: a feature adds its
//! pages by adding an entry to [`NAV`]; the layout template only loops over it,
//! showing admin-only entries to admins. Who is logged in reaches the layout
//! as a plain [`Viewer`] (this module knows nothing of accounts).

use std::future::Future;
use std::pin::Pin;

use actix_web::dev::Payload;
use actix_web::{FromRequest, HttpRequest, web};

pub struct NavItem {
    pub label: &'static str,
    pub href: &'static str,
    /// Shown only to admins.
    pub admin_only: bool,
}

/// The main navigation, in display order.
pub const NAV: &[NavItem] = &[
    NavItem {
        label: "Overview",
        href: "/",
        admin_only: false,
    },
    NavItem {
        label: "Performance",
        href: "/perf",
        admin_only: false,
    },
    NavItem {
        label: "Host",
        href: "/host",
        admin_only: false,
    },
    NavItem {
        label: "Checks",
        href: "/checks",
        admin_only: false,
    },
    NavItem {
        label: "Errors",
        href: "/errors",
        admin_only: false,
    },
    NavItem {
        label: "Alerts",
        href: "/alerts",
        admin_only: false,
    },
    NavItem {
        label: "Security",
        href: "/security",
        admin_only: false,
    },
    NavItem {
        label: "Users",
        href: "/users",
        admin_only: true,
    },
    NavItem {
        label: "Audit trail",
        href: "/audit-trail",
        admin_only: true,
    },
    NavItem {
        label: "Retention",
        href: "/settings/retention",
        admin_only: true,
    },
];

/// The logged-in person, as the header shows them (name, account link, and
/// the log-out form, which needs the session's CSRF token).
pub struct Viewer {
    pub id: i64,
    pub email: String,
    pub name: String,
    pub is_admin: bool,
    pub csrf: String,
}

/// What `templates/base.html` needs from every page.
pub struct Layout {
    pub title: String,
    pub path: String,
    pub nav: &'static [NavItem],
    pub version: &'static str,
    pub viewer: Option<Viewer>,
}

impl Layout {
    pub fn new(title: &str, path: &str) -> Self {
        Layout {
            title: title.to_string(),
            path: path.to_string(),
            nav: NAV,
            version: env!("CARGO_PKG_VERSION"),
            viewer: None,
        }
    }

    pub fn with_viewer(mut self, viewer: Viewer) -> Self {
        self.viewer = Some(viewer);
        self
    }

    /// Whether `item` is the section the current page belongs to.
    pub fn is_current(&self, item: &NavItem) -> bool {
        match item.href {
            "/" => self.path == "/",
            href => self.path == href || self.path.starts_with(&format!("{href}/")),
        }
    }

    /// Whether `item` is shown to whoever is looking (nothing for the logged out).
    pub fn shows(&self, item: &NavItem) -> bool {
        match &self.viewer {
            Some(v) => v.is_admin || !item.admin_only,
            None => false,
        }
    }
}

/// How a page learns who is looking, without this module knowing accounts:
/// the accounts feature registers its lookup as `web::Data<Identify>`, and a
/// page that takes [`SignedIn`] runs only for a logged-in person (anyone else
/// gets whatever the lookup answers: a redirect to the login page).
pub struct Identify(pub fn(HttpRequest) -> IdentifyFuture);

pub type IdentifyFuture = Pin<Box<dyn Future<Output = Result<Viewer, actix_web::Error>>>>;

/// The logged-in person looking at this page.
pub struct SignedIn(pub Viewer);

impl FromRequest for SignedIn {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<SignedIn, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        let lookup = req.app_data::<web::Data<Identify>>().map(|i| i.0);
        let req = req.clone();
        Box::pin(async move {
            match lookup {
                Some(identify) => identify(req).await.map(SignedIn),
                None => Err(actix_web::error::ErrorInternalServerError(
                    "no way to identify users is registered",
                )),
            }
        })
    }
}

/// A logged-in admin looking at this page; anyone else logged in gets 403.
/// For platform pages (the audit trail) that cannot name the accounts feature.
pub struct SignedInAdmin(pub Viewer);

impl FromRequest for SignedInAdmin {
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<SignedInAdmin, actix_web::Error>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let signed_in = SignedIn::from_request(req, payload);
        Box::pin(async move {
            let SignedIn(viewer) = signed_in.await?;
            if !viewer.is_admin {
                return Err(crate::error::AppError::Forbidden(
                    "This needs an admin account. Ask an admin if you need it done.".into(),
                )
                .into());
            }
            Ok(SignedInAdmin(viewer))
        })
    }
}
