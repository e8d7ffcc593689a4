//! `/api/v1/auth/*` and `/api/v1/me`: log in, rotate, log out, who am I.

use base64::Engine as _;
use rocket::data::{self, Data, FromData};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, Request, State};
use serde::Deserialize;

use super::{JsonResult, NoStore};
use crate::accounts;
use crate::app::App;
use crate::accounts::PasswordChange;
use crate::auth::{session, ApiUser, BearerToken, ClientInfo};
use crate::error::{fail_guard, ApiResult, AppError, AuthError, GuardFailed};
use crate::routes::json::{self, JsonBody, OptionalJson};
use crate::store;
use crate::views::{TokenResponse, UserView};

#[derive(Deserialize)]
struct LoginRequest {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

/// Email and password from a JSON body, or from HTTP Basic (the email as
/// user name) when there is such a header.
pub struct LoginCredentials {
    email: String,
    password: String,
}

fn basic_credentials(header: &str) -> Option<LoginCredentials> {
    let (scheme, encoded) = header.split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD.decode(encoded.trim()).ok()?;
    let text = String::from_utf8(decoded).ok()?;
    let (email, password) = text.split_once(':')?;
    Some(LoginCredentials { email: email.to_owned(), password: password.to_owned() })
}

#[rocket::async_trait]
impl<'r> FromData<'r> for LoginCredentials {
    type Error = GuardFailed;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        if let Some(header) = req.headers().get_one("Authorization") {
            return match basic_credentials(header) {
                Some(credentials) => data::Outcome::Success(credentials),
                None => fail_guard(req, AppError::BadRequest("Authorization must be HTTP Basic with email and password.".into())),
            };
        }
        let body = match json::read_body(data).await {
            Ok(body) if body.trim().is_empty() => {
                return fail_guard(req, AppError::BadRequest("Send {\"email\", \"password\"} as JSON, or HTTP Basic.".into()))
            }
            Ok(body) => body,
            Err(error) => return fail_guard(req, error),
        };
        match json::parse::<LoginRequest>(&body) {
            Ok(login) => data::Outcome::Success(LoginCredentials { email: login.email, password: login.password }),
            Err(error) => fail_guard(req, error),
        }
    }
}

#[post("/auth/login", data = "<credentials>")]
pub async fn login(
    credentials: LoginCredentials,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let (user, pair) = accounts::login(app, &credentials.email, &credentials.password, &client, None).await?;
    Ok(NoStore::new(TokenResponse::new(UserView::from(&user), pair, app.config.access_token_ttl)))
}

/// Rotation: the refresh token in `Authorization: Bearer` is used up and a
/// new pair of the same session comes back.
#[post("/auth/refresh")]
pub async fn refresh(token: BearerToken, client: ClientInfo, app: &State<App>) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let (authenticated, pair) = session::refresh(app, &token.0, &client).await?;
    let user = store::users::find_by_public_id(&app.db, authenticated.public_id)
        .await?
        .ok_or(AppError::Unauthenticated(AuthError::Revoked))?;
    Ok(NoStore::new(TokenResponse::new(UserView::from(&user), pair, app.config.access_token_ttl)))
}

#[derive(Deserialize)]
pub struct LogoutRequest {
    refresh_token: Option<String>,
}

async fn end_session(user: ApiUser, body: OptionalJson<LogoutRequest>, client: ClientInfo, app: &App) -> ApiResult<Status> {
    let refresh_token = body.0.and_then(|b| b.refresh_token);
    accounts::logout(app, &user, refresh_token.as_deref(), &client).await?;
    Ok(Status::NoContent)
}

#[post("/auth/logout", data = "<body>")]
pub async fn logout(
    user: ApiUser,
    body: OptionalJson<LogoutRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<Status> {
    end_session(user, body, client, app).await
}

#[delete("/auth/logout", data = "<body>")]
pub async fn logout_delete(
    user: ApiUser,
    body: OptionalJson<LogoutRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<Status> {
    end_session(user, body, client, app).await
}

#[get("/me")]
pub async fn me(user: ApiUser, app: &State<App>) -> JsonResult<UserView> {
    let user = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    Ok(Json(UserView::from(&user)))
}

#[derive(Deserialize)]
pub struct PasswordChangeRequest {
    #[serde(default)]
    current_password: String,
    #[serde(default)]
    new_password: String,
}

/// Needs a fresh access token (from a password login, not a refresh):
/// 401 `fresh_token_required` otherwise. Every other session of the user
/// ends; this token and its session go on working.
#[post("/me/password", data = "<body>")]
pub async fn change_password(
    user: ApiUser,
    body: JsonBody<PasswordChangeRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<Status> {
    if !user.fresh {
        return Err(AppError::Unauthenticated(AuthError::NotFresh).into());
    }
    let input = PasswordChange {
        current_password: &body.0.current_password,
        new_password: &body.0.new_password,
        new_password_confirm: None,
    };
    accounts::change_password(app, &user, input, &client).await?;
    Ok(Status::NoContent)
}

#[derive(Deserialize)]
pub struct ForgotPasswordRequest {
    #[serde(default)]
    email: String,
}

/// 202 whether the account exists or not; a link goes out if it does.
#[post("/auth/forgot-password", data = "<body>")]
pub async fn forgot_password(body: JsonBody<ForgotPasswordRequest>, client: ClientInfo, app: &State<App>) -> ApiResult<Status> {
    let email = body.0.email.trim().to_owned();
    if !email.is_empty() {
        accounts::reset::request(app, &email, &client).await?;
    }
    Ok(Status::Accepted)
}

#[derive(Deserialize)]
pub struct ResetPasswordRequest {
    #[serde(default)]
    token: String,
    #[serde(default)]
    new_password: String,
}

/// The token of a reset link and a new password: 204, every session of the
/// account ended; a bad token is 422 with `fields.token`.
#[post("/auth/reset-password", data = "<body>")]
pub async fn reset_password(body: JsonBody<ResetPasswordRequest>, client: ClientInfo, app: &State<App>) -> ApiResult<Status> {
    accounts::reset::reset(app, &body.0.token, &body.0.new_password, None, false, &client).await?;
    Ok(Status::NoContent)
}

#[cfg(test)]
mod tests {
    #[test]
    fn basic_credentials_split_at_the_first_colon() {
        let header = format!("Basic {}", base64::Engine::encode(&base64::engine::general_purpose::STANDARD, "ann@example.com:pa:ss"));
        let credentials = super::basic_credentials(&header).unwrap();
        assert_eq!((credentials.email.as_str(), credentials.password.as_str()), ("ann@example.com", "pa:ss"));
        assert!(super::basic_credentials("Bearer abc").is_none());
        assert!(super::basic_credentials("Basic !!!").is_none());
    }
}
