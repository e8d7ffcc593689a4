//! The JSON API (SPEC.md §5), mounted at `/api/v1`. Bearer tokens only,
//! never cookies, so it needs no CSRF token.

pub mod auth;
pub mod me;
pub mod openapi;
pub mod recipes;
pub mod responses;
pub mod users;

use rocket::http::uri::{fmt::Path, Segments};
use rocket::http::Header;
use rocket::post;
use rocket::response::Responder;
use rocket::serde::json::Json;

use crate::error::{ApiError, AppError};
use crate::routes::paging::{search_term, Paging};

/// A body that holds tokens: never cached (SPEC §4).
#[derive(Responder)]
pub struct NoStore<T> {
    pub body: T,
    pub cache_control: Header<'static>,
}

impl<T> NoStore<T> {
    pub fn new(body: T) -> Self {
        Self { body, cache_control: Header::new("Cache-Control", "no-store") }
    }
}

/// Paging and search of a list endpoint, checked: 422 with `fields`.
pub fn list_params<'a>(page: Option<&str>, per_page: Option<&str>, q: Option<&'a str>) -> Result<(Paging, Option<&'a str>), ApiError> {
    let paging = Paging::parse(page, per_page).map_err(AppError::Validation)?;
    let q = search_term(q).map_err(AppError::Validation)?;
    Ok((paging, q))
}

/// Reached only when no route took the request, e.g. `/recipes/abc`: 404.
/// (`Segments` takes any path; a `PathBuf` would turn `/.env` into a 400.)
macro_rules! unknown_path {
    ($($name:ident: $method:ident),*) => {$(
        #[rocket::$method("/<_path..>", rank = 99)]
        pub fn $name(_path: Segments<'_, Path>) -> ApiError {
            ApiError(AppError::NotFound)
        }
    )*};
}
unknown_path!(unknown_get: get, unknown_post: post, unknown_put: put, unknown_patch: patch, unknown_delete: delete);

/// Target of a cross-site unsafe request (see `security::OriginCheck`).
#[post("/__cross-origin")]
pub fn cross_origin() -> ApiError {
    ApiError(AppError::CrossOrigin)
}

pub type JsonResult<T> = Result<Json<T>, ApiError>;
