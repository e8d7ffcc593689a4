//! `/me/tokens`: personal access tokens as their owner manages them (SPEC.md
//! §4, §5): the list with a revoke button per live token and one for all,
//! the form that makes one (with a fresh session), and the new token shown
//! once; and `/me/export`, the copy of one's data.
//!
//! The form's expiry: a select named `expires_in_days` (7, 30, 90 or 365,
//! those within `token_max_days`) and an optional date field `expires_on`;
//! a date, when one is given, is used in place of the select. A form that
//! sends a date as `expires_in_days` itself (as SPEC §4 allows) works too:
//! `accounts::tokens::expiry` takes either.

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;
use time::Duration;
use uuid::Uuid;

use super::{field_errors, flash, form_again, FlashView, FormReply};
use crate::accounts::tokens::{self, TokenInput, LIFETIMES, NAME_MAX};
use crate::accounts::export;
use crate::app::App;
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{Authenticated, ClientInfo, CurrentUser, FreshUser};
use crate::domain::{FieldErrors, Scope, Scopes};
use crate::entities::{access_token, user};
use crate::error::{AppError, PageResult};
use crate::routes::api::me::ExportFile;
use crate::routes::ids::ValidIds;
use crate::store;
use crate::views::{human, Nav};

/// The lifetime the form offers first.
const DEFAULT_DAYS: u32 = 30;

/// A token as `/me/tokens` and the admin's user page list it: never its
/// text or hash, which are not kept.
#[derive(Debug, Serialize)]
pub struct TokenView {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<&'static str>,
    pub created: String,
    pub expires: String,
    pub last_used: String,
    pub last_used_ip: Option<String>,
    /// `live`, `revoked` or `expired`.
    pub state: &'static str,
    /// When it was revoked.
    pub revoked: Option<String>,
    pub live: bool,
}

impl From<access_token::Model> for TokenView {
    fn from(row: access_token::Model) -> Self {
        let now = store::now();
        let state = if row.revoked_at.is_some() {
            "revoked"
        } else if row.expires_at.0 <= now {
            "expired"
        } else {
            "live"
        };
        Self {
            id: row.public_id,
            name: row.name,
            scopes: Scopes::parse_stored(&row.scopes).iter().map(Scope::as_str).collect(),
            created: human(row.created_at.0),
            expires: human(row.expires_at.0),
            last_used: row.last_used_at.map_or_else(|| "never".into(), |at| human(at.0)),
            last_used_ip: row.last_used_ip,
            state,
            revoked: row.revoked_at.map(|at| human(at.0)),
            live: state == "live",
        }
    }
}

/// Every token of `user_id`, newest first, as pages show them.
pub async fn token_views(app: &App, user_id: i64) -> Result<Vec<TokenView>, AppError> {
    Ok(tokens::list(app, user_id).await?.into_iter().map(TokenView::from).collect())
}

#[derive(Debug, Default, FromForm)]
pub struct TokenForm {
    #[field(default = String::new())]
    name: String,
    /// One value per checked box.
    #[field(default = Vec::new())]
    scopes: Vec<String>,
    #[field(default = String::new())]
    expires_in_days: String,
    /// A date `YYYY-MM-DD`; when given, it is used instead of `expires_in_days`.
    #[field(default = String::new())]
    expires_on: String,
}

impl TokenForm {
    /// The form as first shown.
    fn empty() -> Self {
        <Self as Default>::default()
    }

    /// What `accounts::tokens::create` is given for the expiry.
    fn expiry(&self) -> &str {
        match self.expires_on.trim() {
            "" => &self.expires_in_days,
            date => date,
        }
    }
}

/// A scope's checkbox.
#[derive(Serialize)]
struct ScopeChoice {
    name: &'static str,
    description: &'static str,
    checked: bool,
}

/// One option of the lifetime select.
#[derive(Serialize)]
struct LifetimeChoice {
    days: u32,
    selected: bool,
}

/// The new token, shown once.
#[derive(Serialize)]
struct NewToken<'a> {
    token: &'a str,
    name: &'a str,
    expires: String,
}

