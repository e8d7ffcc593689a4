//! `DELETE /api/v1/me`: deleting one's own account, and `GET
//! /api/v1/me/export`: a copy of one's data (SPEC.md §5). `GET /me` lives
//! in `auth` with the other questions a token answers.

use rocket::http::Status;
use rocket::http::Header;
use rocket::serde::json::Json;
use rocket::{delete, get, Responder, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::responses;
use crate::accounts;
use crate::app::App;
use crate::auth::{AccountReader, ApiCaller, ApiUser, ClientInfo};
use crate::error::{AppError, AuthError};
use crate::views::export::Export;
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
        (status = 403, response = responses::Forbidden),
        (status = 409, response = responses::Conflict),
        (status = 429, response = responses::TooManyRequests),
    )
)]
#[delete("/me", data = "<body>")]
pub async fn delete(user: ApiUser, body: JsonBody<DeleteAccountRequest>, client: ClientInfo, app: &State<App>) -> ApiResult<Status> {
    accounts::delete::delete_own(app, &user, &body.0.current_password, &client).await?;
    Ok(Status::NoContent)
}

/// The export, as a file to keep.
#[derive(Responder)]
pub struct ExportFile {
    body: Json<Export>,
    disposition: Header<'static>,
    cache_control: Header<'static>,
}

impl ExportFile {
    pub fn new(export: Export) -> Self {
        let name = format!("recipebox-{}.json", export.profile.username);
        Self {
            body: Json(export),
            disposition: Header::new("Content-Disposition", format!("attachment; filename=\"{name}\"")),
            cache_control: Header::new("Cache-Control", "no-store"),
        }
    }
}

/// Everything the site holds about the caller, as one JSON document: the
/// profile, recipes (private ones too), live sessions, passkeys, personal
/// access tokens (never their text or hash) and security events.
///
/// Needs a fresh access token (401 `fresh_token_required` otherwise) or a
/// personal access token with `account:read`.
#[utoipa::path(
    operation_id = "export_me",
    tag = "auth",
    security(("access_token" = []), ("personal_access_token" = ["account:read"])),
    responses(
        (status = 200, description = "The export, as an attachment.", content_type = "application/json", body = Object),
        (status = 403, response = responses::Forbidden),
    )
)]
#[get("/me/export")]
pub async fn export(caller: AccountReader, app: &State<App>) -> ApiResult<ExportFile> {
    if let ApiCaller::Session(user) = &caller.0 {
        if !user.fresh {
            return Err(AppError::Unauthenticated(AuthError::NotFresh).into());
        }
    }
    Ok(ExportFile::new(accounts::export::export(app, caller.id()).await?))
}
