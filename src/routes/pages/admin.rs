//! The admin pages (SPEC.md §4): the user list, one user's page, the audit
//! trail, and the actions on an account.
//!
//! Every action is two steps that work without JavaScript: the buttons on a
//! user's page are links to a confirmation page at the action's own path
//! (GET), whose form posts to that same path with its `csrf_token`. Every
//! handler takes `AdminUser`, so a plain user gets 403 and a visitor is sent
//! to log in. The actions themselves (and the last-admin rule) live in
//! `accounts::admin`, shared with the API.

use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Metadata, Template};
use serde::Serialize;
use uuid::Uuid;

use super::tokens::token_views;
use super::{cards, flash};
use crate::accounts::{admin, tokens, two_factor};
use crate::app::App;
use crate::catalog;
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{AdminUser, Authenticated, ClientInfo, FreshAdmin};
use crate::domain::{AuditKind, FieldErrors, Role};
use crate::entities::user;
use crate::error::{AppError, PageResult};
use crate::routes::paging::{bad_query, search_term, Pager, Paging, PAGE_SIZE};
use crate::store::audit::EventFilter;
use crate::store::recipes::RecipeFilter;
use crate::store;
use crate::views::{AdminUserView, EventView, Nav};
use crate::routes::ids::{AdminAction, ValidIds};

async fn find_user(app: &App, public_id: Uuid) -> Result<user::Model, AppError> {
    store::users::find_by_public_id(&app.db, public_id).await?.ok_or(AppError::NotFound)
}

#[get("/admin")]
pub fn admin_home(_admin: AdminUser) -> Redirect {
    Redirect::to(uri!(admin_users(None::<String>, None::<String>)))
}

