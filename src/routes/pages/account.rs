//! Sign-up, login and logout pages.

use rocket::form::FromForm;
use rocket::http::{CookieJar, Status};
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};

use super::{field_errors, flash, form_again, FormReply};
use crate::accounts::two_factor::{self, Factors, Via};
use crate::accounts::{self, SecondStep, SignupInput};
use crate::app::App;
use crate::audit::Detail;
use crate::auth::cookies::{self, REFRESH_COOKIE, REMEMBER_COOKIE};
use crate::entities::user;
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{Authenticated, ClientInfo, MaybeUser};
use crate::error::{AppError, PageResult};
use crate::views::Nav;

#[derive(Debug, FromForm)]
pub struct SignupForm {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    username: String,
    #[field(default = String::new())]
    password: String,
    #[field(default = String::new())]
    password_confirm: String,
}

#[derive(Debug, FromForm)]
pub struct LoginForm {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    password: String,
    next: Option<String>,
}


/// The longest `next` followed: what a half-done login can hold for it
/// (`login_tickets.next_path`).
const NEXT_MAX_CHARS: usize = 2048;

/// `next` if it is a path on this site, so a login link cannot send the user
/// elsewhere (`//evil.example`, `https://…`, `/\evil` are all refused), and
/// not longer than [`NEXT_MAX_CHARS`].
pub fn safe_next(next: Option<&str>) -> Option<String> {
    let next = next?.trim();
    if next.chars().count() > NEXT_MAX_CHARS {
        return None;
    }
    let local = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    let parses = rocket::http::uri::Origin::parse(next).is_ok();
    (local && parses && !next.chars().any(char::is_control)).then(|| next.to_owned())
}

fn signup_page(jar: &CookieJar<'_>, app: &App, form: Option<&SignupForm>, error: Option<&AppError>) -> Template {
    Template::render(
        "pages/signup",
        context! {
            nav: Nav::new(None),
            csrf: cookies::anonymous_csrf(jar, &app.config),
            email: form.map(|f| f.email.as_str()),
            username: form.map(|f| f.username.as_str()),
            errors: error.map(field_errors),
            min_length: app.config.password_rules.min_length,
            providers: app.oidc.buttons(),
        },
    )
}

#[get("/signup")]
pub fn signup_form(user: MaybeUser, jar: &CookieJar<'_>, app: &State<App>) -> Result<Template, Redirect> {
    if user.0.is_some() {
        return Err(Redirect::to(uri!(super::home::home)));
    }
    Ok(signup_page(jar, app, None, None))
}

