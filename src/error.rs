//! One error type for the whole application, rendered two ways.
//!
//! `AppError` owns the status mapping (`status`), the API's machine string
//! (`code`) and the words a client may see (`public_message`). `PageError`
//! renders it as the styled error page, `ApiError` as SPEC.md §5's JSON
//! envelope; the catchers in `routes` call the same two renderers, so a
//! framework 404 looks exactly like one of ours.
//!
//! Invariant: nothing here prints a token, a password or a secret. Internal
//! detail (a database error's text) goes to the log, never to the client.

use std::sync::Mutex;

use rocket::http::{Header, Status};
use rocket::request::Request;
use rocket::response::{self, Responder};
use rocket::serde::json::Json;
use rocket_dyn_templates::{context, Template};
use sea_orm::DbErr;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::FieldErrors;

/// Seconds a client is told to wait when the database is unavailable.
pub const RETRY_AFTER_UNAVAILABLE: u64 = 5;

/// The API error's machine-readable `code`, one per kind of failure; the
/// OpenAPI document lists them all from this type.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ErrorCode {
    ValidationFailed,
    Conflict,
    BadRequest,
    InvalidCredentials,
    TokenMissing,
    TokenInvalid,
    TokenExpired,
    TokenRevoked,
    WrongTokenType,
    FreshTokenRequired,
    SecondFactorRequired,
    SecondFactorInvalid,
    PasskeyRejected,
    Forbidden,
    InsufficientScope,
    CsrfFailed,
    CrossOrigin,
    NotFound,
    LastAdmin,
    PayloadTooLarge,
    TooManyRequests,
    TooManySessions,
    ServiceUnavailable,
    InternalError,
}

/// SPEC §5's error body, `{"error": {...}}`: what `ApiError` sends.
#[derive(Serialize, ToSchema)]
pub struct ErrorEnvelope {
    error: ErrorBody,
    /// Only with `second_factor_required`: what `POST
    /// /api/v1/auth/second-factor` takes with the code (single use, 5 minutes).
    #[serde(skip_serializing_if = "Option::is_none")]
    second_factor_token: Option<String>,
}

/// The token of a half-done login (SPEC §5 `second_factor_token`); never
/// printed by `Debug`.
#[derive(Clone, PartialEq, Eq)]
pub struct TicketToken(pub String);

impl std::fmt::Debug for TicketToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TicketToken(<redacted>)")
    }
}

#[derive(Serialize, ToSchema)]
pub struct ErrorBody {
    code: ErrorCode,
    /// Words for a person; they may change, `code` does not.
    message: String,
    /// Only for `validation_failed` and `conflict`: a message per field.
    #[serde(skip_serializing_if = "Option::is_none")]
    fields: Option<FieldErrors>,
}

/// Why a token was not accepted. Carries no token text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthError {
    Missing,
    Invalid,
    Expired,
    Revoked,
    WrongType,
    /// A valid token, but not from a password login made just now.
    NotFresh,
}

impl AuthError {
    pub fn code(self) -> ErrorCode {
        match self {
            AuthError::Missing => ErrorCode::TokenMissing,
            AuthError::Invalid => ErrorCode::TokenInvalid,
            AuthError::Expired => ErrorCode::TokenExpired,
            AuthError::Revoked => ErrorCode::TokenRevoked,
            AuthError::WrongType => ErrorCode::WrongTokenType,
            AuthError::NotFresh => ErrorCode::FreshTokenRequired,
        }
    }

    pub fn description(self) -> &'static str {
        match self {
            AuthError::Missing => "An access token is required.",
            AuthError::Invalid => "The token is malformed, not signed by this server, or not yet valid.",
            AuthError::Expired => "The token has expired.",
            AuthError::Revoked => "The token has been revoked.",
            AuthError::WrongType => "This kind of token is not accepted here.",
            AuthError::NotFresh => "This needs a token from a password login: log in again.",
        }
    }
}

