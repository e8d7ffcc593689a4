//! `/api/v1/recipes`: list and search, create, read, replace, delete.

use rocket::http::{Header, Status};
use rocket::response::Responder;
use rocket::serde::json::Json;
use rocket::{delete, get, post, put, uri, State};
use serde::Deserialize;
use utoipa::ToSchema;

use super::{list_params, responses, JsonResult};
use crate::routes::paging::author_term;
use crate::app::App;
use crate::catalog;
use crate::audit::{self, Detail, Event};
use crate::auth::{ApiCaller, ClientInfo, MaybeApiCaller, RecipeWriter};
use crate::accounts::tokens::by_token;
use crate::domain::{AuditKind, Scope};
use crate::domain::{NewRecipe, RecipeInput, Visibility};
use crate::error::{ApiResult, AppError};
use crate::routes::json::JsonBody;
use crate::store::recipes::{self, Columns, RecipeFilter, RecipeRow, Viewer};
use crate::views::{PageView, RecipeView};
use crate::routes::ids::ValidIds;

/// A recipe as JSON. `cook_time` is a number; the same rules as the form
/// apply after that (`NewRecipe::parse`).
#[derive(Deserialize, ToSchema)]
pub struct RecipeRequest {
    // The limits are `RecipeName::MAX` and the others (a test compares).
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 100)]
    name: String,
    #[serde(default)]
    #[schema(required = true, max_length = 1000)]
    description: String,
    /// Minutes.
    #[schema(required = true, value_type = i64, minimum = 1, maximum = 1440)]
    cook_time: Option<i64>,
    #[serde(default)]
    #[schema(required = true, min_length = 1, max_length = 20000)]
    directions: String,
    /// `public` (the default) or `private`.
    #[schema(value_type = Option<Visibility>)]
    visibility: Option<String>,
}

impl RecipeRequest {
    fn parse(self) -> Result<NewRecipe, AppError> {
        NewRecipe::parse(&RecipeInput {
            name: self.name,
            description: self.description,
            cook_time: self.cook_time.map(|m| m.to_string()).unwrap_or_default(),
            directions: self.directions,
            visibility: self.visibility.unwrap_or_default(),
        })
        .map_err(AppError::Validation)
    }
}

#[derive(Responder)]
#[response(status = 201)]
pub struct Created {
    body: Json<RecipeView>,
    location: Header<'static>,
}

async fn load(app: &App, id: i64, viewer: Viewer) -> Result<RecipeRow, AppError> {
    recipes::get(&app.db, id, viewer).await?.ok_or(AppError::NotFound)
}

/// What a writer may reach: their own recipes, private ones too (the
/// write's scope is checked on its own), or every one for an admin.
fn writer(caller: &ApiCaller) -> Viewer {
    if caller.acts_as_admin() {
        Viewer::Admin
    } else {
        Viewer::User(caller.id())
    }
}

/// A write made with a personal access token is recorded, naming it.
async fn record_token_write(app: &App, caller: &ApiCaller, client: &ClientInfo, kind: AuditKind, recipe: i64) {
    if let Some(token) = by_token(caller) {
        let event = Event::own(kind, caller.public_id()).with(Detail::Recipe { recipe }).by_token(Some(token));
        audit::record(app, client, event).await;
    }
}

/// The recipes the caller may see, newest first: all public ones, and
/// with an access token (or a personal access token with `recipes:read`)
/// the caller's private ones too.
#[utoipa::path(
    operation_id = "list_recipes",
    tag = "recipes",
    params(
        ("page" = Option<u64>, Query, minimum = 1, description = "From 1."),
        ("per_page" = Option<u64>, Query, minimum = 1, description = "Items per page, at most 100 (larger asks get 100)."),
        ("q" = Option<String>, Query, description = "Words in the name or description: literal, case-insensitive."),
        ("author" = Option<String>, Query, description = "Only this user's recipes (user name)."),
    ),
    security((), ("access_token" = []), ("personal_access_token" = ["recipes:read"])),
    responses((status = 200, description = "A page of recipes.", body = PageView<RecipeView>))
)]
#[get("/recipes?<page>&<per_page>&<q>&<author>")]
pub async fn list(
    page: Option<String>,
    per_page: Option<String>,
    q: Option<String>,
    author: Option<String>,
    caller: MaybeApiCaller,
    app: &State<App>,
) -> JsonResult<PageView<RecipeView>> {
    let (paging, q) = list_params(page.as_deref(), per_page.as_deref(), q.as_deref())?;
    let author = author_term(author.as_deref()).map_err(AppError::Validation)?;
    let filter = RecipeFilter { q, author: author.as_ref(), columns: Columns::Whole, ..Default::default() };
    let (viewer, version) = match &caller.0 {
        Some(caller) => (caller.viewer(), Some(caller.recipes_version())),
        None => (Viewer::Anonymous, None),
    };
    let found = catalog::list_as(app, viewer, version, filter, paging.page, paging.per_page).await?;
    Ok(Json(PageView::map(found.page.clone(), RecipeView::from)))
}

