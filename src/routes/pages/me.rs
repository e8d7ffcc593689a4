//! `/me`: the profile, the newest own recipes, login sessions, recent
//! security activity, and the password change.

use std::sync::Arc;

use rocket::form::FromForm;
use rocket::http::CookieJar;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Metadata, Template};
use time::OffsetDateTime;
use uuid::Uuid;

use super::{cards, field_errors, flash, form_again, render, FormReply, Html};
use crate::accounts::{self, overview, verify, PasswordChange};
use crate::app::App;
use crate::catalog;
use crate::kept::Weigh;
use crate::domain::Role;
use crate::auth::cookies::{self, REFRESH_COOKIE};
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{session, Authenticated, ClientInfo, CurrentUser, FreshUser};
use crate::error::{AppError, PageResult};
use crate::store::recipes::RecipeFilter;
use crate::store::{self as db_store};
use crate::views::{human, span, EventView, Nav, SessionView};
use crate::routes::ids::ValidIds;

/// `/me` shows this many of the newest own recipes, and links to the rest
/// (and `overview::NEWEST_EVENTS` events).
const ME_RECIPES: u64 = 20;
const ME_PAGE: &str = "me page";

/// `/me` as rendered for one session of an account, kept under the
/// account's version (which covers the overview) and the recipes' version
/// (the own recipes), with what it showed that neither covers: the guard's
/// part, the session's CSRF value and the moment the first session or link
/// shown expires. An account has at most `sessions_per_account` live
/// sessions, so it has at most that many such pages, each listing at most
/// that many sessions; each is weighed against the one budget.
pub struct MePage {
    profile: (String, String, bool, Role),
    csrf: String,
    until: Option<OffsetDateTime>,
    html: Arc<str>,
}

impl Weigh for MePage {
    fn heap_bytes(&self) -> usize {
        self.profile.0.heap_bytes() + self.profile.1.heap_bytes() + self.csrf.heap_bytes() + self.html.heap_bytes()
    }
}

impl MePage {
    fn profile(user: &Authenticated) -> (String, String, bool, Role) {
        (user.username.clone(), user.email.clone(), user.email_verified, user.role)
    }

    /// Whether this is still the page `user` would be shown.
    fn still_shows(&self, user: &Authenticated) -> bool {
        let (username, email, verified, role) = &self.profile;
        (username, email, *verified, *role) == (&user.username, &user.email, user.email_verified, user.role)
            && self.csrf == user.csrf
            && self.until.is_none_or(|until| db_store::now() < until)
    }
}

#[get("/me")]
pub async fn me(user: CurrentUser, app: &State<App>, templates: Metadata<'_>, message: Option<FlashMessage<'_>>) -> PageResult<Html> {
    let key = (user.public_id, user.sid);
    let versions = [user.user_version, user.recipes_version];
    // A flash message is shown once: such a page is not kept.
    let keep = message.is_none();
    if let Some(page) = app.kept.get::<MePage>(ME_PAGE, &key, &versions).filter(|page| keep && page.still_shows(&user)) {
        return Ok(RawHtml(Arc::clone(&page.html)));
    }
    let own = catalog::list(app, Some(&user), RecipeFilter { owner_id: Some(user.id), ..Default::default() }, 1, ME_RECIPES).await?;
    let overview = overview::of(app, &user).await?;
    let sessions: Vec<SessionView> = overview.sessions().map(|s| SessionView::new(s, user.sid, session::ends_at(app, s.created_at.0))).collect();
    let events: Vec<EventView> = overview.events.iter().cloned().map(EventView::from).collect();
    let pending_email = overview.pending_email().filter(|e| *e != user.email);
    let context = context! {
        nav: Nav::new(Some(&user)),
        flash: flash(message),
        csrf: &user.csrf,
        // The profile is what the guard read: no query for it.
        username: &user.username,
        email: &user.email,
        verified: user.email_verified,
        pending_email,
        public_id: user.public_id,
        role: user.role,
        joined: human(user.created_at),
        cards: cards(app, &own, &templates)?,
        recipe_total: own.page.total,
        more_recipes: own.page.total > ME_RECIPES,
        sessions,
        session_lasts: span(app.config.session_max_age),
        events,
    };
    let html = render(&templates, "pages/me", context)?;
    if keep {
        let page = MePage { profile: MePage::profile(&user), csrf: user.csrf.clone(), until: overview.changes_at(), html: Arc::clone(&html) };
        app.kept.put(ME_PAGE, &key, &versions, page);
    }
    Ok(RawHtml(html))
}

/// Ends one of the user's own sessions. Someone else's `sid` is a 404: it
/// does not exist for this user.
#[post("/me/sessions/<sid>/revoke", data = "<_form>")]
pub async fn session_revoke(
    _ids: ValidIds,
    sid: Uuid,
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    accounts::end_session(app, &user, sid, &client).await?;
    if sid == user.sid {
        cookies::clear_tokens(jar);
        let to_login = Redirect::to(uri!(super::account::login_form(next = None::<String>)));
        return Ok(Flash::success(to_login, "This session has ended."));
    }
    Ok(Flash::success(Redirect::to(uri!(me)), "The session has ended."))
}