/// Why a sign-in through an OpenID Connect provider stopped (SPEC §4),
/// each with a page of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OidcRefusal {
    /// The provider did not answer, or not in time (the provider's name).
    Unreachable(String),
    /// The provider answered the sign-in with an error (its name), such as
    /// the person declining.
    Declined(String),
    /// The provider's answer did not pass a check: issuer, signature,
    /// audience, expiry, nonce (the provider's name).
    Unverified(String),
    /// No begun sign-in in this browser matches the answer: expired,
    /// altered, already used, or begun in another browser.
    Expired,
    /// An account uses the provider's email, and joining is not allowed
    /// (the provider's name).
    EmailInUse(String),
    /// The provider shared no email address (its name).
    NoEmail(String),
    /// The person at the provider is linked to another account.
    LinkedElsewhere(String),
    /// The account is linked to another person at the provider.
    AlreadyLinked(String),
    /// The last way left to log in to the account.
    LastWay,
}

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// A sign-in through a provider that cannot go on (SPEC §4).
    #[error("provider sign-in refused: {0:?}")]
    Oidc(OidcRefusal),
    #[error("invalid input: {0:?}")]
    Validation(FieldErrors),
    #[error("already taken: {0:?}")]
    Conflict(FieldErrors),
    #[error("bad request: {0}")]
    BadRequest(String),
    #[error("invalid email or password")]
    InvalidCredentials,
    /// A right password for an account with a second factor: the login
    /// goes on with the ticket and a code.
    #[error("the second step of the login is required")]
    SecondFactorRequired(TicketToken),
    /// A wrong code, or a ticket that is unknown, used or expired.
    #[error("wrong second factor or expired login")]
    SecondFactorInvalid,
    /// A passkey's answer that did not verify (or an unknown passkey).
    #[error("passkey not accepted")]
    PasskeyRejected,
    #[error("not authenticated: {0:?}")]
    Unauthenticated(AuthError),
    #[error("forbidden")]
    Forbidden,
    /// A personal access token without the scope a request needs.
    #[error("insufficient scope: {0}")]
    InsufficientScope(crate::domain::Scope),
    /// What a personal access token may never do (SPEC §5): a password,
    /// an email, a factor, a token, a session, deleting the account.
    #[error("not with a personal access token")]
    NeedsSession,
    #[error("CSRF token missing or wrong")]
    CsrfRejected,
    #[error("cross-origin request refused")]
    CrossOrigin,
    #[error("not found")]
    NotFound,
    #[error("the last active admin cannot lose the role")]
    LastAdmin,
    #[error("payload too large")]
    PayloadTooLarge,
    #[error("throttled for {retry_after} s")]
    Throttled { retry_after: u64 },
    /// A login while every session the account may hold is in use (SPEC
    /// §3): none is ended for it.
    #[error("every session of the account is in use; one is free in {retry_after} s")]
    SessionsInUse { limit: u64, retry_after: u64 },
    #[error("database unavailable: {0}")]
    Unavailable(String),
    #[error(transparent)]
    Internal(#[from] anyhow::Error),
}

