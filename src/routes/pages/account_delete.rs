//! `/me/delete`: deleting one's own account (SPEC.md §4). Both the
//! confirmation page and its POST need a fresh session: a stale one is sent
//! to `/login?next=/me/delete` to confirm the password first (the page
//! catcher does that for `FreshUser`), then comes back to the page.

use rocket::form::FromForm;
use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};

use super::{field_errors, form_again, FormReply};
use crate::accounts::delete;
use crate::app::App;
use crate::auth::cookies;
use crate::auth::csrf::Csrf;
use crate::auth::{Authenticated, ClientInfo, FreshUser};
use crate::error::{AppError, PageResult};
use crate::store;
use crate::views::Nav;

#[derive(Debug, FromForm)]
pub struct DeleteAccountForm {
    #[field(default = String::new())]
    current_password: String,
}

/// The confirmation page: the password form, or, for the last active
/// admin, why the account cannot go (and no form).
fn delete_page(user: &Authenticated, last_admin: bool, error: Option<&AppError>) -> Template {
    Template::render(
        "pages/delete_account",
        context! {
            nav: Nav::new(Some(user)),
            csrf: &user.csrf,
            username: &user.username,
            email: &user.email,
            last_admin,
            errors: error.map(field_errors),
        },
    )
}

/// Asks for the password. The last active admin is told why not with 409,
/// as the admin's own delete confirmation does.
#[get("/me/delete")]
pub async fn account_delete_form(user: FreshUser, app: &State<App>) -> PageResult<(Status, Template)> {
    // Only an admin can be the last one; `delete_own` checks again under lock.
    if user.is_admin() {
        let account = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
        if store::users::is_last_active_admin(&app.db, &account).await? {
            return Ok((Status::Conflict, delete_page(&user, true, None)));
        }
    }
    Ok((Status::Ok, delete_page(&user, false, None)))
}

/// Deletes the account with its recipes; the browser's token cookies are
/// cleared and it lands on the home page, logged out, with a message. A
/// wrong password shows the form again (422).
#[post("/me/delete", data = "<form>")]
pub async fn account_delete(
    user: FreshUser,
    form: Csrf<DeleteAccountForm>,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<FormReply> {
    match delete::delete_own(app, &user, &form.0.current_password, &client).await {
        Ok(()) => {}
        Err(AppError::LastAdmin) => return Ok(FormReply::Again((Status::Conflict, delete_page(&user, true, None)))),
        Err(error) => return form_again(error, |e| delete_page(&user, false, Some(e))),
    }
    cookies::clear_tokens(jar);
    let done = "Your account and your recipes have been deleted.";
    Ok(FormReply::Done(Flash::success(Redirect::to(uri!(super::home::home)), done)))
}
