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
use crate::auth::{ApiUser, MaybeApiUser};
use crate::domain::{NewRecipe, RecipeInput, Visibility};
use crate::error::{ApiResult, AppError};
use crate::routes::json::JsonBody;
use crate::catalog::viewer;
use crate::store::recipes::{self, Columns, RecipeFilter, RecipeRow};
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

async fn load(app: &App, id: i64, user: Option<&crate::auth::Authenticated>) -> Result<RecipeRow, AppError> {
    recipes::get(&app.db, id, viewer(user)).await?.ok_or(AppError::NotFound)
}

/// The recipes the caller may see, newest first: all public ones, and
/// with an access token the caller's private ones too.
#[utoipa::path(
    operation_id = "list_recipes",
    tag = "recipes",
    params(
        ("page" = Option<u64>, Query, minimum = 1, description = "From 1."),
        ("per_page" = Option<u64>, Query, minimum = 1, description = "Items per page, at most 100 (larger asks get 100)."),
        ("q" = Option<String>, Query, description = "Words in the name or description: literal, case-insensitive."),
        ("author" = Option<String>, Query, description = "Only this user's recipes (user name)."),
    ),
    security((), ("access_token" = [])),
    responses((status = 200, description = "A page of recipes.", body = PageView<RecipeView>))
)]
#[get("/recipes?<page>&<per_page>&<q>&<author>")]
pub async fn list(
    page: Option<String>,
    per_page: Option<String>,
    q: Option<String>,
    author: Option<String>,
    user: MaybeApiUser,
    app: &State<App>,
) -> JsonResult<PageView<RecipeView>> {
    let (paging, q) = list_params(page.as_deref(), per_page.as_deref(), q.as_deref())?;
    let author = author_term(author.as_deref()).map_err(AppError::Validation)?;
    let filter = RecipeFilter { q, author: author.as_ref(), columns: Columns::Whole, ..Default::default() };
    let found = catalog::list(app, user.0.as_ref(), filter, paging.page, paging.per_page).await?;
    Ok(Json(PageView::map(found.page.clone(), RecipeView::from)))
}

/// Write a recipe.
#[utoipa::path(
    operation_id = "create_recipe",
    tag = "recipes",
    request_body = RecipeRequest,
    security(("access_token" = [])),
    responses((status = 201, description = "Created.", body = RecipeView,
        headers(("Location" = String, description = "The new recipe's URL."))))
)]
#[post("/recipes", data = "<body>")]
pub async fn create(user: ApiUser, body: JsonBody<RecipeRequest>, app: &State<App>) -> ApiResult<Created> {
    let new = body.0.parse()?;
    let id = catalog::create(app, user.id, &new).await?;
    let recipe = load(app, id, Some(&user)).await?;
    let location = uri!("/api/v1", show(id)).to_string();
    Ok(Created { body: Json(recipe.into()), location: Header::new("Location", location) })
}

/// One recipe: a private one only for its owner and admins.
#[utoipa::path(
    operation_id = "get_recipe",
    tag = "recipes",
    params(("id" = i64, Path)),
    security((), ("access_token" = [])),
    responses(
        (status = 200, description = "The recipe.", body = RecipeView),
    )
)]
#[get("/recipes/<id>")]
pub async fn show(_ids: ValidIds, id: i64, user: MaybeApiUser, app: &State<App>) -> JsonResult<RecipeView> {
    Ok(Json(load(app, id, user.0.as_ref()).await?.into()))
}

/// Replace a recipe (its owner only); a missing `visibility` is `public`.
#[utoipa::path(
    operation_id = "replace_recipe",
    tag = "recipes",
    params(("id" = i64, Path)),
    request_body = RecipeRequest,
    security(("access_token" = [])),
    responses(
        (status = 200, description = "The recipe as it is now.", body = RecipeView),
        (status = 403, response = responses::Forbidden),
    )
)]
#[put("/recipes/<id>", data = "<body>")]
pub async fn update(
    _ids: ValidIds,
    id: i64,
    user: ApiUser,
    body: JsonBody<RecipeRequest>,
    app: &State<App>,
) -> JsonResult<RecipeView> {
    let recipe = load(app, id, Some(&user)).await?;
    if recipe.user_id != user.id {
        return Err(AppError::Forbidden.into());
    }
    let new = body.0.parse()?;
    catalog::update(app, id, &new).await?;
    Ok(Json(load(app, id, Some(&user)).await?.into()))
}

/// Delete a recipe: its owner or an admin.
#[utoipa::path(
    operation_id = "delete_recipe",
    tag = "recipes",
    params(("id" = i64, Path)),
    security(("access_token" = [])),
    responses(
        (status = 204, description = "Deleted."),
        (status = 403, response = responses::Forbidden),
    )
)]
#[delete("/recipes/<id>")]
pub async fn delete(_ids: ValidIds, id: i64, user: ApiUser, app: &State<App>) -> ApiResult<Status> {
    let recipe = load(app, id, Some(&user)).await?;
    if recipe.user_id != user.id && !user.is_admin() {
        return Err(AppError::Forbidden.into());
    }
    catalog::delete(app, id).await?;
    Ok(Status::NoContent)
}