impl AppError {
    pub fn status(&self) -> Status {
        match self {
            AppError::Validation(_) => Status::UnprocessableEntity,
            AppError::Conflict(_) | AppError::LastAdmin => Status::Conflict,
            AppError::Oidc(refusal) => match refusal {
                OidcRefusal::Unreachable(_) => Status::BadGateway,
                OidcRefusal::Declined(_) | OidcRefusal::Unverified(_) | OidcRefusal::Expired | OidcRefusal::NoEmail(_) => {
                    Status::BadRequest
                }
                OidcRefusal::EmailInUse(_) | OidcRefusal::LinkedElsewhere(_) | OidcRefusal::AlreadyLinked(_) | OidcRefusal::LastWay => {
                    Status::Conflict
                }
            },
            AppError::BadRequest(_) => Status::BadRequest,
            AppError::InvalidCredentials
            | AppError::Unauthenticated(_)
            | AppError::SecondFactorRequired(_)
            | AppError::SecondFactorInvalid
            | AppError::PasskeyRejected => Status::Unauthorized,
            AppError::Forbidden
            | AppError::InsufficientScope(_)
            | AppError::NeedsSession
            | AppError::CsrfRejected
            | AppError::CrossOrigin => Status::Forbidden,
            AppError::NotFound => Status::NotFound,
            AppError::PayloadTooLarge => Status::PayloadTooLarge,
            AppError::Throttled { .. } | AppError::SessionsInUse { .. } => Status::TooManyRequests,
            AppError::Unavailable(_) => Status::ServiceUnavailable,
            AppError::Internal(_) => Status::InternalServerError,
        }
    }

