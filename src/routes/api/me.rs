//! `DELETE /api/v1/me`: deleting one's own account (SPEC.md §5). `GET /me`
//! lives in `auth` with the other questions a token answers.

use rocket::http::Status;
use rocket::{delete, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses;
use crate::accounts;
use crate::app::App;
use crate::auth::{ApiUser, ClientInfo};
use crate::error::ApiResult;
use crate::routes::json::JsonBody;

#[derive(Deserialize, ToSchema)]
pub struct DeleteAccountRequest {
    #[serde(default)]
    #[schema(required = true)]
    current_password: String,
}

/// Delete the caller's account, with its recipes, sessions and tokens.
///
/// Needs a fresh access token (from a password login, not a refresh): 401
/// `fresh_token_required` otherwise. A wrong password is 422 with
/// `fields.current_password`, and counts as a failed login; the last active
/// admin gets 409 `last_admin`. A notice is mailed to the account's address.
#[utoipa::path(
    operation_id = "delete_me",
    tag = "auth",
    request_body = DeleteAccountRequest,
    security(("access_token" = [])),
    responses(
        (status = 204, description = "Deleted; every token of the account has stopped working."),
        (status = 409, response = responses::Conflict),
        (status = 429, response = responses::TooManyRequests),
    )
)]
#[delete("/me", data = "<body>")]
pub async fn delete(user: ApiUser, body: JsonBody<DeleteAccountRequest>, client: ClientInfo, app: &State<App>) -> ApiResult<Status> {
    accounts::delete::delete_own(app, &user, &body.0.current_password, &client).await?;
    Ok(Status::NoContent)
}
