//! `/me`: the profile, own recipes, and login sessions.

use rocket::http::CookieJar;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Template};
use uuid::Uuid;

use super::flash;
use crate::app::App;
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{cookies, session, CurrentUser};
use crate::error::{AppError, PageResult};
use crate::store::recipes::{self, RecipeFilter};
use crate::store::{self as db_store};
use crate::views::{human, Nav, RecipeCard, SessionView};


#[get("/me")]
pub async fn me(user: CurrentUser, app: &State<App>, message: Option<FlashMessage<'_>>) -> PageResult<Template> {
    let profile = db_store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    let own = recipes::list(
        &app.db,
        super::recipes::viewer(Some(&user)),
        RecipeFilter { owner_id: Some(user.id), q: None },
        1,
        crate::routes::paging::MAX_PER_PAGE,
    )
    .await?;
    let sessions: Vec<SessionView> = db_store::sessions::list_active(&app.db, user.id)
        .await?
        .iter()
        .map(|s| SessionView::new(s, user.sid))
        .collect();
    let own_recipes: Vec<RecipeCard> = own.items.into_iter().map(|row| RecipeCard::new(row, Some(&user))).collect();
    Ok(Template::render(
        "pages/me",
        context! {
            nav: Nav::new(Some(&user)),
            flash: flash(message),
            csrf: &user.csrf,
            username: &profile.username,
            email: &profile.email,
            public_id: profile.public_id,
            role: profile.role,
            joined: human(profile.created_at.0),
            recipes: own_recipes,
            recipe_total: own.total,
            sessions,
        },
    ))
}

/// Ends one of the user's own sessions. Someone else's `sid` is a 404: it
/// does not exist for this user.
#[post("/me/sessions/<sid>/revoke", data = "<_form>")]
pub async fn session_revoke(
    sid: Uuid,
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    if !db_store::sessions::revoke(&app.db, sid, Some(user.id)).await? {
        return Err(AppError::NotFound.into());
    }
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
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    session::end_all(app, user.id, None).await?;
    cookies::clear_tokens(jar);
    let to_login = Redirect::to(uri!(super::account::login_form(next = None::<String>)));
    Ok(Flash::success(to_login, "You have been logged out everywhere."))
}
