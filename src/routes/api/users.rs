//! `/api/v1/users`: sign-up for anyone, management for admins.

use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, patch, post, State};
use serde::Deserialize;
use utoipa::ToSchema;
use uuid::Uuid;

use super::{list_params, responses, JsonResult, NoStore};
use crate::accounts::{self, admin, SignupInput};
use crate::app::App;
use crate::auth::{ApiAdmin, ApiCaller, ClientInfo};
use crate::domain::Scope;
use crate::domain::Role;
use crate::error::{ApiResult, AppError};
use crate::routes::json::JsonBody;
use crate::store;
use crate::views::{PageView, TokenResponse, UserView};
use crate::routes::ids::ValidIds;

#[derive(Deserialize, ToSchema)]
pub struct RegisterRequest {
    #[serde(default)]
    #[schema(required = true, format = Email)]
    email: String,
    /// 3 to 32 of `A-Z a-z 0-9 _ . -`; unique without regard to case.
    #[serde(default)]
    #[schema(required = true, pattern = r"^[A-Za-z0-9_.-]{3,32}$")]
    username: String,
    /// At least `password_min_length` characters (8 unless configured),
    /// at most 72 bytes, not a common password, not the email or username.
    #[serde(default)]
    #[schema(required = true, min_length = 8)]
    password: String,
}

/// Sign up: the new account, logged in.
#[utoipa::path(
    operation_id = "register",
    tag = "users",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Signed up and logged in.", body = TokenResponse),
        (status = 409, response = responses::Conflict),
    )
)]
#[post("/users", data = "<body>")]
pub async fn register(
    body: JsonBody<RegisterRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<(Status, NoStore<Json<TokenResponse>>)> {
    let body = body.0;
    let input = SignupInput { email: &body.email, username: &body.username, password: &body.password, password_confirm: None };
    let (user, pair) = accounts::signup(app, input, &client).await?;
    let response = TokenResponse::new(UserView::from(&user), pair, app.config.access_token_ttl);
    Ok((Status::Created, NoStore::new(response)))
}

/// Every user, for admins.
#[utoipa::path(
    operation_id = "list_users",
    tag = "users",
    params(
        ("page" = Option<u64>, Query, minimum = 1, description = "From 1."),
        ("per_page" = Option<u64>, Query, minimum = 1, description = "Items per page, at most 100 (larger asks get 100)."),
        ("q" = Option<String>, Query, description = "Part of a user name or email: literal, case-insensitive."),
    ),
    security(("access_token" = []), ("personal_access_token" = ["admin"])),
    responses(
        (status = 200, description = "A page of users.", body = PageView<UserView>),
        (status = 403, response = responses::Forbidden),
    )
)]
#[get("/users?<page>&<per_page>&<q>")]
pub async fn list(
    page: Option<String>,
    per_page: Option<String>,
    q: Option<String>,
    _admin: ApiAdmin,
    app: &State<App>,
) -> JsonResult<PageView<UserView>> {
    let (paging, q) = list_params(page.as_deref(), per_page.as_deref(), q.as_deref())?;
    let users = store::users::list(&app.db, q, paging.page, paging.per_page).await?;
    Ok(Json(PageView::map(users, |u| UserView::from(&u))))
}

/// One user: the caller themself, or anyone for an admin.
#[utoipa::path(
    operation_id = "get_user",
    tag = "users",
    params(("public_id" = Uuid, Path)),
    security(("access_token" = []), ("personal_access_token" = ["account:read"]), ("personal_access_token" = ["admin"])),
    responses(
        (status = 200, description = "The user.", body = UserView),
        (status = 403, response = responses::Forbidden),
    )
)]
#[get("/users/<public_id>")]
pub async fn show(_ids: ValidIds, public_id: Uuid, caller: ApiCaller, app: &State<App>) -> JsonResult<UserView> {
    if caller.public_id() == public_id {
        caller.require(Scope::AccountRead)?;
    } else {
        caller.require_admin()?;
    }
    Ok(Json(UserView::from(&find(app, public_id).await?)))
}

#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UserPatch {
    role: Option<Role>,
    disabled: Option<bool>,
}

/// Role and disabled state, each optional; the last active admin keeps both
/// (409 `last_admin`).
#[utoipa::path(
    operation_id = "update_user",
    tag = "users",
    params(("public_id" = Uuid, Path)),
    request_body = UserPatch,
    security(("access_token" = []), ("personal_access_token" = ["admin"])),
    responses(
        (status = 200, description = "The user as it is now.", body = UserView),
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
    )
)]
#[patch("/users/<public_id>", data = "<body>")]
pub async fn update(
    _ids: ValidIds,
    public_id: Uuid,
    admin: ApiAdmin,
    body: JsonBody<UserPatch>,
    client: ClientInfo,
    app: &State<App>,
) -> JsonResult<UserView> {
    let target = find(app, public_id).await?;
    if let Some(role) = body.0.role {
        admin::set_role(app, admin::By::api(&admin), &target, role, &client).await?;
    }
    if let Some(disabled) = body.0.disabled {
        let target = find(app, public_id).await?;
        admin::set_disabled(app, admin::By::api(&admin), &target, disabled, &client).await?;
    }
    Ok(Json(UserView::from(&find(app, public_id).await?)))
}

/// Delete a user, for admins; their recipes and sessions go with them.
#[utoipa::path(
    operation_id = "delete_user",
    tag = "users",
    params(("public_id" = Uuid, Path)),
    security(("access_token" = []), ("personal_access_token" = ["admin"])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
    )
)]
#[delete("/users/<public_id>")]
pub async fn delete(
    _ids: ValidIds,
    public_id: Uuid,
    admin: ApiAdmin,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<Status> {
    // Deleting one's own account is never a token's to do (SPEC §5).
    if public_id == admin.public_id() && admin.token().is_some() {
        return Err(AppError::NeedsSession.into());
    }
    let target = find(app, public_id).await?;
    admin::delete(app, admin::By::api(&admin), &target, &client).await?;
    Ok(Status::NoContent)
}

async fn find(app: &App, public_id: Uuid) -> Result<crate::entities::user::Model, AppError> {
    store::users::find_by_public_id(&app.db, public_id).await?.ok_or(AppError::NotFound)
}
