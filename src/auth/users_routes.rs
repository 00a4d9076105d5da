//! The users admin page, for admins only: list with search and filters and
//! counts at the top; create a user (with an initial password or a one-time
//! set-password link shown once); change role, disable or enable, reset 2FA,
//! revoke sessions, clear a lockout; bulk disable and bulk revoke. The erase
//! form posts to `crate::privacy` (it reaches beyond accounts).

use actix_web::{HttpRequest, HttpResponse, web};
use askama::Template;
use serde::Deserialize;

use super::accounts::{self, NewUser};
use super::audit::user_actor;
use super::csrf::Form;
use super::extract::{CurrentUser, RequireAdmin};
use super::model::{Role, User};
use super::repo::{self, UserCounts, UserFilter};
use super::state::Auth;
use super::web::{layout, origin, see_other, when};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};
use crate::web::Layout;

pub fn routes(r: &mut Routes) {
    r.get("/users", Access::Admin, users_page);
    r.post("/users", Access::Admin, create_user);
    r.post("/users/bulk", Access::Admin, bulk);
    r.post("/users/{id}/{action}", Access::Admin, user_action);
}

/// The list's filters, as they appear in the query string.
#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    pub q: String,
    #[serde(default)]
    pub role: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    pub twofa: String,
    pub done: Option<String>,
}

impl ListQuery {
    pub fn filter(&self) -> UserFilter {
        UserFilter {
            search: Some(self.q.trim().to_string()).filter(|q| !q.is_empty()),
            role: self.role.parse().ok(),
            disabled: match self.status.as_str() {
                "disabled" => Some(true),
                "active" => Some(false),
                _ => None,
            },
            totp: match self.twofa.as_str() {
                "on" => Some(true),
                "off" => Some(false),
                _ => None,
            },
        }
    }
}

pub struct UserRow {
    pub user: User,
    pub created: String,
    pub last_login: String,
    pub is_self: bool,
}

#[derive(Template)]
#[template(path = "auth/users.html")]
struct UsersPage {
    layout: Layout,
    csrf: String,
    counts: UserCounts,
    rows: Vec<UserRow>,
    query: ListQuery,
    notice: Option<&'static str>,
    error: Option<String>,
    /// The set-password link of a user just created, shown once.
    link: Option<(String, String)>,
}

async fn render_users(
    req: &HttpRequest,
    auth: &Auth,
    admin: &CurrentUser,
    query: ListQuery,
    error: Option<String>,
    link: Option<(String, String)>,
) -> Result<HttpResponse, AppError> {
    let filter = query.filter();
    let (counts, users) = auth
        .store
        .read(move |conn| Ok((repo::user_counts(conn)?, repo::list_users(conn, &filter)?)))
        .await?;
    let notice = match query.done.as_deref() {
        Some("created") => Some("User created."),
        Some("role") => Some("Role changed."),
        Some("disable") => Some("User disabled; their sessions were ended."),
        Some("enable") => Some("User enabled."),
        Some("reset-2fa") => {
            Some("Two-factor authentication reset; they will enrol again at their next login.")
        }
        Some("revoke-sessions") => Some("Sessions ended."),
        Some("clear-lockout") => Some("Lockout cleared."),
        Some("bulk") => Some("Done for the selected users."),
        Some("erased") => {
            Some("Personal data erased: the account is now an anonymous, disabled placeholder.")
        }
        _ => None,
    };
    let rows = users
        .into_iter()
        .map(|user| UserRow {
            created: when(Some(user.created_ms)),
            last_login: when(user.last_login_ms),
            is_self: user.id == admin.id,
            user,
        })
        .collect();
    let page = UsersPage {
        layout: layout("Users", req, admin),
        csrf: admin.csrf().to_string(),
        counts,
        rows,
        query,
        notice,
        error,
        link,
    };
    super::web::page(&page, page.error.is_some())
}

/// The users page with `error` at the top, for actions on users handled
/// outside this feature (privacy erasure).
pub async fn page_with_error(
    req: &HttpRequest,
    auth: &Auth,
    admin: &CurrentUser,
    error: String,
) -> Result<HttpResponse, AppError> {
    render_users(req, auth, admin, ListQuery::default(), Some(error), None).await
}

async fn users_page(
    req: HttpRequest,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    query: web::Query<ListQuery>,
) -> Result<HttpResponse, AppError> {
    render_users(&req, &auth, &admin, query.into_inner(), None, None).await
}

#[derive(Deserialize)]
struct CreateForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    /// Empty: send a one-time set-password link instead.
    #[serde(default)]
    password: String,
}

