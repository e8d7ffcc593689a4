//! Recipe pages: list and search, show, new, edit, delete.

use rocket::form::FromForm;
use rocket::request::FlashMessage;
use rocket::response::{Flash, Redirect};
use rocket::{get, post, uri, State};
use rocket_dyn_templates::{context, Metadata, Template};
use serde::Serialize;

use super::{cards, field_errors, flash, form_again, list_page, render, FormReply, Html};
use crate::app::App;
use crate::catalog;
use crate::auth::csrf::{ActionForm, Csrf};
use crate::auth::{Authenticated, CurrentUser, MaybeUser};
use crate::domain::{NewRecipe, RecipeInput, Username};
use crate::error::{AppError, PageResult};
use crate::routes::paging::{author_term, bad_query, search_term, Pager, Paging};
use crate::catalog::viewer;
use crate::store::recipes::{self, RecipeFilter, RecipeRow};
use crate::views::{Nav, RecipeCard};
use crate::routes::ids::ValidIds;

#[derive(Debug, Default, FromForm, Serialize)]
pub struct RecipeForm {
    #[field(default = String::new())]
    name: String,
    #[field(default = String::new())]
    description: String,
    #[field(default = String::new())]
    cook_time: String,
    #[field(default = String::new())]
    directions: String,
    #[field(default = String::new())]
    visibility: String,
}

impl RecipeForm {
    fn input(&self) -> RecipeInput {
        RecipeInput {
            name: self.name.clone(),
            description: self.description.clone(),
            cook_time: self.cook_time.clone(),
            directions: self.directions.clone(),
            visibility: self.visibility.clone(),
        }
    }

    fn from_row(row: &RecipeRow) -> Self {
        Self {
            name: row.name.clone(),
            description: row.description.clone(),
            cook_time: row.cook_time.to_string(),
            directions: row.directions.clone().unwrap_or_default(),
            visibility: row.visibility.as_str().to_owned(),
        }
    }
}


/// A recipe as `user` may see it; someone else's private recipe is a 404.
async fn find(app: &App, id: i64, user: Option<&Authenticated>) -> Result<RecipeRow, AppError> {
    recipes::get(&app.db, id, viewer(user)).await?.ok_or(AppError::NotFound)
}

/// The recipe, if `user` owns it: 404 if they cannot see it, 403 if they can
/// but it is not theirs.
async fn find_own(app: &App, id: i64, user: &Authenticated) -> Result<RecipeRow, AppError> {
    let recipe = find(app, id, Some(user)).await?;
    if recipe.user_id != user.id {
        return Err(AppError::Forbidden);
    }
    Ok(recipe)
}

/// `?author=<username>` narrows the list to one cook's recipes (`/me` links
/// there); an unknown author is simply an empty list.
#[get("/recipes?<page>&<q>&<author>")]
pub async fn recipe_list(
    page: Option<String>,
    q: Option<String>,
    author: Option<String>,
    user: MaybeUser,
    app: &State<App>,
    templates: Metadata<'_>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Html> {
    const TEMPLATE: &str = "pages/recipes/list";
    let paging = Paging::parse(page.as_deref(), None).map_err(bad_query)?;
    let q = search_term(q.as_deref()).map_err(bad_query)?;
    let author = author_term(author.as_deref()).map_err(bad_query)?;
    let user = user.0.as_ref();
    let filter = RecipeFilter { q, author: author.as_ref(), ..Default::default() };
    let author = author.as_ref().map(Username::as_str);
    let found = catalog::list(app, user, filter, paging.page, paging.per_page).await?;
    Ok(list_page(app, &found, TEMPLATE, user, message, |message| {
        let context = context! {
            nav: Nav::new(user),
            flash: flash(message),
            cards: cards(app, &found, &templates)?,
            q,
            author,
            pager: Pager::of(&found.page),
            logged_in: user.is_some(),
        };
        render(&templates, TEMPLATE, context)
    })?)
}

fn recipe_form_page(
    user: &Authenticated,
    action: String,
    recipe_id: Option<i64>,
    form: &RecipeForm,
    error: Option<&AppError>,
) -> Template {
    Template::render(
        "pages/recipes/form",
        context! {
            nav: Nav::new(Some(user)),
            csrf: &user.csrf,
            action,
            recipe_id,
            form,
            errors: error.map(field_errors),
        },
    )
}

#[get("/recipes/new")]
pub fn recipe_new_form(user: CurrentUser) -> Template {
    let form = RecipeForm { visibility: "public".into(), ..Default::default() };
    recipe_form_page(&user, uri!(recipe_create).to_string(), None, &form, None)
}

#[post("/recipes", data = "<form>")]
pub async fn recipe_create(user: CurrentUser, form: Csrf<RecipeForm>, app: &State<App>) -> PageResult<FormReply> {
    let form = form.0;
    let new = match NewRecipe::parse(&form.input()) {
        Ok(new) => new,
        Err(fields) => {
            let action = uri!(recipe_create).to_string();
            return form_again(AppError::Validation(fields), |e| recipe_form_page(&user, action, None, &form, Some(e)));
        }
    };
    let id = catalog::create(app, user.id, &new).await?;
    Ok(FormReply::Done(Flash::success(Redirect::to(uri!(recipe_show(id))), "Recipe published.")))
}

#[get("/recipes/<id>")]
pub async fn recipe_show(
    _ids: ValidIds,
    id: i64,
    user: MaybeUser,
    app: &State<App>,
    message: Option<FlashMessage<'_>>,
) -> PageResult<Template> {
    let user = user.0.as_ref();
    let recipe = RecipeCard::new(find(app, id, user).await?, user);
    Ok(Template::render(
        "pages/recipes/show",
        context! { nav: Nav::new(user), flash: flash(message), recipe, csrf: user.map(|u| &u.csrf) },
    ))
}

#[get("/recipes/<id>/edit")]
pub async fn recipe_edit_form(_ids: ValidIds, id: i64, user: CurrentUser, app: &State<App>) -> PageResult<Template> {
    let recipe = find_own(app, id, &user).await?;
    Ok(recipe_form_page(&user, uri!(recipe_update(id)).to_string(), Some(id), &RecipeForm::from_row(&recipe), None))
}

#[post("/recipes/<id>", data = "<form>")]
pub async fn recipe_update(
    _ids: ValidIds,
    id: i64,
    user: CurrentUser,
    form: Csrf<RecipeForm>,
    app: &State<App>,
) -> PageResult<FormReply> {
    find_own(app, id, &user).await?;
    let form = form.0;
    let new = match NewRecipe::parse(&form.input()) {
        Ok(new) => new,
        Err(fields) => {
            let action = uri!(recipe_update(id)).to_string();
            return form_again(AppError::Validation(fields), |e| recipe_form_page(&user, action, Some(id), &form, Some(e)));
        }
    };
    catalog::update(app, id, &new).await?;
    Ok(FormReply::Done(Flash::success(Redirect::to(uri!(recipe_show(id))), "Recipe updated.")))
}

#[post("/recipes/<id>/delete", data = "<_form>")]
pub async fn recipe_delete(
    _ids: ValidIds,
    id: i64,
    user: CurrentUser,
    _form: Csrf<ActionForm>,
    app: &State<App>,
) -> PageResult<Flash<Redirect>> {
    let recipe = find(app, id, Some(&user)).await?;
    if recipe.user_id != user.id && !user.is_admin() {
        return Err(AppError::Forbidden.into());
    }
    catalog::delete(app, id).await?;
    Ok(Flash::success(Redirect::to(uri!(recipe_list(None::<String>, None::<String>, None::<String>))), "Recipe deleted."))
}

