//! Forgotten passwords in the browser: ask for a link, follow it, choose a
//! new password (SPEC.md §4).
//!
//! The link's token leaves the URL at once: `GET /reset-password?token=…`
//! moves it into a short-lived cookie that only `/reset-password` receives
//! and redirects to the token-free `/reset-password`, so the token stays out
//! of the history, of `Referer` headers and of any later `Location`.

use rocket::form::FromForm;
use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};

use super::{field_errors, FormReply};
use crate::accounts::reset::{self, AfterReset};
use crate::accounts::two_factor;
use crate::app::App;
use crate::auth::cookies::{self, RESET_COOKIE};
use crate::auth::csrf::Csrf;
use crate::auth::{Authenticated, ClientInfo, MaybeUser};
use crate::domain::FieldErrors;
use crate::error::{AppError, PageResult};
use crate::views::Nav;

#[derive(Debug, FromForm)]
pub struct ForgotForm {
    #[field(default = String::new())]
    email: String,
}

fn forgot_page(jar: &CookieJar<'_>, app: &App, user: Option<&Authenticated>, email: Option<&str>, sent: bool, errors: Option<FieldErrors>) -> Template {
    Template::render(
        "pages/forgot_password",
        context! { nav: Nav::new(user), csrf: cookies::form_csrf(jar, &app.config, user), email, sent, errors },
    )
}

#[get("/forgot-password")]
pub fn forgot_password_form(user: MaybeUser, jar: &CookieJar<'_>, app: &State<App>) -> Template {
    forgot_page(jar, app, user.0.as_ref(), None, false, None)
}

/// The same page whether the account exists or not.
#[post("/forgot-password", data = "<form>")]
pub async fn forgot_password(
    form: Csrf<ForgotForm>,
    user: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<(Status, Template)> {
    let email = form.0.email.trim();
    if email.is_empty() {
        let errors = FieldErrors::single("email", "Enter the email address of your account.");
        return Ok((Status::UnprocessableEntity, forgot_page(jar, app, user.0.as_ref(), None, false, Some(errors))));
    }
    reset::request(app, email, &client).await?;
    Ok((Status::Ok, forgot_page(jar, app, user.0.as_ref(), Some(email), true, None)))
}

#[derive(Debug, FromForm)]
pub struct ResetForm {
    #[field(default = String::new())]
    new_password: String,
    #[field(default = String::new())]
    new_password_confirm: String,
}

fn reset_page(jar: &CookieJar<'_>, app: &App, user: Option<&Authenticated>, valid: bool, error: Option<&AppError>) -> Template {
    Template::render(
        "pages/reset_password",
        context! {
            nav: Nav::new(user),
            csrf: cookies::form_csrf(jar, &app.config, user),
            valid,
            errors: error.map(field_errors),
            min_length: app.config.password_rules.min_length,
        },
    )
}

/// With `?token=`: the token goes into the reset cookie and the browser to
/// the token-free address. Without: the form, if the cookie's token works.
#[get("/reset-password?<token>")]
pub async fn reset_password_form(
    token: Option<String>,
    user: MaybeUser,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> Result<(Status, Template), Redirect> {
    if let Some(token) = token.filter(|t| !t.is_empty()) {
        cookies::set_reset_token(jar, &token, &app.config);
        return Err(Redirect::to(uri!(reset_password_form(None::<String>))));
    }
    let token = jar.get(RESET_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let valid = !token.is_empty() && reset::check(app, &token).await.is_ok();
    let status = if valid { Status::Ok } else { Status::BadRequest };
    Ok((status, reset_page(jar, app, user.0.as_ref(), valid, None)))
}

#[post("/reset-password", data = "<form>")]
pub async fn reset_password(
    form: Csrf<ResetForm>,
    user: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<FormReply> {
    let form = form.0;
    let token = jar.get(RESET_COOKIE).map(|c| c.value().to_owned()).unwrap_or_default();
    let done = reset::reset(app, &token, &form.new_password, Some(&form.new_password_confirm), true, &client).await;
    match done {
        Ok((account, AfterReset::LoggedIn(pair))) => {
            cookies::clear_reset_token(jar);
            cookies::set_tokens(jar, &pair, &app.config);
            let message = format!("Your password has been changed and you are logged in, {}.", account.username);
            Ok(FormReply::Done(Flash::success(Redirect::to(uri!(super::home::home)), message)))
        }
        Ok((_, AfterReset::SecondStep(ticket))) => {
            cookies::clear_reset_token(jar);
            cookies::clear_tokens(jar);
            cookies::set_ticket(jar, &ticket.0, two_factor::TICKET_SECONDS, &app.config);
            let message = "Your password has been changed. To log in, finish with your second step.";
            Ok(FormReply::Done(Flash::success(Redirect::to(uri!(super::account::second_step_form)), message)))
        }
        Ok((_, AfterReset::Nothing)) => Err(AppError::Internal(anyhow::anyhow!("BUG: a page reset logs in")).into()),
        Err(AppError::Validation(fields)) if fields.get("token").is_some() => {
            cookies::clear_reset_token(jar);
            Ok(FormReply::Again((Status::BadRequest, reset_page(jar, app, user.0.as_ref(), false, None))))
        }
        Err(AppError::Validation(fields)) => {
            let error = AppError::Validation(fields);
            Ok(FormReply::Again((Status::UnprocessableEntity, reset_page(jar, app, user.0.as_ref(), true, Some(&error)))))
        }
        Err(other) => Err(other.into()),
    }
}
