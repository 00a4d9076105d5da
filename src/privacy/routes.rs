//! Erasure over HTTP, for admins: the users page's erase form
//! (`POST /users/{id}/erase`, CSRF, the person's email typed again as
//! confirmation) and `POST /api/v1/users/{id}/erase` (JSON counts). These
//! paths are registered before the accounts feature's `/users/{id}/{action}`.

use actix_web::{HttpRequest, HttpResponse, web};
use serde::Deserialize;

use super::{Erased, Person, Privacy};
use crate::auth::csrf::Form;
use crate::auth::{self, Auth, RequireAdmin, actioned, see_other};
use crate::error::AppError;
use crate::http::routes::{Access, Routes};

/// The erasure API's part of the OpenAPI document.
#[derive(utoipa::OpenApi)]
#[openapi(paths(erase_api), components(schemas(Erased)))]
pub struct PrivacyApi;

pub fn routes(r: &mut Routes) {
    r.post("/users/{id}/erase", Access::Admin, erase_page);
    r.post("/api/v1/users/{id}/erase", Access::Admin, erase_api);
}

#[derive(Deserialize)]
struct EraseForm {
    /// The person's email, typed again.
    #[serde(default)]
    confirm: String,
}

async fn erase_page(
    req: HttpRequest,
    privacy: web::Data<Privacy>,
    auth: web::Data<Auth>,
    RequireAdmin(admin): RequireAdmin,
    path: web::Path<i64>,
    Form(form): Form<EraseForm>,
) -> Result<HttpResponse, AppError> {
    let id = path.into_inner();
    let user = auth::accounts::user(&auth, id).await?;
    if !form.confirm.trim().eq_ignore_ascii_case(&user.email) {
        let error = format!(
            "Nothing was erased: type the email of user #{id} exactly, to confirm that it is the person to erase."
        );
        return auth::users_page_with_error(&req, &auth, &admin, error).await;
    }
    match privacy
        .erase(Person::Id(id), actioned(&req, &admin), Some(admin.id))
        .await
    {
        Ok(_) => Ok(see_other("/users?done=erased")),
        Err(AppError::BadRequest(e) | AppError::Conflict(e)) => {
            auth::users_page_with_error(&req, &auth, &admin, e).await
        }
        Err(e) => Err(e),
    }
}

/// Erases a person's personal data everywhere (admins only): the account
/// becomes `erased-<id>@invalid`, disabled; sessions, tokens, audit trail
/// personal columns, their addresses in security data (when configured) and
/// their `user` data in error events go. Recorded as `user.erased`.
#[utoipa::path(post, path = "/api/v1/users/{id}/erase", tag = "accounts",
    params(("id" = i64, Path, description = "User id")),
    responses((status = 200, description = "What was removed, per data type", body = Erased),
        (status = 403, description = "Not an admin"), (status = 404, description = "No such user"),
        (status = 409, description = "Your own account, or the last enabled admin")),
    security(("bearer" = []), ("session" = [])))]
async fn erase_api(
    req: HttpRequest,
    privacy: web::Data<Privacy>,
    RequireAdmin(admin): RequireAdmin,
    path: web::Path<i64>,
) -> Result<HttpResponse, AppError> {
    let erased = privacy
        .erase(
            Person::Id(path.into_inner()),
            actioned(&req, &admin),
            Some(admin.id),
        )
        .await?;
    Ok(HttpResponse::Ok().json(erased))
}
