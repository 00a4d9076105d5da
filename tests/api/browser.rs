//! A minimal browser for the accounts tests: keeps cookies, reads the CSRF
//! token from forms, logs in, and can pretend to come from another address
//! through `X-Forwarded-For` (honoured only when the test trusts loopback).

use std::collections::BTreeMap;
use std::sync::Mutex;

use reqwest::header::{COOKIE, SET_COOKIE};
use reqwest::{Method, Response};
use serde_json::Value;

use crate::helpers::{TestApp, spawn_app_with};

pub const ADMIN_EMAIL: &str = "admin@example.com";
pub const ADMIN_PASSWORD: &str = "violet tractor hums beneath granite skies";
pub const VIEWER_EMAIL: &str = "viewer@example.com";
pub const VIEWER_PASSWORD: &str = "seven lanterns drift over quiet harbours";

pub struct Browser {
    client: reqwest::Client,
    base: String,
    cookies: Mutex<BTreeMap<String, String>>,
    forwarded_for: Option<String>,
}

impl Browser {
    pub fn new(app: &TestApp) -> Browser {
        Browser {
            client: app.client.clone(),
            base: app.url.clone(),
            cookies: Mutex::default(),
            forwarded_for: None,
        }
    }

    /// A browser whose requests carry `X-Forwarded-For: ip`.
    pub fn from_ip(app: &TestApp, ip: &str) -> Browser {
        Browser {
            forwarded_for: Some(ip.to_string()),
            ..Browser::new(app)
        }
    }

    pub fn cookie(&self, name: &str) -> Option<String> {
        self.cookies.lock().unwrap().get(name).cloned()
    }

    pub fn set_cookie(&self, name: &str, value: &str) {
        self.cookies
            .lock()
            .unwrap()
            .insert(name.to_string(), value.to_string());
    }

    pub fn session(&self) -> Option<String> {
        self.cookie("wp_session")
    }

    pub async fn send(
        &self,
        method: Method,
        path: &str,
        build: impl FnOnce(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
    ) -> Response {
        let mut req = self.client.request(method, format!("{}{path}", self.base));
        let cookies = self
            .cookies
            .lock()
            .unwrap()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("; ");
        if !cookies.is_empty() {
            req = req.header(COOKIE, cookies);
        }
        if let Some(ip) = &self.forwarded_for {
            req = req.header("x-forwarded-for", ip);
        }
        let res = build(req).send().await.unwrap();
        let mut jar = self.cookies.lock().unwrap();
        for value in res.headers().get_all(SET_COOKIE) {
            let text = value.to_str().unwrap();
            let pair = text.split(';').next().unwrap();
            let (name, value) = pair.split_once('=').unwrap();
            if value.is_empty() || text.contains("Max-Age=0") {
                jar.remove(name);
            } else {
                jar.insert(name.to_string(), value.to_string());
            }
        }
        res
    }

    pub async fn get(&self, path: &str) -> Response {
        self.send(Method::GET, path, |r| r).await
    }

    pub async fn post_form(&self, path: &str, fields: &[(&str, &str)]) -> Response {
        let fields: Vec<(String, String)> = fields
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.send(Method::POST, path, |r| r.form(&fields)).await
    }

    /// Reads the `csrf` hidden field of the page at `path`.
    pub async fn csrf_of(&self, path: &str) -> String {
        let body = self.get(path).await.text().await.unwrap();
        csrf_in(&body).unwrap_or_else(|| panic!("no csrf field on {path}: {body}"))
    }

    /// Posts a form with the CSRF token of the page it lives on.
    pub async fn submit(&self, page: &str, action: &str, fields: &[(&str, &str)]) -> Response {
        let csrf = self.csrf_of(page).await;
        let mut all = vec![("csrf", csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_form(action, &all).await
    }

    pub async fn login(&self, email: &str, password: &str) -> Response {
        self.submit(
            "/login",
            "/login",
            &[("email", email), ("password", password)],
        )
        .await
    }

    /// `GET /api/v1/me` as JSON.
    pub async fn me(&self) -> Value {
        let res = self.get("/api/v1/me").await;
        assert_eq!(res.status(), 200, "not logged in");
        res.json().await.unwrap()
    }

    /// A JSON call with the session's CSRF token in `X-CSRF-Token`.
    pub async fn api(&self, method: Method, path: &str, body: Value) -> Response {
        let csrf = self.me().await["csrf_token"].as_str().unwrap().to_string();
        self.send(method, path, |r| r.header("x-csrf-token", csrf).json(&body))
            .await
    }
}

pub fn csrf_in(html: &str) -> Option<String> {
    let at = html.find("name=\"csrf\" value=\"")? + "name=\"csrf\" value=\"".len();
    let end = html[at..].find('"')?;
    Some(html[at..at + end].to_string())
}

/// An app whose first admin was created from the configuration, and a
/// browser logged in as that admin.
pub async fn app_with_admin() -> (TestApp, Browser) {
    app_with_admin_and(|_| {}).await
}

pub async fn app_with_admin_and(
    tweak: impl FnOnce(&mut watchpost::config::Config),
) -> (TestApp, Browser) {
    let app = spawn_app_with(|c| {
        c.admin_email = Some(ADMIN_EMAIL.into());
        c.admin_password = Some(watchpost::config::Secret::new(ADMIN_PASSWORD));
        tweak(c);
    })
    .await;
    let admin = Browser::new(&app);
    let res = admin.login(ADMIN_EMAIL, ADMIN_PASSWORD).await;
    assert_eq!(res.status(), 303, "the admin logs in");
    (app, admin)
}

/// Creates a user through the admin API.
pub async fn add_user(admin: &Browser, email: &str, role: &str, password: &str) -> i64 {
    let res = admin
        .api(
            Method::POST,
            "/api/v1/users",
            serde_json::json!({ "email": email, "role": role, "password": password }),
        )
        .await;
    assert_eq!(res.status(), 201, "{}", res.text().await.unwrap());
    res.json::<Value>().await.unwrap()["id"].as_i64().unwrap()
}

/// A logged-in viewer of `app`.
pub async fn viewer(app: &TestApp, admin: &Browser) -> Browser {
    add_user(admin, VIEWER_EMAIL, "viewer", VIEWER_PASSWORD).await;
    let viewer = Browser::new(app);
    assert_eq!(
        viewer.login(VIEWER_EMAIL, VIEWER_PASSWORD).await.status(),
        303
    );
    viewer
}

/// Audit rows of `action`, newest first, read straight from the database.
pub fn audit_rows(app: &TestApp, action: &str) -> Vec<(String, String, Option<String>)> {
    let conn = rusqlite::Connection::open(app.db_path()).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT action, outcome, target FROM audit_trail WHERE action = ?1 ORDER BY id DESC",
        )
        .unwrap();
    stmt.query_map([action], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}
