//! `/.well-known/` (RFC 8615): what other programs look for at a fixed
//! place. `jwks.json`, the public keys of recipebox's access tokens, so
//! that another service can check them (SPEC.md §3); `change-password`,
//! where password managers send a user to change theirs (SPEC §4).

use rocket::http::Header;
use rocket::response::Redirect;
use rocket::serde::json::Json;
use rocket::{get, uri, Responder, State};

use crate::app::App;
use crate::error::{ApiResult, AppError};

/// The key set, cached a minute by those who fetch it (a `next` key is
/// published a minute before it signs).
#[derive(Responder)]
pub struct KeySet {
    json: Json<jsonwebtoken::jwk::JwkSet>,
    cache: Header<'static>,
}

/// With `jwt_algorithm = "EdDSA"`: the public keys of the next, active and
/// retired keys. With HS256: 404, since an HMAC key is a secret.
#[get("/.well-known/jwks.json")]
pub async fn jwks(app: &State<App>) -> ApiResult<KeySet> {
    match crate::keys::jwks(app.inner().into()).await? {
        Some(set) => Ok(KeySet { json: Json(set), cache: Header::new("Cache-Control", "public, max-age=60") }),
        None => Err(AppError::NotFound.into()),
    }
}

#[get("/.well-known/change-password")]
pub fn change_password() -> Redirect {
    Redirect::found(uri!(crate::routes::pages::me::password_form))
}
