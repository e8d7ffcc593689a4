//! The home page: the newest recipes the visitor may see.

use rocket::request::FlashMessage;
use rocket::{get, State};
use rocket_dyn_templates::{context, Metadata};

use super::{cards, flash, list_page, render, Html};
use crate::app::App;
use crate::catalog;
use crate::auth::MaybeUser;
use crate::error::PageResult;

use crate::store::recipes::RecipeFilter;
use crate::views::Nav;

const LATEST: u64 = 10;

#[get("/")]
pub async fn home(user: MaybeUser, app: &State<App>, templates: Metadata<'_>, message: Option<FlashMessage<'_>>) -> PageResult<Html> {
    const TEMPLATE: &str = "pages/home";
    let user = user.0.as_ref();
    let latest = catalog::list(app, user, RecipeFilter::default(), 1, LATEST).await?;
    let more = latest.page.total > LATEST;
    Ok(list_page(app, &latest, TEMPLATE, user, message, |message| {
        let context = context! { nav: Nav::new(user), flash: flash(message), cards: cards(app, &latest, &templates)?, more };
        render(&templates, TEMPLATE, context)
    })?)
}
