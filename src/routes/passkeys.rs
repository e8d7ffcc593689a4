//! The passkey ceremonies (SPEC.md §4): JSON endpoints under `/passkeys/`
//! that `static/passkeys.js` calls, each a `begin` (options for the
//! browser, and the token of the server's half) and a `finish` (the
//! browser's answer). They take the same CSRF token as forms, in the JSON
//! body (`CsrfJson`), and the same `Origin` check applies to them. Errors
//! are the API's JSON envelope (catchers of their own).
//!
//! The second step's pair lives under `/login/two-factor/passkey/`: the
//! half-done login's cookie is sent to `/login…` only.
//!
//! Removing a passkey is a plain form (`POST /me/passkeys/{id}/delete`).

use rocket::http::{CookieJar, Status};
use rocket::response::{Flash, Redirect};
use rocket::serde::json::Json;
use rocket::{post, uri, State};
use serde::{Deserialize, Serialize};
use uuid::Uuid;
use webauthn_rs::prelude::{CreationChallengeResponse, PublicKeyCredential, RegisterPublicKeyCredential, RequestChallengeResponse};

use crate::accounts::passkeys::{self, Begun};
use crate::app::App;
use crate::audit::Detail;
use crate::auth::cookies;
use crate::auth::csrf::{ActionForm, Csrf, CsrfJson};
use crate::auth::{ClientInfo, FreshUser, MaybeUser};
use crate::error::{ApiResult, PageResult};
use crate::routes::api::NoStore;
use crate::routes::ids::ValidIds;
use crate::routes::pages::account::{log_browser_in, safe_next};

/// How a passkey login's second step passed, in its audit event.
const PASSKEY_STEP: &str = "passkey";
const PASSKEY: Detail = Detail::SecondStep { second_step: PASSKEY_STEP };

/// A body of nothing but its `csrf_token`.
#[derive(Deserialize)]
pub struct Nothing {}

#[derive(Deserialize)]
pub struct RegisterFinish {
    ceremony: String,
    #[serde(default)]
    name: String,
    credential: RegisterPublicKeyCredential,
}

#[derive(Deserialize)]
pub struct SignInFinish {
    ceremony: String,
    credential: PublicKeyCredential,
    /// Where the browser goes next (a local path only).
    next: Option<String>,
    /// On the second step: "remember this browser".
    #[serde(default)]
    remember: bool,
}

/// Where the page sends the browser once signed in.
#[derive(Serialize)]
pub struct SignedIn {
    redirect: String,
}

#[derive(Serialize)]
pub struct Added {
    id: Uuid,
}

#[post("/passkeys/register/begin", data = "<_body>")]
pub async fn register_begin(
    user: FreshUser,
    _body: CsrfJson<Nothing>,
    app: &State<App>,
) -> ApiResult<NoStore<Json<Begun<CreationChallengeResponse>>>> {
    Ok(NoStore::new(Json(passkeys::begin_registration(app, &user).await?)))
}

#[post("/passkeys/register/finish", data = "<body>")]
pub async fn register_finish(
    user: FreshUser,
    body: CsrfJson<RegisterFinish>,
    client: ClientInfo,
    app: &State<App>,
) -> ApiResult<(Status, Json<Added>)> {
    let body = body.0;
    let id = passkeys::finish_registration(app, &user, &body.ceremony, &body.name, &body.credential, &client).await?;
    Ok((Status::Created, Json(Added { id })))
}

#[post("/passkeys/login/begin", data = "<_body>")]
pub async fn login_begin(_body: CsrfJson<Nothing>, app: &State<App>) -> ApiResult<NoStore<Json<Begun<RequestChallengeResponse>>>> {
    Ok(NoStore::new(Json(passkeys::begin_login(app).await?)))
}

/// A sign-in by passkey: both factors at once, so the session is fresh.
#[post("/passkeys/login/finish", data = "<body>")]
pub async fn login_finish(
    body: CsrfJson<SignInFinish>,
    current: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> ApiResult<NoStore<Json<SignedIn>>> {
    let body = body.0;
    let user = passkeys::finish_login(app, &body.ceremony, &body.credential, &client).await?;
    log_browser_in(app, jar, &current, &client, user, (PASSKEY, false)).await?;
    let redirect = safe_next(body.next.as_deref()).unwrap_or_else(|| "/".into());
    Ok(NoStore::new(Json(SignedIn { redirect })))
}

#[post("/login/two-factor/passkey/begin", data = "<_body>")]
pub async fn second_step_begin(
    _body: CsrfJson<Nothing>,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> ApiResult<NoStore<Json<Begun<RequestChallengeResponse>>>> {
    Ok(NoStore::new(Json(passkeys::begin_second_step(app, &cookies::ticket(jar)).await?)))
}

/// A passkey as the second step of a password login.
#[post("/login/two-factor/passkey/finish", data = "<body>")]
pub async fn second_step_finish(
    body: CsrfJson<SignInFinish>,
    current: MaybeUser,
    client: ClientInfo,
    jar: &CookieJar<'_>,
    app: &State<App>,
) -> ApiResult<NoStore<Json<SignedIn>>> {
    let body = body.0;
    let (user, resume) = passkeys::finish_second_step(app, &cookies::ticket(jar), &body.ceremony, &body.credential, &client).await?;
    log_browser_in(app, jar, &current, &client, user, (resume.detail(PASSKEY_STEP), body.remember)).await?;
    Ok(NoStore::new(Json(SignedIn { redirect: resume.next.unwrap_or_else(|| "/".into()) })))
}

#[post("/me/passkeys/<public_id>/delete", data = "<_form>")]
pub async fn remove(
    _ids: ValidIds,
    public_id: Uuid,
    user: FreshUser,
    _form: Csrf<ActionForm>,
    client: ClientInfo,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    passkeys::remove(app, &user, public_id, &client).await?;
    let security = uri!(crate::routes::pages::security::security);
    Ok(Flash::success(Redirect::to(security), "The passkey is removed: it no longer logs in."))
}