    /// The API's machine-readable `code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            AppError::Validation(_) => ErrorCode::ValidationFailed,
            AppError::Conflict(_) => ErrorCode::Conflict,
            AppError::BadRequest(_) => ErrorCode::BadRequest,
            AppError::Oidc(OidcRefusal::Unreachable(_)) => ErrorCode::ServiceUnavailable,
            AppError::Oidc(
                OidcRefusal::EmailInUse(_) | OidcRefusal::LinkedElsewhere(_) | OidcRefusal::AlreadyLinked(_) | OidcRefusal::LastWay,
            ) => ErrorCode::Conflict,
            AppError::Oidc(_) => ErrorCode::BadRequest,
            AppError::InvalidCredentials => ErrorCode::InvalidCredentials,
            AppError::SecondFactorRequired(_) => ErrorCode::SecondFactorRequired,
            AppError::SecondFactorInvalid => ErrorCode::SecondFactorInvalid,
            AppError::PasskeyRejected => ErrorCode::PasskeyRejected,
            AppError::Unauthenticated(reason) => reason.code(),
            AppError::Forbidden | AppError::NeedsSession => ErrorCode::Forbidden,
            AppError::InsufficientScope(_) => ErrorCode::InsufficientScope,
            AppError::CsrfRejected => ErrorCode::CsrfFailed,
            AppError::CrossOrigin => ErrorCode::CrossOrigin,
            AppError::NotFound => ErrorCode::NotFound,
            AppError::LastAdmin => ErrorCode::LastAdmin,
            AppError::PayloadTooLarge => ErrorCode::PayloadTooLarge,
            AppError::Throttled { .. } => ErrorCode::TooManyRequests,
            AppError::SessionsInUse { .. } => ErrorCode::TooManySessions,
            AppError::Unavailable(_) => ErrorCode::ServiceUnavailable,
            AppError::Internal(_) => ErrorCode::InternalError,
        }
    }

    /// Words for the client. Fixed per variant except `BadRequest`, whose
    /// text is written by our own code (never a database message).
    pub fn public_message(&self) -> String {
        match self {
            AppError::Validation(_) => "Some fields are not valid.".into(),
            AppError::Conflict(_) => "That is already taken.".into(),
            AppError::BadRequest(why) => why.clone(),
            AppError::Oidc(refusal) => match refusal {
                OidcRefusal::Unreachable(name) => {
                    format!("{name} did not answer in time, so you could not be signed in. Try again in a moment, or log in another way.")
                }
                OidcRefusal::Declined(name) => format!("{name} did not sign you in. Nothing was changed here; you may try again."),
                OidcRefusal::Unverified(name) => {
                    format!("{name}'s answer did not pass this site's checks, so it was not used. Try again; if it happens again, log in another way.")
                }
                OidcRefusal::Expired => "This sign-in has expired, was already used, or was begun in another browser. Start it again                                          from the login page."
                    .into(),
                OidcRefusal::EmailInUse(name) => format!(
                    "An account here already uses the email address {name} gave. If it is yours, log in to it (with its password or                      a passkey), then link {name} from your security page."
                ),
                OidcRefusal::NoEmail(name) => format!(
                    "{name} did not share an email address, and an account here needs one. Allow {name} to share your email,                      or sign up with a password."
                ),
                OidcRefusal::LinkedElsewhere(name) => {
                    format!("That {name} account is already linked to another account here. Unlink it there first.")
                }
                OidcRefusal::AlreadyLinked(name) => {
                    format!("Your account is linked to another {name} account already. Unlink that one first.")
                }
                OidcRefusal::LastWay => "This is the last way left to log in to your account. Set a password (through \"Forgot \
                                         your password?\") or add a passkey first."
                    .into(),
            },
            AppError::InvalidCredentials => "Invalid email or password".into(),
            AppError::SecondFactorRequired(_) => {
                "The password is right; now send a code from the authenticator app, or a recovery code, \
                 with the second_factor_token."
                    .into()
            }
            AppError::SecondFactorInvalid => "That code is not right, or this login has expired.".into(),
            AppError::PasskeyRejected => "That passkey was not accepted here.".into(),
            AppError::Unauthenticated(reason) => reason.description().into(),
            AppError::Forbidden => "You are not allowed to do that.".into(),
            AppError::InsufficientScope(scope) => format!("This token does not have the {scope} scope."),
            AppError::NeedsSession => "A personal access token cannot do this: log in with your password (and second step) \
                                       to change a password, an email, a factor, a token or a session, or to delete the account."
                .into(),
            AppError::CsrfRejected => {
                "This form has expired or was not sent from this site. Go back, reload the page and try again.".into()
            }
            AppError::CrossOrigin => "Requests from other sites are refused.".into(),
            AppError::NotFound => "There is nothing here.".into(),
            AppError::LastAdmin => "This is the last active admin: it cannot be demoted, disabled or deleted. \
                                    Make another user an admin first."
                .into(),
            AppError::PayloadTooLarge => "The request is too large.".into(),
            AppError::Throttled { retry_after } => format!("Too many attempts. Try again in {}.", in_words(*retry_after)),
            AppError::SessionsInUse { limit, retry_after } => format!(
                "This account already has {limit} sessions in use, as many as it may hold, and a login never ends one that is \
                 in use. End the ones you no longer need under \"Where you are logged in\" on your account page, or try \
                 again in {}.",
                in_words(*retry_after)
            ),
            AppError::Unavailable(_) => "The service is briefly unavailable. Try again in a moment.".into(),
            AppError::Internal(_) => "Something went wrong on our side.".into(),
        }
    }

    /// A bare status, as a catcher sees it, turned into our error.
    pub fn from_status(status: Status) -> Self {
        match status.code {
            400 => AppError::BadRequest("The request could not be understood.".into()),
            401 => AppError::Unauthenticated(AuthError::Missing),
            403 => AppError::Forbidden,
            404 => AppError::NotFound,
            413 => AppError::PayloadTooLarge,
            422 => AppError::BadRequest("The request could not be understood.".into()),
            503 => AppError::Unavailable(String::new()),
            code if (400..500).contains(&code) => {
                AppError::BadRequest(status.reason().unwrap_or("Bad request").to_owned())
            }
            _ => AppError::Internal(anyhow::anyhow!("unhandled status {status}")),
        }
    }

    pub fn log(&self) {
        match self {
            AppError::Internal(e) => tracing::error!(error = format!("{e:#}"), "internal error"),
            AppError::Unavailable(detail) => tracing::warn!(%detail, "database unavailable"),
            _ => {}
        }
    }

    /// `Retry-After` seconds for a client that may try again.
    fn retry_after(&self) -> Option<u64> {
        match self {
            AppError::Throttled { retry_after } | AppError::SessionsInUse { retry_after, .. } => Some(*retry_after),
            AppError::Unavailable(_) => Some(RETRY_AFTER_UNAVAILABLE),
            _ => None,
        }
    }

    fn title(&self) -> &'static str {
        match self {
            AppError::CsrfRejected => "Form expired",
            AppError::Unauthenticated(_) | AppError::InvalidCredentials | AppError::SecondFactorInvalid => "Please log in",
            AppError::Throttled { .. } => "Slow down",
            AppError::SessionsInUse { .. } => "Too many sessions",
            AppError::LastAdmin => "The last admin",
            AppError::Oidc(OidcRefusal::Unreachable(_)) => "The provider did not answer",
            AppError::Oidc(OidcRefusal::Declined(_)) => "Not signed in",
            AppError::Oidc(OidcRefusal::Unverified(_)) => "Sign-in answer refused",
            AppError::Oidc(OidcRefusal::Expired) => "Sign-in expired",
            AppError::Oidc(OidcRefusal::EmailInUse(_)) => "An account uses that email",
            AppError::Oidc(OidcRefusal::NoEmail(_)) => "No email address",
            AppError::Oidc(OidcRefusal::LinkedElsewhere(_)) => "Linked to another account",
            AppError::Oidc(OidcRefusal::AlreadyLinked(_)) => "Already linked",
            AppError::Oidc(OidcRefusal::LastWay) => "The last way to log in",
            _ => self.status().reason().unwrap_or("Error"),
        }
    }
}

