//! The API described (SPEC.md §5): an OpenAPI 3.1 document generated from
//! the handlers' `#[utoipa::path]` annotations and the types they take and
//! give, served at `/api/v1/openapi.json`, and Swagger UI rendering it at
//! `/api/docs`, its assets built into the binary by `utoipa-swagger-ui`.
//!
//! The error responses that follow from a route's shape are added by
//! `ShapeErrors`, as the guards produce them: every route can meet a
//! database that is briefly away (503); a route with a body can get one
//! that is malformed (400), too large (413) or invalid (422); a route with
//! query parameters can get invalid ones (422); a route that takes a token
//! can get none or a bad one (401); a route with an id in its path can name
//! nothing (404). What only some routes answer (403, 409, 429) is in their
//! own annotations.

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use rocket::http::{ContentType, Header};
use rocket::response::{Redirect, Responder};
use rocket::{get, routes, Route};
use rocket_dyn_templates::{context, Template};
use utoipa::openapi::path::ParameterIn;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{OpenApi as Document, Ref, RefOr};
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::Config;

use super::responses::{
    BadRequest, Conflict, Forbidden, NotFound, PayloadTooLarge, SecondFactorInvalid, SecondFactorRequired, ServiceUnavailable,
    TooManyRequests, Unauthorized, ValidationFailed,
};
use super::{auth, me, recipes, users};
use crate::error::ErrorEnvelope;

/// Where the API is mounted; the document's paths start with it.
pub const BASE: &str = "/api/v1";

#[derive(OpenApi)]
#[openapi(
    paths(
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
        auth::forgot_password,
        auth::reset_password,
        me::export,
        recipes::list,
        recipes::create,
        recipes::show,
        recipes::update,
        recipes::delete,
        openapi_json,
    ),
    components(
        schemas(ErrorEnvelope),
        responses(
            BadRequest,
            Unauthorized,
            SecondFactorRequired,
            SecondFactorInvalid,
            Forbidden,
            NotFound,
            Conflict,
            PayloadTooLarge,
            ValidationFailed,
            TooManyRequests,
            ServiceUnavailable,
        )
    ),
    modifiers(&SecuritySchemes, &ShapeErrors),
    tags(
        (name = "auth", description = "Log in, rotate tokens, log out, passwords."),
        (name = "users", description = "Sign-up, and user management for admins."),
        (name = "recipes", description = "Recipes: public to all, private to their owner."),
        (name = "meta", description = "This document."),
    )
)]
struct ApiV1;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "recipebox API",
        description = "The JSON API of recipebox. Send tokens as `Authorization: Bearer <token>`; \
                       the API never reads cookies. Errors are `{\"error\": {\"code\", \"message\", \"fields\"?}}`.",
    ),
    nest((path = "/api/v1", api = ApiV1))
)]
pub struct ApiDoc;

/// The document, serialized once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| ApiDoc::openapi().to_json().expect("the OpenAPI document serializes"));

/// The OpenAPI document of this API.
#[utoipa::path(
    tag = "meta",
    operation_id = "openapi_document",
    responses((status = 200, description = "This document.", content_type = "application/json", body = Object))
)]
#[get("/openapi.json")]
pub fn openapi_json() -> (ContentType, &'static str) {
    (ContentType::JSON, DOCUMENT.as_str())
}

/// The two bearer tokens, as separate schemes so the document says which
/// one each route takes; and HTTP Basic, which login also accepts.
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut Document) {
        let components = openapi.components.get_or_insert_with(Default::default);
        let bearer = |description: &str| {
            let mut http = Http::new(HttpAuthScheme::Bearer);
            http.bearer_format = Some("JWT".into());
            http.description = Some(description.into());
            SecurityScheme::Http(http)
        };
        components.add_security_scheme("access_token", bearer("An access token, from login, sign-up or refresh."));
        components.add_security_scheme("refresh_token", bearer("A refresh token: only `POST /auth/refresh` takes one."));
        let mut personal = Http::new(HttpAuthScheme::Bearer);
        personal.bearer_format = Some("rbx_pat_ + 30 base62 + 6 base62 CRC32".into());
        personal.description = Some(
            "A personal access token, made on the account's token page (`/me/tokens`). It may do what its scopes \
             allow, within its owner's current rights: `recipes:read`, `recipes:write`, `account:read`, `admin`; \
             each operation names the scopes it takes. Outside them: 403 `insufficient_scope`. It never changes a \
             password, an email, a factor, a token or a session, nor deletes the account: those answer 403."
                .into(),
        );
        components.add_security_scheme("personal_access_token", SecurityScheme::Http(personal));
        let mut basic = Http::new(HttpAuthScheme::Basic);
        basic.description = Some("The email as user name, and the password: login only.".into());
        components.add_security_scheme("basic", SecurityScheme::Http(basic));
    }
}

/// Adds the error responses that follow from each operation's shape (see
/// the module's comment).
struct ShapeErrors;