async fn create_user(
    req: HttpRequest,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    Form(form): Form<CreateForm>,
) -> Result<HttpResponse, AppError> {
    let role = match form.role.parse::<Role>() {
        Ok(role) => role,
        Err(e) => {
            return render_users(&req, &auth, &admin, ListQuery::default(), Some(e), None).await;
        }
    };
    let new = NewUser {
        email: form.email,
        name: form.name,
        role,
        password: Some(form.password).filter(|p| !p.is_empty()),
    };
    match accounts::create_user(
        &auth,
        user_actor(admin.id, &admin.email),
        &origin(&req),
        new,
    )
    .await
    {
        Ok(created) => match created.link {
            Some(link) => {
                let shown = Some((created.email, link));
                render_users(&req, &auth, &admin, ListQuery::default(), None, shown).await
            }
            None => Ok(see_other("/users?done=created")),
        },
        Err(AppError::BadRequest(e) | AppError::Conflict(e)) => {
            render_users(&req, &auth, &admin, ListQuery::default(), Some(e), None).await
        }
        Err(e) => Err(e),
    }
}

#[derive(Deserialize)]
struct ActionForm {
    #[serde(default)]
    role: String,
}

/// One action on one user: `role`, `disable`, `enable`, `reset-2fa`,
/// `revoke-sessions`, `clear-lockout`.
async fn user_action(
    req: HttpRequest,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    path: web::Path<(i64, String)>,
    Form(form): Form<ActionForm>,
) -> Result<HttpResponse, AppError> {
    let (id, action) = path.into_inner();
    let result = apply(&auth, &admin, &req, id, &action, &form.role).await;
    match result {
        Ok(()) => Ok(see_other(&format!("/users?done={action}"))),
        Err(AppError::BadRequest(e) | AppError::Conflict(e)) => {
            render_users(&req, &auth, &admin, ListQuery::default(), Some(e), None).await
        }
        Err(e) => Err(e),
    }
}

/// The admin actions on one user, shared with the JSON API.
pub async fn apply(
    auth: &Auth,
    admin: &CurrentUser,
    req: &HttpRequest,
    id: i64,
    action: &str,
    role: &str,
) -> Result<(), AppError> {
    let actor = user_actor(admin.id, &admin.email);
    let origin = origin(req);
    match action {
        "role" => {
            let role = role.parse().map_err(AppError::BadRequest)?;
            accounts::set_role(auth, actor, &origin, id, role).await
        }
        "disable" if id == admin.id => Err(AppError::Conflict(
            "You cannot disable your own account; ask another admin.".into(),
        )),
        "disable" => accounts::set_disabled(auth, actor, &origin, id, true).await,
        "enable" => accounts::set_disabled(auth, actor, &origin, id, false).await,
        "reset-2fa" => accounts::reset_2fa(auth, actor, &origin, id).await,
        "revoke-sessions" => {
            let keep = (id == admin.id)
                .then(|| admin.session_hash().map(str::to_string))
                .flatten();
            accounts::revoke_sessions(auth, actor, &origin, id, keep)
                .await
                .map(|_| ())
        }
        "clear-lockout" => accounts::clear_lockout(auth, actor, &origin, id).await,
        _ => Err(AppError::NotFound),
    }
}

async fn bulk(
    req: HttpRequest,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    Form(pairs): Form<Vec<(String, String)>>,
) -> Result<HttpResponse, AppError> {
    let action = pairs
        .iter()
        .find(|(k, _)| k == "action")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    let action = match action {
        "disable" => "disable",
        "revoke-sessions" => "revoke-sessions",
        _ => {
            let error =
                "Choose what to do with the selected users: disable or end sessions.".to_string();
            return render_users(&req, &auth, &admin, ListQuery::default(), Some(error), None)
                .await;
        }
    };
    let ids: Vec<i64> = pairs
        .iter()
        .filter(|(k, _)| k == "id")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    if ids.is_empty() {
        let error = "Select at least one user first.".to_string();
        return render_users(&req, &auth, &admin, ListQuery::default(), Some(error), None).await;
    }
    let mut problems = Vec::new();
    for id in ids {
        if let Err(e) = apply(&auth, &admin, &req, id, action, "").await {
            match e {
                AppError::BadRequest(m) | AppError::Conflict(m) => problems.push(m),
                AppError::NotFound => problems.push(format!("User {id} does not exist.")),
                other => return Err(other),
            }
        }
    }
    if problems.is_empty() {
        return Ok(see_other("/users?done=bulk"));
    }
    problems.dedup();
    render_users(
        &req,
        &auth,
        &admin,
        ListQuery::default(),
        Some(problems.join(" ")),
        None,
    )
    .await
}
