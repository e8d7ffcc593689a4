//! The home page: the newest recipes the visitor may see.

use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::{get, State};
use rocket_dyn_templates::{context, Metadata};

use super::{cards, flash, render, Html};
use crate::app::App;
use crate::catalog;
use crate::auth::MaybeUser;
use crate::error::PageResult;
use crate::routes::pages::recipes::viewer;
use crate::store::recipes::RecipeFilter;
use crate::views::Nav;

const LATEST: u64 = 10;

/// What a visitor sees (no flash message) is the list and nothing else, so
/// it is kept with it.
#[get("/")]
pub async fn home(user: MaybeUser, app: &State<App>, templates: Metadata<'_>, message: Option<FlashMessage<'_>>) -> PageResult<Html> {
    const TEMPLATE: &str = "pages/home";
    let user = user.0.as_ref();
    let latest = catalog::list(app, viewer(user), RecipeFilter::default(), 1, LATEST).await?;
    let visitor = user.is_none() && message.is_none();
    let page = || {
        let more = latest.page.total > LATEST;
        let context = context! { nav: Nav::new(user), flash: flash(message), cards: cards(&latest, &templates)?, more };
        render(&templates, TEMPLATE, context)
    };
    let html = if visitor { latest.page_html(TEMPLATE, page)? } else { page()? };
    Ok(RawHtml(html))
}