impl Modify for ShapeErrors {
    fn modify(&self, openapi: &mut Document) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [&mut item.get, &mut item.post, &mut item.put, &mut item.patch, &mut item.delete];
            for operation in operations.into_iter().flatten() {
                let parameters = operation.parameters.iter().flatten().filter_map(|p| match p {
                    RefOr::T(parameter) => Some(&parameter.parameter_in),
                    RefOr::Ref(_) => None,
                });
                let (mut in_path, mut in_query) = (false, false);
                for parameter_in in parameters {
                    in_path |= matches!(parameter_in, ParameterIn::Path);
                    in_query |= matches!(parameter_in, ParameterIn::Query);
                }
                let has_body = operation.request_body.is_some();
                let takes_token = operation.security.iter().flatten().any(|requirement| *requirement != SecurityRequirement::default());
                let shared = [
                    ("400", "BadRequest", has_body),
                    ("401", "Unauthorized", takes_token),
                    ("404", "NotFound", in_path),
                    ("413", "PayloadTooLarge", has_body),
                    ("422", "ValidationFailed", has_body || in_query),
                    ("503", "ServiceUnavailable", true),
                ];
                for (status, name, applies) in shared {
                    if applies {
                        operation.responses.responses.entry(status.into()).or_insert_with(|| Ref::from_response_name(name).into());
                    }
                }
            }
        }
    }
}

/// Swagger UI's settings: this document, no call to an outside validator;
/// the base layout (no top bar, whose URL box and theme button have no
/// labels) and no deep links (which nest a link in each operation's
/// button), so that the page passes axe-core.
static SWAGGER: LazyLock<Arc<Config<'static>>> = LazyLock::new(|| {
    let config = Config::new([format!("{BASE}/openapi.json")]).validator_url("none").use_base_layout().deep_linking(false);
    Arc::new(config)
});

/// The site's policy, but for one inline style that Swagger UI's script
/// adds, allowed by its hash (not `unsafe-inline`). Only `/api/docs` sends
/// it. A new Swagger UI may bring another hash: the browser suite reads the
/// docs page's console for violations.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self' 'sha256-RL3ie0nH+Lzz2YNqQN83mnU0J1ot4QL7b99vMdIX99w='; img-src 'self' data:; \
                            form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

pub fn docs_routes() -> Vec<Route> {
    routes![docs_page, docs_asset]
}

#[derive(Responder)]
pub struct DocsResponse<T> {
    body: T,
    csp: Header<'static>,
}

impl<T> DocsResponse<T> {
    fn new(body: T) -> Self {
        Self { body, csp: Header::new("Content-Security-Policy", DOCS_CSP) }
    }
}

pub type DocsAsset = DocsResponse<(ContentType, Vec<u8>)>;

/// The page that renders the document.
#[get("/")]
pub fn docs_page() -> DocsResponse<Template> {
    DocsResponse::new(Template::render("pages/api_docs", context! {}))
}

/// Swagger UI's scripts, styles and images. Its own `index.html` is not
/// a second docs page: it sends the browser to the page above.
#[get("/<file..>")]
pub fn docs_asset(file: PathBuf) -> Option<Result<DocsAsset, Redirect>> {
    let name = file.to_str()?;
    if name.is_empty() || name == "index.html" {
        return Some(Err(Redirect::to("/api/docs")));
    }
    let asset = utoipa_swagger_ui::serve(name, SWAGGER.clone()).ok().flatten()?;
    let content_type = ContentType::parse_flexible(&asset.content_type).unwrap_or(ContentType::Binary);
    Some(Ok(DocsResponse::new((content_type, asset.bytes.into_owned()))))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_error_code_is_listed_in_the_document() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let codes = &document["components"]["schemas"]["ErrorCode"]["enum"];
        for code in ["token_missing", "fresh_token_required", "last_admin", "too_many_requests", "validation_failed"] {
            assert!(codes.as_array().unwrap().iter().any(|c| c == code), "{code} missing from {codes}");
        }
    }

    #[test]
    fn the_documented_recipe_limits_are_the_ones_enforced() {
        use crate::domain::{CookTime, Description, Directions, RecipeName};
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let fields = &document["components"]["schemas"]["RecipeRequest"]["properties"];
        assert_eq!(fields["name"]["maxLength"], RecipeName::MAX);
        assert_eq!(fields["description"]["maxLength"], Description::MAX);
        assert_eq!(fields["directions"]["maxLength"], Directions::MAX);
        assert_eq!(fields["cook_time"]["maximum"], CookTime::MAX);
    }

    #[test]
    fn operation_ids_are_unique() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let mut ids: Vec<&str> = document["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values().map(|op| op["operationId"].as_str().unwrap()))
            .collect();
        let count = ids.len();
        ids.sort_unstable();
        ids.dedup();
        assert_eq!(ids.len(), count, "{ids:?}");
    }

    #[test]
    fn routes_with_a_body_a_token_or_an_id_document_the_errors_those_bring() {
        let document: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        let put = &document["paths"]["/api/v1/recipes/{id}"]["put"]["responses"];
        for status in ["400", "401", "403", "404", "413", "422", "503"] {
            assert!(put.get(status).is_some(), "PUT /recipes/{{id}} lacks {status}: {put}");
        }
        let list = &document["paths"]["/api/v1/recipes"]["get"]["responses"];
        assert!(list.get("422").is_some() && list.get("400").is_none() && list.get("404").is_none(), "{list}");
        let register = &document["paths"]["/api/v1/users"]["post"]["responses"];
        assert!(register.get("401").is_none(), "sign-up takes no token: {register}");
    }
}
