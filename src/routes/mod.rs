//! Route tables and catchers. Pages mount at `/`, the JSON API at `/api/v1`;
//! each family has its own catchers, which render through the same
//! `PageError`/`ApiError` as the handlers.

pub mod api;
pub mod health;
pub mod ids;
pub mod json;
pub mod pages;
pub mod paging;
pub mod passkeys;
pub mod well_known;

use rocket::http::Status;
use rocket::response::{Flash, Redirect};
use rocket::{catch, catchers, routes, Catcher, Request, Route};

use crate::error::{take_failure, ApiError, AppError, AuthError, PageError};

pub fn pages() -> Vec<Route> {
    use pages::{account, account_delete, admin, home, me, oidc, recipes, reset, security, tokens};
    routes![
        home::home,
        health::healthz,
        well_known::jwks,
        well_known::change_password,
        account::signup_form,
        account::signup,
        account::login_form,
        account::login,
        account::second_step_form,
        account::second_step,
        account::logout,
        oidc::begin,
        oidc::callback,
        oidc::signup_form,
        oidc::signup,
        oidc::link,
        oidc::unlink,
        reset::forgot_password_form,
        reset::forgot_password,
        reset::reset_password_form,
        reset::reset_password,
        me::me,
        me::session_revoke,
        me::logout_everywhere,
        me::password_form,
        me::password_change,
        me::verification_resend,
        me::email_form,
        me::email_change,
        security::security,
        security::enrol_form,
        security::enrol,
        security::disable,
        security::renew_codes,
        security::forget_browser,
        tokens::tokens_list,
        tokens::tokens_create,
        tokens::tokens_revoke,
        tokens::tokens_revoke_all,
        tokens::export_download,
        passkeys::register_begin,
        passkeys::register_finish,
        passkeys::login_begin,
        passkeys::login_finish,
        passkeys::second_step_begin,
        passkeys::second_step_finish,
        passkeys::remove,
        account_delete::account_delete_form,
        account_delete::account_delete,
        account::verify_email,
        admin::admin_home,
        admin::admin_users,
        admin::admin_user,
        admin::admin_role_form,
        admin::admin_role,
        admin::admin_action_form,
        admin::admin_action,
        admin::admin_audit,
        admin::admin_mail,
        admin::admin_two_factor_reset_form,
        admin::admin_two_factor_reset,
        admin::admin_token_revoke_form,
        admin::admin_token_revoke,
        recipes::recipe_list,
        recipes::recipe_new_form,
        recipes::recipe_create,
        recipes::recipe_show,
        recipes::recipe_edit_form,
        recipes::recipe_update,
        recipes::recipe_delete,
        pages::cross_origin,
        pages::unknown_get,
        pages::unknown_post,
    ]
}

pub fn api() -> Vec<Route> {
    use api::{auth, me, recipes, users};
    routes![
        users::register,
        users::list,
        users::show,
        users::update,
        users::delete,
        auth::login,
        auth::second_factor,
        auth::refresh,
        auth::logout,
        auth::logout_delete,
        auth::me,
        auth::change_password,
        me::delete,
        me::export,
        auth::forgot_password,
        auth::reset_password,
        recipes::list,
        recipes::create,
        recipes::show,
        recipes::update,
        recipes::delete,
        api::openapi::openapi_json,
        api::cross_origin,
        api::unknown_get,
        api::unknown_post,
        api::unknown_put,
        api::unknown_patch,
        api::unknown_delete,
    ]
}

/// Not logged in on a page that needs it: 303 to the login form, coming back
/// to the page afterwards (GET only: a form's target is no page to return
/// to). A session that is not fresh enough for the page (the password
/// change) is asked for its password and comes back to the form, which by
/// the site's convention lives at the GET of the path a form posts to.
#[catch(401)]
fn page_unauthorized(req: &Request<'_>) -> Result<Flash<Redirect>, Redirect> {
    crate::auth::guard::reapply_token_cookies(req);
    let not_fresh = matches!(take_failure(req, Status::Unauthorized), AppError::Unauthenticated(AuthError::NotFresh));
    let next = if not_fresh {
        Some(req.uri().path().to_string())
    } else {
        (req.method() == rocket::http::Method::Get).then(|| req.uri().to_string())
    };
    let to_login = Redirect::to(rocket::uri!(pages::account::login_form(next = next)));
    if not_fresh {
        Ok(Flash::warning(to_login, "Please confirm your password to continue."))
    } else {
        Err(to_login)
    }
}

#[catch(default)]
fn page_default(status: Status, req: &Request<'_>) -> PageError {
    crate::auth::guard::reapply_token_cookies(req);
    PageError(take_failure(req, status))
}

#[catch(default)]
fn api_default(status: Status, req: &Request<'_>) -> ApiError {
    ApiError(match take_failure(req, status) {
        // Rocket's own 422 (a guard that failed to parse) has no field detail.
        AppError::BadRequest(message) if status == Status::UnprocessableEntity => {
            AppError::Validation(crate::domain::FieldErrors::single("body", message))
        }
        other => other,
    })
}

pub fn page_catchers() -> Vec<Catcher> {
    catchers![page_unauthorized, page_default]
}

pub fn api_catchers() -> Vec<Catcher> {
    catchers![api_default]
}