#[post("/signup", data = "<form>")]
pub async fn signup(
    form: Csrf<SignupForm>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<FormReply> {
    let form = form.0;
    let input = SignupInput {
        email: &form.email,
        username: &form.username,
        password: &form.password,
        password_confirm: Some(&form.password_confirm),
    };
    let (user, pair) = match accounts::signup(app, input, &client).await {
        Ok(done) => done,
        Err(error) => return form_again(error, |e| signup_page(jar, app, Some(&form), Some(e))),
    };
    cookies::set_tokens(jar, &pair, &app.config);
    let welcome = format!("Welcome to recipebox, {}!", user.username);
    Ok(FormReply::Done(Flash::success(Redirect::to(uri!(super::home::home)), welcome)))
}

/// The login form. A logged-in visitor only sees it to confirm their
/// password (see `login_form`), and then its CSRF value is their session's;
/// an account with no password (made through a provider) confirms through
/// its provider, and is shown only the providers' buttons.
#[allow(clippy::too_many_arguments)]
fn login_page(
    jar: &CookieJar<'_>,
    app: &App,
    current: Option<&Authenticated>,
    email: Option<&str>,
    next: Option<String>,
    error: Option<&AppError>,
    message: Option<FlashMessage<'_>>,
    passwordless: bool,
) -> Template {
    let csrf = cookies::form_csrf(jar, &app.config, current);
    Template::render(
        "pages/login",
        context! {
            nav: Nav::new(current),
            flash: flash(message),
            csrf,
            email: email.or(current.map(|user| user.email.as_str())),
            next,
            confirm: current.is_some(),
            passwordless,
            error: error.map(AppError::public_message),
            passkeys: app.passkeys.is_ok(),
            providers: app.oidc.buttons(),
        },
    )
}

/// A logged-in visitor is sent on to `next` (or home), except when their
/// token is not fresh and a `next` page is named: that page needs a password
/// login made just now (the password change), so they are asked for their
/// password again instead of being sent round in a circle.
#[get("/login?<next>")]
pub async fn login_form(
    next: Option<String>,
    user: MaybeUser,
    jar: &CookieJar<'_>,
    app: &State<App>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Result<Template, Redirect>> {
    let next = safe_next(next.as_deref());
    Ok(match &user.0 {
        Some(current) if !current.fresh && next.is_some() => {
            let account = crate::store::users::find_by_id(&app.db, current.id).await?.ok_or(AppError::NotFound)?;
            Ok(login_page(jar, app, Some(current), None, next, None, message, account.password().is_none()))
        }
        Some(_) => Err(Redirect::to(next.unwrap_or_else(|| "/".into()))),
        None => Ok(login_page(jar, app, None, None, next, None, message, false)),
    })
}

#[post("/login", data = "<form>")]
pub async fn login(
    form: Csrf<LoginForm>,
    current: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<FormReply> {
    let form = form.0;
    let next = safe_next(form.next.as_deref());
    let refresh = jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned());
    let session = current.0.as_ref().map(|user| (user, refresh.as_deref()));
    let second = SecondStep { via: Via::Page, next: next.clone(), remembered: jar.get(REMEMBER_COOKIE).map(|c| c.value()) };
    let (user, pair) = match accounts::login(app, (&form.email, &form.password), &client, session, second).await {
        Ok(done) => done,
        Err(AppError::SecondFactorRequired(ticket)) => {
            cookies::set_ticket(jar, &ticket.0, two_factor::TICKET_SECONDS, &app.config);
            return Ok(FormReply::Done(Flash::success(Redirect::to(uri!(second_step_form)), "Your password is right.")));
        }
        Err(error) => {
            let email = Some(form.email.trim());
            return form_again(error, |e| login_page(jar, app, current.0.as_ref(), email, next.clone(), Some(e), None, false));
        }
    };
    cookies::set_tokens(jar, &pair, &app.config);
    let target = next.unwrap_or_else(|| "/".into());
    Ok(FormReply::Done(Flash::success(Redirect::to(target), format!("Logged in as {}.", user.username))))
}

#[derive(Debug, FromForm)]
pub struct SecondStepForm {
    #[field(default = String::new())]
    code: String,
    #[field(default = false)]
    remember: bool,
}

/// The second step's page, offering the factors the account has.
fn second_step_page(
    jar: &CookieJar<'_>,
    app: &App,
    current: Option<&Authenticated>,
    factors: Factors,
    error: Option<&AppError>,
    message: Option<FlashMessage<'_>>,
) -> Template {
    Template::render(
        "pages/second_step",
        context! {
            nav: Nav::new(current),
            flash: flash(message),
            csrf: cookies::form_csrf(jar, &app.config, current),
            error: error.map(AppError::public_message),
            remember_days: two_factor::REMEMBER_SECONDS / 86_400,
            totp: factors.totp,
            passkey: factors.passkey && app.passkeys.is_ok(),
        },
    )
}

/// The second factors of a half-done login's account; `None` without a
/// live ticket.
async fn factors(app: &App, ticket: &str) -> Result<Option<Factors>, AppError> {
    match two_factor::ticket_holder(app, Via::Page, ticket).await? {
        Some((user, _)) => Ok(Some(two_factor::factors(app, &user).await?)),
        None => Ok(None),
    }
}

fn login_again() -> Flash<Redirect> {
    Flash::warning(Redirect::to(uri!(login_form(next = None::<String>))), "That login has expired. Please log in again.")
}

/// Logs the browser in after every step of a login passed (a code, a
/// passkey): its session is `current`'s again with new tokens for the same
/// account, or a new one; the half-done login's cookie goes, and with
/// `remember` (a second step) the browser is remembered.
pub async fn log_browser_in(
    app: &App,
    jar: &CookieJar<'_>,
    current: &MaybeUser,
    client: &ClientInfo,
    user: user::Model,
    (detail, remember): (Detail, bool),
) -> Result<user::Model, AppError> {
    cookies::clear_ticket(jar);
    let refresh = jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned());
    let session = current.0.as_ref().map(|user| (user, refresh.as_deref()));
    let (user, pair) = accounts::complete_login(app, user, client, session, true, detail).await?;
    if remember {
        let token = two_factor::remember(app, &user, client).await?;
        cookies::set_remembered(jar, &token, two_factor::REMEMBER_SECONDS, &app.config);
    }
    cookies::set_tokens(jar, &pair, &app.config);
    Ok(user)
}

/// The second step of a login (SPEC §4): a code from the authenticator
/// app or a recovery code. Without a live ticket, back to the login form.
#[get("/login/two-factor")]
pub async fn second_step_form(
    current: MaybeUser,
    jar: &CookieJar<'_>,
    app: &State<App>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Result<Template, Flash<Redirect>>> {
    let Some(factors) = factors(app, &cookies::ticket(jar)).await? else {
        cookies::clear_ticket(jar);
        return Ok(Err(login_again()));
    };
    Ok(Ok(second_step_page(jar, app, current.0.as_ref(), factors, None, message)))
}

#[post("/login/two-factor", data = "<form>")]
pub async fn second_step(
    form: Csrf<SecondStepForm>,
    current: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<FormReply> {
    let form = form.0;
    let (user, resume, passed) = match two_factor::finish(app, Via::Page, &cookies::ticket(jar), &form.code, &client).await {
        Ok(done) => done,
        Err(AppError::SecondFactorInvalid) => {
            let Some(factors) = factors(app, &cookies::ticket(jar)).await? else {
                cookies::clear_ticket(jar);
                return Ok(FormReply::Done(login_again()));
            };
            let error = AppError::SecondFactorInvalid;
            let page = second_step_page(jar, app, current.0.as_ref(), factors, Some(&error), None);
            return Ok(FormReply::Again((Status::Unauthorized, page)));
        }
        Err(error) => return Err(error.into()),
    };
    let user = log_browser_in(app, jar, &current, &client, user, (passed.detail(&resume), form.remember)).await?;
    let target = resume.next.unwrap_or_else(|| "/".into());
    Ok(FormReply::Done(Flash::success(Redirect::to(target), format!("Logged in as {}.", user.username))))
}

/// Ends this browser's session (both tokens revoked) and clears the cookies.
#[post("/logout", data = "<_form>")]
pub async fn logout(
    _form: Csrf<ActionForm>,
    user: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    if let Some(user) = &user.0 {
        let refresh = jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned());
        accounts::logout(app, user, refresh.as_deref(), &client).await?;
    }
    cookies::clear_tokens(jar);
    Ok(Flash::success(Redirect::to(uri!(login_form(next = None::<String>))), "You have logged out."))
}

#[cfg(test)]
mod tests {
    #[test]
    fn only_local_paths_are_followed_after_login() {
        for (next, expected) in [
            ("/recipes?page=2", Some("/recipes?page=2")),
            ("/me", Some("/me")),
            ("//evil.example", None),
            ("https://evil.example/", None),
            ("/\\evil.example", None),
            ("recipes", None),
            ("/a\nb", None),
        ] {
            assert_eq!(super::safe_next(Some(next)).as_deref(), expected, "case {next:?}");
        }
        let longest = format!("/{}", "a".repeat(super::NEXT_MAX_CHARS - 1));
        assert_eq!(super::safe_next(Some(&longest)).as_deref(), Some(longest.as_str()));
        assert_eq!(super::safe_next(Some(&format!("{longest}a"))), None, "longer than a half-done login holds");
    }
}

/// Follows a verification link; the token leaves the URL with the redirect.
#[get("/verify-email?<token>")]
pub async fn verify_email(token: Option<String>, app: &State<App>, client: ClientInfo) -> PageResult<Flash<Redirect>> {
    let user = accounts::verify::verify(app, token.as_deref().unwrap_or_default(), &client).await?;
    Ok(Flash::success(Redirect::to(uri!(super::home::home)), format!("Thank you: {} is verified.", user.email)))
}
