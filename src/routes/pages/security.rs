//! `/me/security` and two-step login's pages (SPEC.md §4): turning TOTP on
//! with a QR code, the recovery codes shown once, turning it off, renewing
//! the codes, forgetting remembered browsers.
//!
//! Every change of a factor needs a fresh session (`FreshUser`): a stale
//! one is sent to log in again, with every factor, and comes back.

use rocket::form::FromForm;
use rocket::http::Status;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};
use serde::Serialize;
use uuid::Uuid;

use super::{field_errors, flash, form_again, FormReply};
use crate::accounts::{identities, passkeys};
use crate::accounts::two_factor::{self, Enrolment};
use crate::app::App;
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{Authenticated, ClientInfo, CurrentUser, FreshUser};
use crate::entities::{passkey, remembered_browser};
use crate::error::{AppError, PageResult};
use crate::routes::ids::ValidIds;
use crate::client::device;
use crate::views::{human, Nav};

/// A remembered browser as `/me/security` lists it.
#[derive(Serialize)]
struct BrowserView {
    id: Uuid,
    device: String,
    ip: String,
    remembered: String,
    last_used: String,
    until: String,
}

impl From<remembered_browser::Model> for BrowserView {
    fn from(row: remembered_browser::Model) -> Self {
        Self {
            id: row.public_id,
            device: row.device,
            ip: row.ip_address.unwrap_or_else(|| "unknown".into()),
            remembered: human(row.created_at.0),
            last_used: row.last_used_at.map_or_else(|| "not yet".into(), |at| human(at.0)),
            until: human(row.expires_at.0),
        }
    }
}

/// A passkey as `/me/security` lists it.
#[derive(Serialize)]
struct PasskeyView {
    id: Uuid,
    name: String,
    added: String,
    last_used: String,
}

impl From<passkey::Model> for PasskeyView {
    fn from(row: passkey::Model) -> Self {
        Self {
            id: row.public_id,
            name: row.name,
            added: human(row.created_at.0),
            last_used: row.last_used_at.map_or_else(|| "never".into(), |at| human(at.0)),
        }
    }
}

/// A linked provider as `/me/security` lists it.
#[derive(Serialize)]
struct IdentityView {
    id: Uuid,
    provider: String,
    email: String,
    linked: String,
    last_used: String,
}