/// Write a recipe.
#[utoipa::path(
    operation_id = "create_recipe",
    tag = "recipes",
    request_body = RecipeRequest,
    security(("access_token" = []), ("personal_access_token" = ["recipes:write"])),
    responses(
        (status = 201, description = "Created.", body = RecipeView,
            headers(("Location" = String, description = "The new recipe's URL."))),
        (status = 403, response = responses::Forbidden),
    )
)]
#[post("/recipes", data = "<body>")]
pub async fn create(caller: RecipeWriter, body: JsonBody<RecipeRequest>, client: ClientInfo, app: &State<App>) -> ApiResult<Created> {
    let new = body.0.parse()?;
    let id = catalog::create(app, caller.id(), &new).await?;
    record_token_write(app, &caller, &client, AuditKind::RecipeCreated, id).await;
    let recipe = load(app, id, writer(&caller)).await?;
    let location = uri!("/api/v1", show(id)).to_string();
    Ok(Created { body: Json(recipe.into()), location: Header::new("Location", location) })
}

/// One recipe: a private one only for its owner (with a personal access
/// token, one with `recipes:read`) and admins.
#[utoipa::path(
    operation_id = "get_recipe",
    tag = "recipes",
    params(("id" = i64, Path)),
    security((), ("access_token" = []), ("personal_access_token" = ["recipes:read"])),
    responses(
        (status = 200, description = "The recipe.", body = RecipeView),
    )
)]
#[get("/recipes/<id>")]
pub async fn show(_ids: ValidIds, id: i64, caller: MaybeApiCaller, app: &State<App>) -> JsonResult<RecipeView> {
    let viewer = caller.0.as_ref().map_or(Viewer::Anonymous, ApiCaller::viewer);
    Ok(Json(load(app, id, viewer).await?.into()))
}

/// Replace a recipe (its owner only); a missing `visibility` is `public`.
#[utoipa::path(
    operation_id = "replace_recipe",
    tag = "recipes",
    params(("id" = i64, Path)),
    request_body = RecipeRequest,
    security(("access_token" = []), ("personal_access_token" = ["recipes:write"])),
    responses(
        (status = 200, description = "The recipe as it is now.", body = RecipeView),
        (status = 403, response = responses::Forbidden),
    )
)]
#[put("/recipes/<id>", data = "<body>")]
pub async fn update(
    _ids: ValidIds,
    id: i64,
    caller: RecipeWriter,
    body: JsonBody<RecipeRequest>,
    client: ClientInfo,
    app: &State<App>,
) -> JsonResult<RecipeView> {
    let recipe = load(app, id, writer(&caller)).await?;
    if recipe.user_id != caller.id() {
        return Err(AppError::Forbidden.into());
    }
    let new = body.0.parse()?;
    catalog::update(app, id, &new).await?;
    record_token_write(app, &caller, &client, AuditKind::RecipeUpdated, id).await;
    Ok(Json(load(app, id, writer(&caller)).await?.into()))
}

/// Delete a recipe: its owner (with a personal access token, one with
/// `recipes:write`) or an admin (one with `admin`).
#[utoipa::path(
    operation_id = "delete_recipe",
    tag = "recipes",
    params(("id" = i64, Path)),
    security(("access_token" = []), ("personal_access_token" = ["recipes:write"]), ("personal_access_token" = ["admin"])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, response = responses::Forbidden),
    )
)]
#[delete("/recipes/<id>")]
pub async fn delete(_ids: ValidIds, id: i64, caller: ApiCaller, client: ClientInfo, app: &State<App>) -> ApiResult<Status> {
    let recipe = load(app, id, writer(&caller)).await?;
    if recipe.user_id == caller.id() {
        caller.require(Scope::RecipesWrite)?;
    } else {
        caller.require_admin()?;
    }
    catalog::delete(app, id).await?;
    record_token_write(app, &caller, &client, AuditKind::RecipeDeleted, id).await;
    Ok(Status::NoContent)
}
