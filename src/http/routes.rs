//! The route table. Features add their routes to a [`Routes`] list, each with
//! the access it declares; the list is then registered with actix-web. The
//! same list, built without a server, is what tests walk: every state-changing
//! route that is not declared public or self-service must refuse a viewer, so a
//! new route that forgets its `RequireAdmin` check fails the build.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::{FromRequest, Handler, Responder, web};

/// Who a route is meant for. Declared here, enforced by the handler's
/// extractors, and checked against each other by the route-table tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, logged in or not (health, login, the setup link, assets).
    Public,
    /// Any logged-in user, acting on their own account only.
    SelfService,
    /// Any logged-in user, read-only.
    Viewer,
    /// Admins only.
    Admin,
}

/// One entry of the table, as the tests see it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub method: Method,
    pub path: &'static str,
    pub access: Access,
}

/// Registers one service (a scope) with actix-web, later.
type AddService = Box<dyn FnOnce(&mut web::ServiceConfig)>;

#[derive(Default)]
pub struct Routes {
    table: Vec<RouteInfo>,
    routes: Vec<(&'static str, actix_web::Route)>,
    services: Vec<AddService>,
}

impl Routes {
    /// Adds `handler` for `method` on `path`.
    pub fn add<F, Args>(&mut self, method: Method, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.table.push(RouteInfo {
            method: method.clone(),
            path,
            access,
        });
        self.routes.push((path, web::method(method).to(handler)));
    }

    pub fn get<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args> + Clone,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::GET, path, access, handler.clone());
        self.add(Method::HEAD, path, access, handler);
    }

    pub fn post<F, Args>(&mut self, path: &'static str, access: Access, handler: F)
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.add(Method::POST, path, access, handler);
    }

    /// A service that is not a plain route (a scope of static files); it is
    /// read-only by contract and listed in the table under `paths`.
    pub fn service<S>(&mut self, path: &'static str, service: S)
    where
        S: HttpServiceFactory + 'static,
    {
        for method in [Method::GET, Method::HEAD] {
            self.table.push(RouteInfo {
                method,
                path,
                access: Access::Public,
            });
        }
        self.services
            .push(Box::new(move |cfg: &mut web::ServiceConfig| {
                cfg.service(service);
            }));
    }

    pub fn table(&self) -> &[RouteInfo] {
        &self.table
    }

    /// Hands every route to actix-web.
    pub fn register(self, cfg: &mut web::ServiceConfig) {
        for add in self.services {
            add(cfg);
        }
        for (path, route) in self.routes {
            cfg.route(path, route);
        }
    }
}
