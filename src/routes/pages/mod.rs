//! HTML pages (SPEC.md §4). Handlers translate forms to domain calls and
//! results to templates; a form with bad input is re-rendered with its
//! status (422, 409 or 401), a message beside each field, and the values
//! typed (never a password).

pub mod account;
pub mod admin;
pub mod home;
pub mod me;
pub mod recipes;
pub mod reset;

use rocket::http::uri::{fmt::Path, Segments};
use rocket::http::Status;
use rocket::post;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect, Responder};
use rocket_dyn_templates::{context, Metadata, Template};
use serde::Serialize;

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

/// The HTML of a recipe list's cards (`partials/cards`), `None` for an
/// empty page. Rendered once per kept list; a page puts it in whole
/// (`| safe`), since Tera escaped every value when it rendered it.
pub fn cards<'l>(listing: &'l Listing, templates: &Metadata<'_>) -> Result<Option<&'l str>, AppError> {
    if listing.page.items.is_empty() {
        return Ok(None);
    }
    let html = listing.cards_html(|rows| {
        // A card shows the recipe alone: nothing in it depends on the viewer.
        let recipes: Vec<RecipeCard> = rows.iter().cloned().map(|row| RecipeCard::new(row, None)).collect();
        templates.render("partials/cards", context! { recipes }).map(|(_, html)| html)
    });
    html.map(Some).ok_or_else(|| AppError::Internal(anyhow::anyhow!("the partials/cards template did not render")))
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
