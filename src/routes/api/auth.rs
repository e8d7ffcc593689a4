//! `/api/v1/auth/*` and `/api/v1/me`: log in, rotate, log out, who am I.

use base64::Engine as _;
use rocket::data::{self, Data, FromData};
use rocket::http::Status;
use rocket::serde::json::Json;
use rocket::{delete, get, post, Request, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{responses, NoStore};
use crate::accounts::two_factor::{self, Via};
use crate::accounts::{self, SecondStep};
use crate::app::App;
use crate::accounts::PasswordChange;
use crate::auth::{session, AccountReader, ApiUser, BearerToken, ClientInfo};
use crate::error::{fail_guard, ApiResult, AppError, AuthError, GuardFailed};
use crate::routes::json::{self, JsonBody, OptionalJson};
use crate::views::{TokenResponse, UserView};

#[derive(Deserialize, ToSchema)]
pub struct LoginRequest {
    #[serde(default)]
    #[schema(required = true, format = Email)]
    email: String,
    #[serde(default)]
    #[schema(required = true)]
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

/// Log in: a new session and its pair of tokens.
///
/// Send `{email, password}` as JSON, or HTTP Basic with the email as user
/// name and no body. Failed attempts are throttled per account and per
/// client address; a throttled attempt is 429 even with the right password.
///
/// For an account with two-step login, the right password answers 401
/// `second_factor_required` with a `second_factor_token` beside `error`:
/// send it with a code to `POST /api/v1/auth/second-factor` within 5 minutes.
#[utoipa::path(
    operation_id = "login",
    tag = "auth",
    request_body(content = Option<LoginRequest>, description = "Leave out when sending HTTP Basic."),
    security((), ("basic" = [])),
    responses(
        (status = 200, description = "Logged in.", body = TokenResponse),
        (status = 401, response = responses::SecondFactorRequired),
        (status = 429, response = responses::TooManyRequests),
    )
)]
#[post("/auth/login", data = "<credentials>")]
pub async fn login(
    credentials: LoginCredentials,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let second = SecondStep { via: Via::Api, next: None, remembered: None };
    let (user, pair) = accounts::login(app, (&credentials.email, &credentials.password), &client, None, second).await?;
    Ok(NoStore::new(TokenResponse::new(UserView::from(&user), pair, app.config.access_token_ttl)))
}

#[derive(Deserialize, ToSchema)]
pub struct SecondFactorRequest {
    /// From the login's `second_factor_required` answer.
    #[serde(default)]
    #[schema(required = true)]
    second_factor_token: String,
    /// The 6 digits the authenticator app shows now, or an unused recovery
    /// code (`xxxxx-xxxxx`).
    #[serde(default)]
    #[schema(required = true)]
    code: String,
}

/// The second step of a login: the token from `second_factor_required` and
/// a code. A code is accepted once; a recovery code works once. Wrong codes
/// count as failed logins (429 past the limits); a wrong code leaves the
/// token usable until it expires, a right one uses it up.
#[utoipa::path(
    operation_id = "second_factor",
    tag = "auth",
    request_body = SecondFactorRequest,
    responses(
        (status = 200, description = "Logged in.", body = TokenResponse),
        (status = 401, response = responses::SecondFactorInvalid),
        (status = 429, response = responses::TooManyRequests),
    )
)]
#[post("/auth/second-factor", data = "<body>")]
pub async fn second_factor(
    body: JsonBody<SecondFactorRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let body = body.0;
    let (user, resume, passed) = two_factor::finish(app, Via::Api, &body.second_factor_token, &body.code, &client).await?;
    let (user, pair) = accounts::complete_login(app, user, &client, None, true, passed.detail(&resume)).await?;
    Ok(NoStore::new(TokenResponse::new(UserView::from(&user), pair, app.config.access_token_ttl)))
}

/// Rotation: the refresh token in `Authorization: Bearer` is used up and a
/// new pair of the same session comes back.
///
/// A refresh token used a second time ends its whole session (reuse
/// detection): keep only the newest one.
#[utoipa::path(
    operation_id = "refresh",
    tag = "auth",
    security(("refresh_token" = [])),
    responses((status = 200, description = "A new pair for the same session.", body = TokenResponse))
)]
#[post("/auth/refresh")]
pub async fn refresh(token: BearerToken, client: ClientInfo, app: &State<App>) -> ApiResult<NoStore<Json<TokenResponse>>> {
    let (authenticated, pair) = session::refresh(app, &token.0, &client).await?;
    Ok(NoStore::new(TokenResponse::new(UserView::from(&authenticated), pair, app.config.access_token_ttl)))
}