#[get("/admin/users?<q>&<page>")]
pub async fn admin_users(
    q: Option<String>,
    page: Option<String>,
    admin: AdminUser,
    app: &State<App>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Template> {
    let paging = Paging::parse(page.as_deref(), None).map_err(bad_query)?;
    let q = search_term(q.as_deref()).map_err(bad_query)?;
    let found = store::users::list(&app.db, q, paging.page, PAGE_SIZE).await?;
    let pager = Pager::of(&found);
    let ids: Vec<i64> = found.items.iter().map(|u| u.id).collect();
    let mut with_two_factor = store::factors::with_totp(&app.db, &ids).await?;
    with_two_factor.extend(store::passkeys::with_passkeys(&app.db, &ids).await?);
    let users: Vec<AdminUserView> =
        found.items.iter().map(|u| AdminUserView::from(u).with_two_factor(with_two_factor.contains(&u.id))).collect();
    Ok(Template::render(
        "pages/admin/users",
        context! { nav: Nav::new(Some(&admin)), flash: flash(message), users, q, pager },
    ))
}

#[get("/admin/users/<public_id>?<page>")]
pub async fn admin_user(
    _ids: ValidIds,
    public_id: Uuid,
    page: Option<String>,
    admin: AdminUser,
    app: &State<App>,
    templates: Metadata<'_>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Template> {
    let paging = Paging::parse(page.as_deref(), None).map_err(bad_query)?;
    let target = find_user(app, public_id).await?;
    let own = RecipeFilter { owner_id: Some(target.id), ..Default::default() };
    let found = catalog::list(app, Some(&admin), own, paging.page, PAGE_SIZE).await?;
    let pager = Pager::of(&found.page);
    let sessions = store::sessions::count_active(&app.db, target.id).await?;
    let about = EventFilter { subject: Some(target.public_id), kind: None };
    let events: Vec<EventView> = store::audit::list(&app.db, about, 1, PAGE_SIZE).await?.items.into_iter().map(EventView::from).collect();
    let tokens = token_views(app, target.id).await?;
    Ok(Template::render(
        "pages/admin/user",
        context! {
            nav: Nav::new(Some(&admin)),
            flash: flash(message),
            user: AdminUserView::from(&target).with_two_factor(two_factor::factors(app, &target).await?.any()),
            is_self: target.id == admin.id,
            cards: cards(app, &found, &templates)?,
            pager,
            sessions,
            tokens,
            events,
        },
    ))
}

/// What a confirmation page asks.
#[derive(Serialize)]
struct Confirmation {
    title: String,
    question: String,
    consequence: &'static str,
    action: String,
    button: String,
    danger: bool,
    /// The `role` field of a role change.
    role: Option<Role>,
}

fn confirm_page(admin: &Authenticated, target: &user::Model, confirmation: Confirmation) -> Template {
    Template::render(
        "pages/admin/confirm",
        context! { nav: Nav::new(Some(admin)), csrf: &admin.csrf, user: AdminUserView::from(target), confirmation },
    )
}

/// The confirmation pages refuse straight away what the action would
/// refuse (the last active admin), rather than ask first and refuse after.
async fn refuse_last_admin(app: &App, target: &user::Model, removes_admin: bool) -> Result<(), AppError> {
    if removes_admin && store::users::is_last_active_admin(&app.db, target).await? {
        return Err(AppError::LastAdmin);
    }
    Ok(())
}

/// `?role=admin|user`; without it, the role the user does not have.
#[get("/admin/users/<public_id>/role?<role>")]
pub async fn admin_role_form(
    _ids: ValidIds,
    public_id: Uuid,
    role: Option<String>,
    admin: AdminUser,
    app: &State<App>,
) -> PageResult<Template> {
    let target = find_user(app, public_id).await?;
    let role = match role.as_deref() {
        None | Some("") => if target.role == Role::Admin { Role::User } else { Role::Admin },
        Some(raw) => raw.parse::<Role>().map_err(|e| AppError::BadRequest(e.0))?,
    };
    refuse_last_admin(app, &target, role == Role::User).await?;
    let question = match role {
        Role::Admin => format!("Make {} an admin?", target.username),
        Role::User => format!("Make {} a plain user?", target.username),
    };
    let consequence = match role {
        Role::Admin => "Admins can manage every account and delete any recipe.",
        Role::User => "They lose access to the admin pages on their next request.",
    };
    let confirmation = Confirmation {
        title: "Change role".into(),
        question,
        consequence,
        action: uri!(admin_role(public_id)).to_string(),
        button: format!("Yes, make {} {}", target.username, if role == Role::Admin { "an admin" } else { "a user" }),
        danger: role == Role::User,
        role: Some(role),
    };
    Ok(confirm_page(&admin, &target, confirmation))
}

#[derive(Debug, FromForm)]
pub struct RoleForm {
    #[field(default = String::new())]
    role: String,
}

#[post("/admin/users/<public_id>/role", data = "<form>")]
pub async fn admin_role(
    _ids: ValidIds,
    public_id: Uuid,
    admin: AdminUser,
    form: Csrf<RoleForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let role = form.0.role.parse::<Role>().map_err(|e| AppError::Validation(FieldErrors::single("role", e.0)))?;
    let target = find_user(app, public_id).await?;
    admin::set_role(app, admin::By::admin(&admin), &target, role, &client).await?;
    let done = format!("{} is now {}.", target.username, if role == Role::Admin { "an admin" } else { "a plain user" });
    if target.id == admin.id && role == Role::User {
        // The admin pages are closed to them from now on.
        return Ok(Flash::success(Redirect::to(uri!(super::me::me)), done));
    }
    Ok(Flash::success(Redirect::to(uri!(admin_user(public_id, None::<String>))), done))
}

impl AdminAction {
    fn removes_admin(self) -> bool {
        matches!(self, AdminAction::Disable | AdminAction::Delete)
    }

    fn confirmation(self, target: &user::Model, recipes: u64) -> Confirmation {
        let name = &target.username;
        let (title, question, consequence, button) = match self {
            AdminAction::Disable => (
                "Disable account",
                format!("Disable {name}'s account?"),
                "Every session ends at once and they cannot log in until the account is enabled again.",
                format!("Yes, disable {name}"),
            ),
            AdminAction::Enable => (
                "Enable account",
                format!("Enable {name}'s account?"),
                "They can log in again with their password.",
                format!("Yes, enable {name}"),
            ),
            AdminAction::Logout => (
                "Force logout",
                format!("Log {name} out everywhere?"),
                "Every session and every token of theirs stops working at once; they can log in again.",
                format!("Yes, log {name} out"),
            ),
            AdminAction::Delete => (
                "Delete account",
                match recipes {
                    0 => format!("Delete {name}'s account?"),
                    1 => format!("Delete {name}'s account and their recipe?"),
                    n => format!("Delete {name}'s account and their {n} recipes?"),
                },
                "This cannot be undone. The audit trail keeps a record of the deletion.",
                format!("Yes, delete {name}"),
            ),
        };
        Confirmation {
            title: title.into(),
            question,
            consequence,
            action: format!("/admin/users/{}/{}", target.public_id, self.path()),
            button,
            danger: self != AdminAction::Enable,
            role: None,
        }
    }
}

#[get("/admin/users/<public_id>/<action>", rank = 2)]
pub async fn admin_action_form(
    _ids: ValidIds,
    public_id: Uuid,
    action: AdminAction,
    admin: AdminUser,
    app: &State<App>,
) -> PageResult<Template> {
    let target = find_user(app, public_id).await?;
    refuse_last_admin(app, &target, action.removes_admin()).await?;
    let own = RecipeFilter { owner_id: Some(target.id), ..Default::default() };
    let recipes = catalog::list(app, Some(&admin), own, 1, 1).await?.page.total;
    Ok(confirm_page(&admin, &target, action.confirmation(&target, recipes)))
}

#[post("/admin/users/<public_id>/<action>", data = "<_form>", rank = 2)]
pub async fn admin_action(
    _ids: ValidIds,
    public_id: Uuid,
    action: AdminAction,
    admin: AdminUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let target = find_user(app, public_id).await?;
    let name = &target.username;
    let done = match action {
        AdminAction::Disable => {
            admin::set_disabled(app, admin::By::admin(&admin), &target, true, &client).await?;
            format!("{name}'s account is disabled and every session of theirs has ended.")
        }
        AdminAction::Enable => {
            admin::set_disabled(app, admin::By::admin(&admin), &target, false, &client).await?;
            format!("{name}'s account is enabled.")
        }
        AdminAction::Logout => {
            admin::force_logout(app, admin::By::admin(&admin), &target, &client).await?;
            format!("{name} has been logged out everywhere.")
        }
        AdminAction::Delete => {
            admin::delete(app, admin::By::admin(&admin), &target, &client).await?;
            let list = uri!(admin_users(None::<String>, None::<String>));
            return Ok(Flash::success(Redirect::to(list), format!("{name}'s account and recipes are deleted.")));
        }
    };
    Ok(Flash::success(Redirect::to(uri!(admin_user(public_id, None::<String>))), done))
}

/// The audit trail, newest first; `?kind=` one kind, `?user=` about one user.
#[get("/admin/audit?<kind>&<user>&<page>")]
pub async fn admin_audit(
    kind: Option<String>,
    user: Option<String>,
    page: Option<String>,
    admin: AdminUser,
    app: &State<App>,
) -> PageResult<Template> {
    let paging = Paging::parse(page.as_deref(), None).map_err(bad_query)?;
    let kind = match kind.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(raw.parse::<AuditKind>().map_err(|e| AppError::BadRequest(e.0))?),
    };
    let subject = match user.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(raw) => Some(Uuid::parse_str(raw).map_err(|_| AppError::BadRequest("user must be a user's public id.".into()))?),
    };
    let subject_user = match subject {
        Some(id) => store::users::find_by_public_id(&app.db, id).await?.map(|u| AdminUserView::from(&u)),
        None => None,
    };
    let found = store::audit::list(&app.db, EventFilter { kind, subject }, paging.page, PAGE_SIZE).await?;
    let pager = Pager::of(&found);
    let events: Vec<EventView> = found.items.into_iter().map(EventView::from).collect();
    let kinds: Vec<(&str, &str)> = AuditKind::ALL.iter().map(|k| (k.as_str(), k.label())).collect();
    Ok(Template::render(
        "pages/admin/audit",
        context! {
            nav: Nav::new(Some(&admin)),
            events,
            pager,
            kinds,
            kind: kind.map(AuditKind::as_str),
            subject,
            subject_user,
        },
    ))
}