#[get("/me/security")]
pub async fn security(
    user: CurrentUser,
    client: ClientInfo,
    app: &State<App>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Template> {
    let security = two_factor::security(app, &user).await?;
    let browsers: Vec<BrowserView> = security.browsers.into_iter().map(BrowserView::from).collect();
    let passkeys: Vec<PasskeyView> = security.passkeys.into_iter().map(PasskeyView::from).collect();
    let links = identities::list(app, user.id).await?;
    let mut unlinked = app.oidc.buttons();
    unlinked.retain(|button| !links.iter().any(|link| link.provider == button.key));
    let identities: Vec<IdentityView> = links
        .into_iter()
        .map(|row| IdentityView {
            id: row.public_id,
            provider: app.oidc.config(&row.provider).map_or_else(|_| row.provider.clone(), |p| p.name.clone()),
            email: row.email.unwrap_or_else(|| "not given".into()),
            linked: human(row.linked_at.0),
            last_used: row.last_used_at.map_or_else(|| "never".into(), |at| human(at.0)),
        })
        .collect();
    Ok(Template::render(
        "pages/security",
        context! {
            nav: Nav::new(Some(&user)),
            flash: flash(message),
            csrf: &user.csrf,
            totp: security.totp,
            password: security.password,
            codes_left: security.codes_left,
            browsers,
            remember_days: two_factor::REMEMBER_SECONDS / 86_400,
            passkeys,
            passkeys_off: app.passkeys.as_ref().err(),
            passkey_name: device::describe(client.user_agent.as_deref()),
            passkey_name_max: passkeys::NAME_CHARS,
            identities,
            unlinked,
        },
    ))
}

fn enrol_page(user: &Authenticated, enrolment: &Enrolment, error: Option<&AppError>) -> Template {
    // The secret in groups of four, as apps show it; typed either way.
    let grouped: Vec<&str> =
        enrolment.secret.as_bytes().chunks(4).map(|chunk| std::str::from_utf8(chunk).unwrap_or_default()).collect();
    Template::render(
        "pages/two_factor",
        context! {
            nav: Nav::new(Some(user)),
            csrf: &user.csrf,
            secret: grouped.join(" "),
            qr_svg: &enrolment.qr_svg,
            account: &user.email,
            errors: error.map(field_errors),
        },
    )
}

fn codes_page(user: &Authenticated, codes: &[String], renewed: bool) -> Template {
    let download = format!("data:text/plain;charset=utf-8,{}", urlencode(&codes_file(user, codes)));
    Template::render(
        "pages/recovery_codes",
        context! { nav: Nav::new(Some(user)), codes, renewed, download },
    )
}

/// The recovery codes as a text file to keep.
fn codes_file(user: &Authenticated, codes: &[String]) -> String {
    let mut text = format!("recipebox recovery codes for {}\nEach works once, in place of a code from your app.\n\n", user.email);
    for code in codes {
        text.push_str(code);
        text.push('\n');
    }
    text
}

fn urlencode(text: &str) -> String {
    rocket::http::RawStr::new(text).percent_encode().to_string()
}

/// Turning two-step login on: the secret as a QR code and as text, and a
/// field for the first code. When it is on already, `/me/security`.
#[get("/me/two-factor")]
pub async fn enrol_form(user: FreshUser, app: &State<App>) -> PageResult<Result<Template, Flash<Redirect>>> {
    match two_factor::enrolment(app, &user).await? {
        Some(enrolment) => Ok(Ok(enrol_page(&user, &enrolment, None))),
        None => Ok(Err(Flash::success(Redirect::to(uri!(security)), "Two-step login is on already."))),
    }
}

#[derive(Debug, FromForm)]
pub struct CodeForm {
    #[field(default = String::new())]
    code: String,
}

/// A right code turns it on; the recovery codes are shown once, now.
#[post("/me/two-factor", data = "<form>")]
pub async fn enrol(user: FreshUser, form: Csrf<CodeForm>, client: ClientInfo, app: &State<App>) -> PageResult<FormReply> {
    match two_factor::enable(app, &user, &form.0.code, &client).await {
        Ok(codes) => Ok(FormReply::Again((Status::Ok, codes_page(&user, &codes, false)))),
        Err(error) => match two_factor::enrolment(app, &user).await? {
            Some(enrolment) => form_again(error, |e| enrol_page(&user, &enrolment, Some(e))),
            None => Ok(FormReply::Done(Flash::success(Redirect::to(uri!(security)), "Two-step login is on already."))),
        },
    }
}

#[post("/me/two-factor/disable", data = "<_form>")]
pub async fn disable(user: FreshUser, _form: Csrf<ActionForm>, client: ClientInfo, app: &State<App>) -> PageResult<Flash<Redirect>> {
    let message = match two_factor::disable(app, &user, &client).await? {
        true => "Two-step login is off. Your recovery codes no longer work.",
        false => "Two-step login was off already.",
    };
    Ok(Flash::success(Redirect::to(uri!(security)), message))
}

#[post("/me/recovery-codes", data = "<_form>")]
pub async fn renew_codes(user: FreshUser, _form: Csrf<ActionForm>, client: ClientInfo, app: &State<App>) -> PageResult<FormReply> {
    match two_factor::renew_codes(app, &user, &client).await? {
        Some(codes) => Ok(FormReply::Again((Status::Ok, codes_page(&user, &codes, true)))),
        None => {
            let message = "Recovery codes come with two-step login: turn it on first.";
            Ok(FormReply::Done(Flash::warning(Redirect::to(uri!(security)), message)))
        }
    }
}

#[post("/me/browsers/<public_id>/forget", data = "<_form>")]
pub async fn forget_browser(
    _ids: ValidIds,
    public_id: Uuid,
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    two_factor::forget_browser(app, &user, public_id, &client).await?;
    Ok(Flash::success(Redirect::to(uri!(security)), "That browser will be asked for a code at its next login."))
}