/// A wait in words: "12 seconds", "a minute", "5 minutes".
fn in_words(seconds: u64) -> String {
    match seconds {
        0..=59 => format!("{seconds} seconds"),
        60..=119 => "a minute".into(),
        _ => format!("{} minutes", seconds.div_ceil(60)),
    }
}

/// Connection trouble (down, restarting, pool exhausted, a lock that did
/// not come in time, a deadlock) is a 503 the client may retry; anything
/// else is a bug or a schema problem.
impl From<DbErr> for AppError {
    fn from(e: DbErr) -> Self {
        if is_transient(&e) {
            AppError::Unavailable(e.to_string())
        } else {
            AppError::Internal(anyhow::Error::new(e))
        }
    }
}

/// Database error codes that mean "not now" rather than "wrong":
/// PostgreSQL's shutdown, cannot-connect-now, lock-not-available, deadlock
/// and serialisation failures; MySQL's lock wait timeout and deadlock;
/// SQLite's busy and locked (with their extended codes).
const TRANSIENT_CODES: [&str; 12] = ["57P01", "57P02", "57P03", "55P03", "40P01", "40001", "1205", "1213", "5", "6", "517", "262"];

fn is_transient(e: &DbErr) -> bool {
    use sea_orm::sqlx::Error as SqlxError;
    use sea_orm::RuntimeErr;
    match e {
        DbErr::Conn(_) | DbErr::ConnectionAcquire(_) => true,
        DbErr::Exec(RuntimeErr::SqlxError(inner)) | DbErr::Query(RuntimeErr::SqlxError(inner)) => match inner.as_ref() {
            SqlxError::Io(_) | SqlxError::Protocol(_) | SqlxError::PoolTimedOut | SqlxError::PoolClosed | SqlxError::WorkerCrashed => true,
            SqlxError::Database(db) => db.code().is_some_and(|code| TRANSIENT_CODES.contains(&code.as_ref())),
            _ => false,
        },
        _ => false,
    }
}

/// `AppError` as the styled HTML error page.
#[derive(Debug)]
pub struct PageError(pub AppError);

/// `AppError` as `{"error": {"code", "message", "fields"?}}`.
#[derive(Debug)]
pub struct ApiError(pub AppError);

pub type PageResult<T> = Result<T, PageError>;
pub type ApiResult<T> = Result<T, ApiError>;

impl<E: Into<AppError>> From<E> for PageError {
    fn from(e: E) -> Self {
        PageError(e.into())
    }
}

