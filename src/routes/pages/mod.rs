//! HTML pages (SPEC.md §4). Handlers translate forms to domain calls and
//! results to templates; a form with bad input is re-rendered with its
//! status (422, 409 or 401), a message beside each field, and the values
//! typed (never a password).

pub mod account;
pub mod account_delete;
pub mod admin;
pub mod home;
pub mod me;
pub mod oidc;
pub mod recipes;
pub mod reset;
pub mod security;
pub mod tokens;

use std::sync::Arc;

use rocket::http::uri::{fmt::Path, Segments};
use rocket::http::Status;
use rocket::post;
use rocket::request::FlashMessage;
use rocket::response::content::RawHtml;
use rocket::response::{Flash, Redirect, Responder};
use rocket_dyn_templates::{context, Metadata, Template};
use serde::Serialize;

use crate::app::App;
use crate::auth::Authenticated;
use crate::catalog::Listing;
use crate::views::RecipeCard;

use crate::error::{AppError, PageError};

/// What a form POST answers: on to the next page, or the form again.
#[derive(Responder)]
pub enum FormReply {
    Done(Flash<Redirect>),
    Again((Status, Template)),
}

/// A flash message for the layout.
#[derive(Debug, Serialize)]
pub struct FlashView {
    pub kind: String,
    pub message: String,
}

/// A page rendered to a string that a kept page can share (`/me` per
/// session, a visitor's list with its list).
pub type Html = RawHtml<Arc<str>>;

/// Renders `name` now, where [`Template::render`] would render it when
/// answering.
pub fn render(templates: &Metadata<'_>, name: &'static str, context: impl Serialize) -> Result<Arc<str>, AppError> {
    match templates.render(name, context) {
        Some((_, html)) => Ok(html.into()),
        None => Err(AppError::Internal(anyhow::anyhow!("the {name} template did not render"))),
    }
}

/// The HTML of a recipe list's cards (`partials/cards`), for a page to put
/// in whole: `{% if cards %}{{ cards.html | safe }}{% endif %}`. Rendered
/// once per kept list, with every value escaped then.
#[derive(Debug, Serialize)]
pub struct Cards {
    html: Arc<str>,
}

/// The cards of `listing`, `None` for an empty page. An object rather than
/// the string itself: Tera escapes a string to test it in an `if`, which
/// for a page of cards cost more than the rest of the page.
pub fn cards(app: &App, listing: &Listing, templates: &Metadata<'_>) -> Result<Option<Cards>, AppError> {
    if listing.page.items.is_empty() {
        return Ok(None);
    }
    let html = listing.cards_html(app, |rows| {
        // A card shows the recipe alone: nothing in it depends on the viewer.
        let recipes: Vec<RecipeCard> = rows.iter().cloned().map(|row| RecipeCard::new(row, None)).collect();
        render(templates, "partials/cards", context! { recipes })
    })?;
    Ok(Some(Cards { html }))
}

/// A page of `listing` that `page` renders with the flash message. What a
/// visitor without one sees is the list and nothing else, so it is kept
/// with the list ([`Listing::page_html`]); any other is rendered now.
pub fn list_page<'m>(
    app: &App,
    listing: &Listing,
    template: &'static str,
    user: Option<&Authenticated>,
    message: Option<FlashMessage<'m>>,
    page: impl FnOnce(Option<FlashMessage<'m>>) -> Result<Arc<str>, AppError>,
) -> Result<Html, AppError> {
    let html = if user.is_none() && message.is_none() { listing.page_html(app, template, || page(None))? } else { page(message)? };
    Ok(RawHtml(html))
}

pub fn flash(message: Option<FlashMessage<'_>>) -> Option<FlashView> {
    message.map(|m| FlashView { kind: m.kind().to_owned(), message: m.message().to_owned() })
}

/// Re-renders a form when `error` is the form's own business (bad fields,
/// taken values, wrong credentials); anything else becomes an error page.
pub fn form_again(error: AppError, render: impl FnOnce(&AppError) -> Template) -> Result<FormReply, PageError> {
    match error {
        AppError::Validation(_) | AppError::Conflict(_) | AppError::InvalidCredentials => {
            let page = render(&error);
            Ok(FormReply::Again((error.status(), page)))
        }
        other => Err(PageError(other)),
    }
}

/// The per-field messages of a form error, for the template.
pub fn field_errors(error: &AppError) -> crate::domain::FieldErrors {
    match error {
        AppError::Validation(fields) | AppError::Conflict(fields) => fields.clone(),
        _ => crate::domain::FieldErrors::new(),
    }
}

/// Reached only when no route took the request, e.g. `/recipes/abc`, whose
/// id does not parse: an id that is not an id is an unknown path (404).
/// `Segments`, not `PathBuf`: a `PathBuf` refuses segments such as `.env`
/// or `x:`, and its forward would make such a path a 400.
#[rocket::get("/<_path..>", rank = 100)]
pub fn unknown_get(_path: Segments<'_, Path>) -> PageError {
    PageError(AppError::NotFound)
}

#[post("/<_path..>", rank = 100)]
pub fn unknown_post(_path: Segments<'_, Path>) -> PageError {
    PageError(AppError::NotFound)
}

/// Target of a cross-site unsafe request (see `security::OriginCheck`).
#[post("/__cross-origin")]
pub fn cross_origin() -> PageError {
    PageError(AppError::CrossOrigin)
}