#[derive(Deserialize, ToSchema)]
pub struct LogoutRequest {
    /// The session's refresh token, revoked too when given.
    refresh_token: Option<String>,
}

async fn end_session(user: ApiUser, body: OptionalJson<LogoutRequest>, client: ClientInfo, app: &App) -> ApiResult<Status> {
    let refresh_token = body.0.and_then(|b| b.refresh_token);
    accounts::logout(app, &user, refresh_token.as_deref(), &client).await?;
    Ok(Status::NoContent)
}

/// Log out: the access token and the session's refresh token are revoked.
#[utoipa::path(
    operation_id = "logout",
    tag = "auth",
    request_body(content = Option<LogoutRequest>),
    security(("access_token" = [])),
    responses((status = 204, description = "Logged out."), (status = 403, response = responses::Forbidden))
)]
#[post("/auth/logout", data = "<body>")]
pub async fn logout(
    user: ApiUser,
    body: OptionalJson<LogoutRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<Status> {
    end_session(user, body, client, app).await
}

/// Log out, as `DELETE`: the same as `POST /auth/logout`.
#[utoipa::path(
    operation_id = "logout_with_delete",
    tag = "auth",
    request_body(content = Option<LogoutRequest>),
    security(("access_token" = [])),
    responses((status = 204, description = "Logged out."), (status = 403, response = responses::Forbidden))
)]
#[delete("/auth/logout", data = "<body>")]
pub async fn logout_delete(
    user: ApiUser,
    body: OptionalJson<LogoutRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<Status> {
    end_session(user, body, client, app).await
}

/// The user the token belongs to.
#[utoipa::path(
    operation_id = "me",
    tag = "auth",
    security(("access_token" = []), ("personal_access_token" = ["account:read"])),
    responses((status = 200, description = "The caller.", body = UserView), (status = 403, response = responses::Forbidden))
)]
#[get("/me")]
pub fn me(caller: AccountReader) -> Json<UserView> {
    Json(UserView::from(&caller.0))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChangeRequest {
    #[serde(default)]
    #[schema(required = true)]
    current_password: String,
    #[serde(default)]
    #[schema(required = true)]
    new_password: String,
}

/// Needs a fresh access token (from a password login, not a refresh):
/// 401 `fresh_token_required` otherwise. Every other session of the user
/// ends; this token and its session go on working.
#[utoipa::path(
    operation_id = "change_password",
    tag = "auth",
    request_body = PasswordChangeRequest,
    security(("access_token" = [])),
    responses(
        (status = 204, description = "Changed; every other session has ended."),
        (status = 403, response = responses::Forbidden),
        (status = 429, response = responses::TooManyRequests),
    )
)]
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

#[derive(Deserialize, ToSchema)]
pub struct ForgotPasswordRequest {
    #[serde(default)]
    #[schema(required = true, format = Email)]
    email: String,
}

/// Ask for a password-reset link by email.
///
/// 202 whether the account exists or not; a link goes out if it does.
#[utoipa::path(
    operation_id = "forgot_password",
    tag = "auth",
    request_body = ForgotPasswordRequest,
    responses(
        (status = 202, description = "Accepted; a link is mailed if the account exists."),
        (status = 429, response = responses::TooManyRequests),
    )
)]
#[post("/auth/forgot-password", data = "<body>")]
pub async fn forgot_password(body: JsonBody<ForgotPasswordRequest>, client: ClientInfo, app: &State<App>) -> ApiResult<Status> {
    let email = body.0.email.trim().to_owned();
    if !email.is_empty() {
        accounts::reset::request(app, &email, &client).await?;
    }
    Ok(Status::Accepted)
}

#[derive(Deserialize, ToSchema)]
pub struct ResetPasswordRequest {
    /// The token from the reset link.
    #[serde(default)]
    #[schema(required = true)]
    token: String,
    #[serde(default)]
    #[schema(required = true)]
    new_password: String,
}

/// The token of a reset link and a new password: 204, every session of the
/// account ended; a bad token is 422 with `fields.token`.
#[utoipa::path(
    operation_id = "reset_password",
    tag = "auth",
    request_body = ResetPasswordRequest,
    responses(
        (status = 204, description = "The password is changed; every session of the account has ended."),
        (status = 429, response = responses::TooManyRequests),
    )
)]
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