impl<E: Into<AppError>> From<E> for ApiError {
    fn from(e: E) -> Self {
        ApiError(e.into())
    }
}

impl<'r> Responder<'r, 'static> for PageError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let error = self.0;
        error.log();
        let status = error.status();
        let page = Template::render(
            "errors/error",
            context! {
                status: status.code,
                title: error.title(),
                message: error.public_message(),
                login_link: matches!(
                    error,
                    AppError::CsrfRejected
                        | AppError::Unauthenticated(_)
                        | AppError::Oidc(OidcRefusal::Expired | OidcRefusal::EmailInUse(_) | OidcRefusal::Declined(_))
                ),
            },
        );
        let mut response = (status, page).respond_to(req)?;
        if let Some(seconds) = error.retry_after() {
            response.set_header(Header::new("Retry-After", seconds.to_string()));
        }
        Ok(response)
    }
}

impl<'r> Responder<'r, 'static> for ApiError {
    fn respond_to(self, req: &'r Request<'_>) -> response::Result<'static> {
        let error = self.0;
        error.log();
        let fields = match &error {
            AppError::Validation(fields) | AppError::Conflict(fields) => Some(fields.clone()),
            _ => None,
        };
        let second_factor_token = match &error {
            AppError::SecondFactorRequired(ticket) => Some(ticket.0.clone()),
            _ => None,
        };
        let body = ErrorEnvelope { error: ErrorBody { code: error.code(), message: error.public_message(), fields }, second_factor_token };
        let mut response = (error.status(), Json(body)).respond_to(req)?;
        match &error {
            // SPEC §5: every 401 names the Bearer scheme and says why.
            AppError::Unauthenticated(_)
            | AppError::InvalidCredentials
            | AppError::SecondFactorRequired(_)
            | AppError::SecondFactorInvalid
            | AppError::PasskeyRejected => {
                response.set_header(Header::new(
                    "WWW-Authenticate",
                    format!(
                        r#"Bearer realm="recipebox", error="invalid_token", error_description="{}""#,
                        error.public_message()
                    ),
                ));
            }
            // RFC 6750 §3.1: which scope the request needed.
            AppError::InsufficientScope(scope) => {
                response.set_header(Header::new(
                    "WWW-Authenticate",
                    format!(r#"Bearer realm="recipebox", error="insufficient_scope", scope="{scope}""#),
                ));
            }
            _ => {}
        }
        if let Some(seconds) = error.retry_after() {
            response.set_header(Header::new("Retry-After", seconds.to_string()));
        }
        if matches!(error, AppError::SecondFactorRequired(_)) {
            // Its body holds a token (SPEC §4: never cached).
            response.set_header(Header::new("Cache-Control", "no-store"));
        }
        Ok(response)
    }
}

/// Rocket hands a catcher only the status of a failed guard, so guards park
/// the full error here and the catcher picks it up.
struct GuardFailure(Mutex<Option<AppError>>);

/// Fails a guard with `error`, keeping it for the catcher.
pub fn fail_guard<T, E: Default, F>(req: &Request<'_>, error: AppError) -> rocket::outcome::Outcome<T, (Status, E), F> {
    let status = error.status();
    *req.local_cache(|| GuardFailure(Mutex::new(None))).0.lock().expect("BUG: poisoned") = Some(error);
    rocket::outcome::Outcome::Error((status, E::default()))
}

/// The error a guard parked for this request, or one made from `status`.
pub fn take_failure(req: &Request<'_>, status: Status) -> AppError {
    req.local_cache(|| GuardFailure(Mutex::new(None)))
        .0
        .lock()
        .expect("BUG: poisoned")
        .take()
        .filter(|error| error.status() == status)
        .unwrap_or_else(|| AppError::from_status(status))
}

/// What a failed guard hands Rocket (which logs it with `{:?}`): no detail.
#[derive(Debug, Default)]
pub struct GuardFailed;