/// Every token of the user stops working, this browser's included.
#[post("/me/logout-everywhere", data = "<_form>")]
pub async fn logout_everywhere(
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    accounts::logout_everywhere(app, &user, &client).await?;
    cookies::clear_tokens(jar);
    let to_login = Redirect::to(uri!(super::account::login_form(next = None::<String>)));
    Ok(Flash::success(to_login, "You have been logged out everywhere."))
}

#[derive(Debug, FromForm)]
pub struct PasswordForm {
    #[field(default = String::new())]
    current_password: String,
    #[field(default = String::new())]
    new_password: String,
    #[field(default = String::new())]
    new_password_confirm: String,
}

fn password_page(app: &App, user: &Authenticated, error: Option<&AppError>) -> Template {
    Template::render(
        "pages/password",
        context! {
            nav: Nav::new(Some(user)),
            csrf: &user.csrf,
            errors: error.map(field_errors),
            min_length: app.config.password_rules.min_length,
        },
    )
}

/// The password form. It needs a fresh login: a session whose token came
/// from a refresh is sent to confirm the password first, then comes back
/// here (the catcher does that for `FreshUser`).
///
/// An account made through a provider has no password to change: the page
/// says so and points to the reset link, which sets its first one.
#[get("/me/password")]
pub async fn password_form(user: FreshUser, app: &State<App>) -> PageResult<Template> {
    let account = crate::store::users::find_by_id(&app.db, user.id).await?.ok_or(AppError::NotFound)?;
    if account.password().is_none() {
        return Ok(Template::render("pages/password", context! { nav: Nav::new(Some(&user)), csrf: &user.csrf, no_password: true }));
    }
    Ok(password_page(app, &user, None))
}

/// Changes the password; every other session ends, and this browser goes
/// on with new tokens (the old ones are blocklisted).
#[post("/me/password", data = "<form>")]
pub async fn password_change(
    user: FreshUser,
    form: Csrf<PasswordForm>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<FormReply> {
    let form = form.0;
    let input = PasswordChange {
        current_password: &form.current_password,
        new_password: &form.new_password,
        new_password_confirm: Some(&form.new_password_confirm),
    };
    if let Err(error) = accounts::change_password(app, &user, input, &client).await {
        return form_again(error, |e| password_page(app, &user, Some(e)));
    }
    // Every earlier token of this session stops too (an access token from
    // before a rotation would otherwise live until it expires); the new
    // pair is issued after the cut-off, so it works.
    session::cut_off(app, (&*user).into()).await?;
    let refresh = jar.get(REFRESH_COOKIE).map(|c| c.value().to_owned());
    let pair = session::reissue(app, &user, refresh.as_deref()).await?;
    cookies::set_tokens(jar, &pair, &app.config);
    let done = "Your password has been changed. Every other session has been logged out.";
    Ok(FormReply::Done(Flash::success(Redirect::to(uri!(me)), done)))
}

/// Sends a new verification link to the user's address (the older one
/// stops working).
#[post("/me/verify-email", data = "<_form>")]
pub async fn verification_resend(
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let account = db_store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    if account.email_verified_at.is_some() {
        return Ok(Flash::success(Redirect::to(uri!(me)), "Your address is verified already."));
    }
    verify::send_link(app, &account, &account.email, &client).await?;
    Ok(Flash::success(Redirect::to(uri!(me)), format!("A new link is on its way to {}.", account.email)))
}

#[derive(Debug, FromForm)]
pub struct EmailForm {
    #[field(default = String::new())]
    email: String,
    #[field(default = String::new())]
    current_password: String,
}

fn email_page(user: &Authenticated, current: &str, typed: Option<&str>, error: Option<&AppError>) -> Template {
    Template::render(
        "pages/email",
        context! { nav: Nav::new(Some(user)), csrf: &user.csrf, current, email: typed, errors: error.map(field_errors) },
    )
}

/// Like the password, the address needs a fresh login (SPEC §4).
#[get("/me/email")]
pub fn email_form(user: FreshUser) -> Template {
    email_page(&user, &user.email, None, None)
}

/// Sends a verification link to the new address; the old one stays the
/// account's until the link is followed.
#[post("/me/email", data = "<form>")]
pub async fn email_change(user: FreshUser, form: Csrf<EmailForm>, client: ClientInfo, app: &State<App>) -> PageResult<FormReply> {
    let form = form.0;
    match verify::request_change(app, &user, &form.email, &form.current_password, &client).await {
        Ok(email) => {
            let message = format!("A link is on its way to {email}. Your address changes when you follow it.");
            Ok(FormReply::Done(Flash::success(Redirect::to(uri!(me)), message)))
        }
        Err(error) => form_again(error, |e| email_page(&user, &user.email, Some(form.email.trim()), Some(e))),
    }
}
