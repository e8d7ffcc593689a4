//! Signing in with an OpenID Connect provider (SPEC §4): the button's
//! POST, the provider's return, the sign-up page after a first login, and
//! linking and unlinking on `/me/security`.

use rocket::form::FromForm;
use rocket::http::{Cookie, CookieJar};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};
use uuid::Uuid;

use super::account::safe_next;
use super::{field_errors, form_again, FormReply};
use crate::accounts::identities::{self, Browser, Outcome};
use crate::accounts::two_factor;
use crate::app::App;
use crate::auth::cookies::{self, REFRESH_COOKIE, REMEMBER_COOKIE};
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{ClientInfo, FreshUser, MaybeUser};
use crate::error::{AppError, OidcRefusal, PageResult};
use crate::oidc::{Answer, Pending, FLOW_SECONDS};
use crate::views::Nav;

/// The begun flow (`crate::oidc::Flow`), sent back only to the return.
const FLOW_COOKIE: &str = "oidc_flow";
const FLOW_PATH: &str = "/login/oidc";
/// A first login's person, sent only to the sign-up page.
const SIGNUP_COOKIE: &str = "oidc_signup";
const SIGNUP_PATH: &str = "/signup/oidc";

#[derive(Debug, FromForm)]
pub struct BeginForm {
    next: Option<String>,
}

/// The login and sign-up pages' button: off to the provider.
#[post("/login/oidc/<provider>", data = "<form>")]
pub async fn begin(provider: &str, form: Csrf<BeginForm>, jar: &CookieJar<'_>, app: &State<App>) -> PageResult<Redirect> {
    let next = safe_next(form.0.next.as_deref());
    let (url, flow) = app.oidc.begin(provider, next, None).await?;
    jar.add(cookies::scoped(FLOW_COOKIE, flow, FLOW_PATH, FLOW_SECONDS, &app.config));
    Ok(Redirect::to(url))
}

/// The provider's redirect back: a login, a sign-up to finish, or a link.
#[allow(clippy::too_many_arguments)]
#[get("/login/oidc/<provider>/callback?<code>&<state>&<iss>&<error>")]
pub async fn callback(
    provider: &str,
    code: Option<&str>,
    state: Option<&str>,
    iss: Option<&str>,
    error: Option<&str>,
    current: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let flow = app.oidc.flow(jar.get(FLOW_COOKIE).map(|c| c.value()));
    jar.remove(Cookie::build(FLOW_COOKIE).path(FLOW_PATH));
    let link = flow.as_ref().and_then(|(flow, _)| flow.link);
    let answer = Answer { code, state, iss, error };
    let identity = app.oidc.finish(&app.db, provider, answer, flow.clone()).await?;
    let next = flow.and_then(|(flow, _)| flow.next);
    if let Some(account) = link {
        // Only the account that asked, still signed in here, gets the link.
        let user = current.0.as_ref().filter(|user| user.public_id == account).ok_or(AppError::Oidc(OidcRefusal::Expired))?;
        identities::link(app, user, &identity, &client).await?;
        let name = app.oidc.config(provider)?.name.clone();
        return Ok(Flash::success(Redirect::to(uri!(super::security::security)), format!("{name} is linked: it can log you in now.")));
    }
    let refresh = jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned());
    let browser = Browser {
        current: current.0.as_ref().map(|user| (user, refresh.as_deref())),
        remembered: jar.get(REMEMBER_COOKIE).map(|c| c.value()),
        next: next.clone(),
    };
    match identities::login(app, identity, browser, &client).await? {
        Outcome::LoggedIn(user, pair) => {
            cookies::clear_ticket(jar);
            cookies::set_tokens(jar, &pair, &app.config);
            let target = next.unwrap_or_else(|| "/".into());
            Ok(Flash::success(Redirect::to(target), format!("Logged in as {}.", user.username)))
        }
        Outcome::SecondStep(ticket) => {
            cookies::set_ticket(jar, &ticket.0, two_factor::TICKET_SECONDS, &app.config);
            let name = &app.oidc.config(provider)?.name;
            Ok(Flash::success(Redirect::to(uri!(super::account::second_step_form)), format!("{name} signed you in.")))
        }
        Outcome::SignUp(pending) => {
            jar.add(cookies::scoped(SIGNUP_COOKIE, app.oidc.seal_pending(&pending)?, SIGNUP_PATH, FLOW_SECONDS, &app.config));
            Ok(Flash::success(Redirect::to(uri!(signup_form)), "One more step: choose your username."))
        }
    }
}