/// The page: the list, the form (with what was typed, and its errors) and
/// the token just made, if one was.
fn tokens_page(
    app: &App,
    user: &Authenticated,
    tokens: Vec<TokenView>,
    form: &TokenForm,
    errors: Option<FieldErrors>,
    new_token: Option<NewToken<'_>>,
    flash: Option<FlashView>,
) -> Template {
    let max_days = app.config.token_max_days;
    // A non-admin is never offered `admin`; an admin's form that names it
    // and fails keeps it ticked.
    let scopes: Vec<ScopeChoice> = Scope::ALL
        .into_iter()
        .filter(|scope| *scope != Scope::Admin || user.is_admin())
        .map(|scope| ScopeChoice {
            name: scope.as_str(),
            description: scope.description(),
            checked: form.scopes.iter().any(|s| s == scope.as_str()),
        })
        .collect();
    let offered: Vec<u32> = LIFETIMES.into_iter().filter(|days| *days <= max_days).collect();
    let chosen = form.expires_in_days.trim().parse::<u32>().ok().filter(|days| offered.contains(days));
    let default = if offered.contains(&DEFAULT_DAYS) { Some(DEFAULT_DAYS) } else { offered.last().copied() };
    let chosen = chosen.or(default);
    let lifetimes: Vec<LifetimeChoice> = offered.iter().map(|&days| LifetimeChoice { days, selected: Some(days) == chosen }).collect();
    let today = store::now().date();
    let first_date = today + Duration::days(1);
    let last_date = today + Duration::days(i64::from(max_days));
    let live = tokens.iter().filter(|t| t.live).count();
    Template::render(
        "pages/tokens",
        context! {
            nav: Nav::new(Some(user)),
            flash,
            csrf: &user.csrf,
            fresh: user.fresh,
            tokens,
            live,
            new_token,
            errors,
            name: form.name.trim(),
            name_hint: format!("What the token is for, to tell it from others: at most {NAME_MAX} characters."),
            scopes,
            lifetimes,
            expires_on: form.expires_on.trim(),
            first_date: first_date.to_string(),
            last_date: last_date.to_string(),
            max_days,
        },
    )
}

#[get("/me/tokens")]
pub async fn tokens_list(user: CurrentUser, app: &State<App>, message: Option<FlashMessage<'_>>) -> PageResult<Template> {
    let tokens = token_views(app, user.id).await?;
    Ok(tokens_page(app, &user, tokens, &TokenForm::empty(), None, None, flash(message)))
}

/// Makes a token (a fresh session only: a stale one is sent to confirm its
/// login first) and shows it, once, above the list.
#[post("/me/tokens", data = "<form>")]
pub async fn tokens_create(user: FreshUser, form: Csrf<TokenForm>, client: ClientInfo, app: &State<App>) -> PageResult<FormReply> {
    let form = form.0;
    let input = TokenInput { name: &form.name, scopes: form.scopes.iter().map(String::as_str).collect(), expires_in_days: form.expiry() };
    match tokens::create(app, &user, input, &client).await {
        Ok(created) => {
            let tokens = token_views(app, user.id).await?;
            let new_token = NewToken { token: &created.token, name: &created.row.name, expires: human(created.row.expires_at.0) };
            let page = tokens_page(app, &user, tokens, &TokenForm::empty(), None, Some(new_token), None);
            Ok(FormReply::Again((Status::Ok, page)))
        }
        Err(error) => {
            let tokens = token_views(app, user.id).await?;
            form_again(error, |e| tokens_page(app, &user, tokens, &form, Some(field_errors(e)), None, None))
        }
    }
}

/// The caller's own row, which `accounts::tokens::revoke` takes.
async fn own_row(app: &App, user: &Authenticated) -> Result<user::Model, AppError> {
    store::users::find_by_id(&app.db, user.id).await?.ok_or(AppError::NotFound)
}

/// Revokes one of the user's own tokens; someone else's, an ended one or
/// an unknown id is a 404.
#[post("/me/tokens/<token_id>/revoke", data = "<_form>")]
pub async fn tokens_revoke(
    _ids: ValidIds,
    token_id: Uuid,
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let owner = own_row(app, &user).await?;
    tokens::revoke(app, &owner, token_id, None, &client).await?;
    Ok(Flash::success(Redirect::to(uri!(tokens_list)), "The token is revoked: it stopped working at once."))
}

/// Revokes every live token of the user.
#[post("/me/tokens/revoke-all", data = "<_form>")]
pub async fn tokens_revoke_all(user: CurrentUser, _form: Csrf<ActionForm>, client: ClientInfo, app: &State<App>) -> PageResult<Flash<Redirect>> {
    let message = match tokens::revoke_all(app, &user, &client).await? {
        0 => "You had no token that works: nothing to revoke.".to_owned(),
        1 => "Your one token is revoked: it stopped working at once.".to_owned(),
        n => format!("All {n} of your tokens are revoked: they stopped working at once."),
    };
    Ok(Flash::success(Redirect::to(uri!(tokens_list)), message))
}

/// Everything the site holds about the user, as a JSON file to keep. It
/// holds the account's whole history, so it asks for a fresh session.
#[get("/me/export")]
pub async fn export_download(user: FreshUser, app: &State<App>) -> PageResult<ExportFile> {
    Ok(ExportFile::new(export::export(app, user.id).await?))
}