/// The outbox at a glance (SPEC.md §6): what waits, what went in the last
/// day, what failed, and the last error; never a body or a link.
#[get("/admin/mail")]
pub async fn admin_mail(admin: AdminUser, app: &State<App>) -> PageResult<Template> {
    let summary = store::outbox::summary(&app.db).await?;
    let oldest_waiting = summary.oldest_waiting.map(|at| crate::views::human(at.0));
    let (last_error, last_error_at) = match summary.last_error {
        Some((error, at)) => (Some(error), Some(crate::views::human(at.0))),
        None => (None, None),
    };
    Ok(Template::render(
        "pages/admin/mail",
        context! {
            nav: Nav::new(Some(&admin)),
            queued: summary.queued,
            sent_last_day: summary.sent_last_day,
            failed: summary.failed,
            oldest_waiting,
            last_error,
            last_error_at,
        },
    ))
}

/// An admin's own factors are changed on `/me/security`, as anyone's are
/// (with their own confirmations and notices), never by the admin reset.
fn own_factors(admin: &FreshAdmin, target: &user::Model) -> Option<Flash<Redirect>> {
    (target.id == admin.id).then(|| {
        let security = uri!(super::security::security);
        Flash::warning(Redirect::to(security), "Your own two-step login is managed here, on your security page.")
    })
}