fn pending(jar: &CookieJar<'_>, app: &App) -> Result<Pending, AppError> {
    app.oidc.pending(jar.get(SIGNUP_COOKIE).map(|c| c.value())).ok_or(AppError::Oidc(OidcRefusal::Expired))
}

fn signup_page(jar: &CookieJar<'_>, app: &App, pending: &Pending, username: Option<&str>, error: Option<&AppError>) -> Result<Template, AppError> {
    let provider = app.oidc.config(&pending.identity.provider)?;
    let suggested = identities::suggested_username(pending);
    Ok(Template::render(
        "pages/signup_oidc",
        context! {
            nav: Nav::new(None),
            csrf: cookies::anonymous_csrf(jar, &app.config),
            provider: &provider.name,
            email: &pending.identity.email,
            email_verified: pending.identity.email_verified,
            username: username.or(suggested.as_deref()),
            errors: error.map(field_errors),
        },
    ))
}

/// After a first login through a provider: the username to choose.
#[get("/signup/oidc")]
pub fn signup_form(jar: &CookieJar<'_>, app: &State<App>) -> PageResult<Template> {
    let pending = pending(jar, app)?;
    Ok(signup_page(jar, app, &pending, None, None)?)
}

#[derive(Debug, FromForm)]
pub struct SignupForm {
    #[field(default = String::new())]
    username: String,
}

#[post("/signup/oidc", data = "<form>")]
pub async fn signup(form: Csrf<SignupForm>, client: ClientInfo, jar: &CookieJar<'_>, app: &State<App>) -> PageResult<FormReply> {
    let pending = pending(jar, app)?;
    let username = form.0.username;
    let (user, pair) = match identities::sign_up(app, &pending, &username, &client).await {
        Ok(done) => done,
        Err(error @ (AppError::Validation(_) | AppError::Conflict(_))) => {
            let page = signup_page(jar, app, &pending, Some(&username), Some(&error))?;
            return form_again(error, |_| page);
        }
        Err(error) => return Err(error.into()),
    };
    jar.remove(Cookie::build(SIGNUP_COOKIE).path(SIGNUP_PATH));
    cookies::set_tokens(jar, &pair, &app.config);
    let target = pending.next.unwrap_or_else(|| "/".into());
    Ok(FormReply::Done(Flash::success(Redirect::to(target), format!("Welcome to recipebox, {}!", user.username))))
}

/// Links the signed-in account to a person at the provider, through the
/// provider (the return comes back to [`callback`]).
#[post("/me/identities/<provider>/link", data = "<_form>")]
pub async fn link(provider: &str, user: FreshUser, _form: Csrf<ActionForm>, jar: &CookieJar<'_>, app: &State<App>) -> PageResult<Redirect> {
    let (url, flow) = app.oidc.begin(provider, None, Some(user.public_id)).await?;
    jar.add(cookies::scoped(FLOW_COOKIE, flow, FLOW_PATH, FLOW_SECONDS, &app.config));
    Ok(Redirect::to(url))
}

#[post("/me/identities/<id>/unlink", data = "<_form>")]
pub async fn unlink(id: Uuid, user: FreshUser, _form: Csrf<ActionForm>, client: ClientInfo, app: &State<App>) -> PageResult<Flash<Redirect>> {
    identities::unlink(app, &user, id, &client).await?;
    Ok(Flash::success(Redirect::to(uri!(super::security::security)), "Unlinked: that provider no longer logs you in."))
}