/// Resetting a user's second factors, for someone who lost their phone and
/// their recovery codes: confirmation first. It removes factors, so it asks
/// for a fresh admin session (SPEC §4), like the user's own changes do.
#[get("/admin/users/<public_id>/two-factor/reset")]
pub async fn admin_two_factor_reset_form(
    _ids: ValidIds,
    public_id: Uuid,
    admin: FreshAdmin,
    app: &State<App>,
) -> PageResult<Result<Template, Flash<Redirect>>> {
    let target = find_user(app, public_id).await?;
    if let Some(elsewhere) = own_factors(&admin, &target) {
        return Ok(Err(elsewhere));
    }
    let confirmation = Confirmation {
        title: "Reset two-step login".into(),
        question: format!("Reset {}'s two-step login?", target.username),
        consequence: "Their authenticator app, recovery codes, passkeys and remembered browsers stop working, every session of \
                      theirs ends, and they are told by mail. Their password alone then logs in: do this only for \
                      someone whose identity you have checked.",
        action: uri!(admin_two_factor_reset(public_id)).to_string(),
        button: format!("Yes, reset {}'s two-step login", target.username),
        danger: true,
        role: None,
    };
    Ok(Ok(confirm_page(&admin, &target, confirmation)))
}

#[post("/admin/users/<public_id>/two-factor/reset", data = "<_form>")]
pub async fn admin_two_factor_reset(
    _ids: ValidIds,
    public_id: Uuid,
    admin: FreshAdmin,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let target = find_user(app, public_id).await?;
    if let Some(elsewhere) = own_factors(&admin, &target) {
        return Ok(elsewhere);
    }
    two_factor::reset_by_admin(app, &admin, &target, &client).await?;
    let done = format!("{}'s two-step login is reset and every session of theirs has ended.", target.username);
    Ok(Flash::success(Redirect::to(uri!(admin_user(public_id, None::<String>))), done))
}

/// The user's live token `token_id`, for its confirmation page: an unknown,
/// ended or someone else's id is a 404.
async fn live_token(app: &App, target: &user::Model, token_id: Uuid) -> Result<crate::entities::access_token::Model, AppError> {
    store::access_tokens::find_live(&app.db, target.id, token_id).await?.ok_or(AppError::NotFound)
}

/// Revoking one of a user's personal access tokens: confirmation first.
#[get("/admin/users/<public_id>/tokens/<token_id>/revoke")]
pub async fn admin_token_revoke_form(
    _ids: ValidIds,
    public_id: Uuid,
    token_id: Uuid,
    admin: AdminUser,
    app: &State<App>,
) -> PageResult<Template> {
    let target = find_user(app, public_id).await?;
    let token = live_token(app, &target, token_id).await?;
    let confirmation = Confirmation {
        title: "Revoke token".into(),
        question: format!("Revoke {}'s token \u{201c}{}\u{201d}?", target.username, token.name),
        consequence: "Whatever uses it stops working at once; the owner can make a new one. The audit trail records who revoked it.",
        action: uri!(admin_token_revoke(public_id, token_id)).to_string(),
        button: "Yes, revoke the token".into(),
        danger: true,
        role: None,
    };
    Ok(confirm_page(&admin, &target, confirmation))
}

#[post("/admin/users/<public_id>/tokens/<token_id>/revoke", data = "<_form>")]
pub async fn admin_token_revoke(
    _ids: ValidIds,
    public_id: Uuid,
    token_id: Uuid,
    admin: AdminUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let target = find_user(app, public_id).await?;
    tokens::revoke(app, &target, token_id, Some(admin::By::admin(&admin)), &client).await?;
    let done = format!("{}'s token is revoked: it stopped working at once.", target.username);
    Ok(Flash::success(Redirect::to(uri!(admin_user(public_id, None::<String>))), done))
}
