//! Queries on `recipes`, always seen through a [`Viewer`]: a private recipe
//! exists only for its owner and admins, so every read filters by it.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, Query, QueryStatementBuilder};
use sea_orm::{ActiveValue::Set, Condition, DbBackend, FromQueryResult, JoinType, QueryOrder, QuerySelect, Select, StatementBuilder};

use super::{like_pattern, now_ts, Page};
use crate::domain::{NewRecipe, Username, Visibility};
use crate::entities::{recipe, user};

/// Who is looking: decides which private recipes exist for them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Viewer {
    Anonymous,
    User(i64),
    Admin,
}

/// A recipe with its author's public name.
#[derive(Debug, Clone, FromQueryResult)]
pub struct RecipeRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub description: String,
    pub cook_time: i32,
    pub directions: String,
    pub visibility: Visibility,
    pub created_at: TimeUnixTimestamp,
    pub updated_at: TimeUnixTimestamp,
    pub author_username: String,
    pub author_public_id: Uuid,
}

fn visible_to(viewer: Viewer) -> Condition {
    let public = recipe::Column::Visibility.eq(Visibility::Public);
    match viewer {
        Viewer::Admin => Condition::all(),
        Viewer::User(id) => Condition::any().add(public).add(recipe::Column::UserId.eq(id)),
        Viewer::Anonymous => Condition::all().add(public),
    }
}

fn with_author(viewer: Viewer) -> Select<recipe::Entity> {
    recipe::Entity::find()
        .join(JoinType::InnerJoin, recipe::Relation::User.def())
        .column_as(user::Column::Username, "author_username")
        .column_as(user::Column::PublicId, "author_public_id")
        .filter(visible_to(viewer))
}

/// What to list: optionally one owner's recipes (by id, or by username,
/// case-insensitively), optionally matching `q`.
#[derive(Debug, Clone, Default)]
pub struct RecipeFilter<'a> {
    pub owner_id: Option<i64>,
    pub author: Option<&'a str>,
    /// A literal, case-insensitive substring of the name or description.
    pub q: Option<&'a str>,
}

/// One page of the recipes `viewer` may see that match `filter`, newest
/// first. The page is an index range (migration 14); its total comes from
/// the counts the database keeps (migration 13), except for a search,
/// which counts its matches through the search index.
pub async fn list<C: ConnectionTrait>(
    db: &C,
    viewer: Viewer,
    filter: RecipeFilter<'_>,
    page: u64,
    per_page: u64,
) -> Result<Page<RecipeRow>, DbErr> {
    let total = match kept_total(db, viewer, &filter).await? {
        Some(total) => total,
        None => count_query(db.get_database_backend(), viewer, &filter).count(db).await?,
    };
    let items = page_query(db.get_database_backend(), viewer, &filter, page, per_page).into_model::<RecipeRow>().all(db).await?;
    Ok(Page { items, page, per_page, total })
}

/// What `filter` asks of the rows, beyond what `viewer` may see.
fn matching(backend: DbBackend, filter: &RecipeFilter<'_>) -> Condition {
    let mut matching = Condition::all();
    if let Some(owner_id) = filter.owner_id {
        matching = matching.add(recipe::Column::UserId.eq(owner_id));
    }
    if let Some(author) = filter.author {
        // Only a valid user name can name an author. Anything else is
        // nobody, and is not sent to the database (PostgreSQL refuses a
        // NUL in text outright).
        matching = match Username::parse(author) {
            // The owner's id as a value of its own (a scalar subquery, run
            // once): the list is then a range of the owner's index, where a
            // join on the name would walk every recipe newest first.
            Ok(name) => {
                let owner = Query::select()
                    .column(user::Column::Id)
                    .from(user::Entity)
                    .and_where(user::Column::UsernameKey.eq(name.key()))
                    .to_owned();
                let owner = Expr::SubQuery(None, Box::new(owner.into_sub_query_statement()));
                matching.add(Expr::col((recipe::Entity, recipe::Column::UserId)).eq(owner))
            }
            Err(_) => matching.add(Expr::cust("1 = 0")),
        };
    }
    if let Some(q) = filter.q.filter(|q| !q.is_empty()) {
        matching = matching.add(search(backend, q));
    }
    matching
}

/// The rows of one page, newest first.
pub fn page_query(backend: DbBackend, viewer: Viewer, filter: &RecipeFilter<'_>, page: u64, per_page: u64) -> Select<recipe::Entity> {
    with_author(viewer)
        .filter(matching(backend, filter))
        .order_by_desc(recipe::Column::CreatedAt)
        .order_by_desc(recipe::Column::Id)
        .offset(page.saturating_sub(1).saturating_mul(per_page))
        .limit(per_page)
}

/// Counts the matches of a search (the counts the database keeps are of
/// whole lists). It needs the users table only to filter by author.
pub fn count_query(backend: DbBackend, viewer: Viewer, filter: &RecipeFilter<'_>) -> Select<recipe::Entity> {
    let counted = match filter.author {
        Some(_) => with_author(viewer),
        None => recipe::Entity::find().filter(visible_to(viewer)),
    };
    counted.filter(matching(backend, filter))
}

/// The total of a list without a search, from the counts the database
/// keeps: the public and all recipes (`recipe_tallies`), and each owner's
/// public and private ones (`users`). `None` for a search.
async fn kept_total<C: ConnectionTrait>(db: &C, viewer: Viewer, filter: &RecipeFilter<'_>) -> Result<Option<u64>, DbErr> {
    if filter.q.is_some_and(|q| !q.is_empty()) {
        return Ok(None);
    }
    let owner = match (filter.owner_id, filter.author) {
        (Some(id), None) => Some(Expr::col((user::Entity, user::Column::Id)).eq(id)),
        (None, Some(author)) => match Username::parse(author) {
            Ok(name) => Some(Expr::col((user::Entity, user::Column::UsernameKey)).eq(name.key())),
            Err(_) => return Ok(Some(0)),
        },
        (None, None) => None,
        // Both at once: no page asks that; counted.
        (Some(_), Some(_)) => return Ok(None),
    };
    let tally = |name: &str| Expr::cust(format!("(SELECT value FROM recipe_tallies WHERE name = '{name}')"));
    let (public, private) = (Expr::col((user::Entity, Alias::new("public_recipes"))), Expr::col((user::Entity, Alias::new("private_recipes"))));
    let mut statement = Query::select();
    match (owner, viewer) {
        (None, Viewer::Anonymous) => statement.expr_as(tally("public"), Alias::new("total")),
        (None, Viewer::Admin) => statement.expr_as(tally("all"), Alias::new("total")),
        (None, Viewer::User(id)) => statement
            .expr_as(tally("public").add(private), Alias::new("total"))
            .from(user::Entity)
            .and_where(Expr::col((user::Entity, user::Column::Id)).eq(id)),
        (Some(owner), viewer) => {
            let all_of_it = match viewer {
                Viewer::Admin => Expr::cust("1 = 1"),
                Viewer::User(id) => Expr::col((user::Entity, user::Column::Id)).eq(id),
                Viewer::Anonymous => Expr::cust("1 = 0"),
            };
            let total = Expr::case(all_of_it, public.clone().add(private)).finally(public);
            statement.expr_as(total, Alias::new("total")).from(user::Entity).and_where(owner)
        }
    };
    let row = db.query_one_raw(StatementBuilder::build(&statement, &db.get_database_backend())).await?;
    // No such user: an empty list.
    Ok(Some(row.map(|row| row.try_get::<i64>("", "total")).transpose()?.map_or(0, |total: i64| u64::try_from(total).unwrap_or(0))))
}

/// Fewer characters than this match nothing in SQLite's trigram index.
const TRIGRAM: usize = 3;

/// Recipes whose name or description contains `q`, literally and
/// case-insensitively. `search_text` is folded in Rust, so the match is
/// case-insensitive for every letter on every backend (SQLite's `LOWER`
/// folds ASCII only). On SQLite a term of three characters or more is
/// looked up in the trigram index (migration 12) as one quoted phrase,
/// which matches exactly the substrings `LIKE` would; PostgreSQL's
/// `pg_trgm` index serves the `LIKE` itself.
fn search(backend: DbBackend, q: &str) -> Expr {
    let folded = q.to_lowercase();
    if backend == DbBackend::Sqlite && folded.chars().count() >= TRIGRAM {
        let phrase = format!("\"{}\"", folded.replace('"', "\"\""));
        let hits = Query::select()
            .expr(Expr::col(Alias::new("rowid")))
            .from(Alias::new("recipes_search"))
            .and_where(Expr::cust_with_values("recipes_search MATCH ?", [phrase]))
            .to_owned();
        return Expr::col((recipe::Entity, recipe::Column::Id)).in_subquery(hits);
    }
    let pattern = like_pattern(q);
    Expr::col((recipe::Entity, recipe::Column::SearchText)).like(LikeExpr::new(&pattern).escape('!'))
}

/// The recipe if it exists for `viewer`; a private recipe of someone else is
/// indistinguishable from a missing one.
pub async fn get<C: ConnectionTrait>(db: &C, id: i64, viewer: Viewer) -> Result<Option<RecipeRow>, DbErr> {
    with_author(viewer)
        .filter(recipe::Column::Id.eq(id))
        .into_model::<RecipeRow>()
        .one(db)
        .await
}

/// What search matches: name and description, lower-cased, with a separator
/// no search term contains (terms are trimmed single-line text).
fn search_text(new: &NewRecipe) -> String {
    format!("{}\u{1f}{}", new.name.as_str().to_lowercase(), new.description.as_str().to_lowercase())
}

pub async fn create<C: ConnectionTrait>(db: &C, owner_id: i64, new: &NewRecipe) -> Result<i64, DbErr> {
    let now = now_ts();
    let model = recipe::ActiveModel {
        user_id: Set(owner_id),
        name: Set(new.name.as_str().to_owned()),
        description: Set(new.description.as_str().to_owned()),
        cook_time: Set(new.cook_time.minutes()),
        directions: Set(new.directions.as_str().to_owned()),
        visibility: Set(new.visibility),
        search_text: Set(search_text(new)),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    };
    Ok(recipe::Entity::insert(model).exec(db).await?.last_insert_id)
}

pub async fn update<C: ConnectionTrait>(db: &C, id: i64, new: &NewRecipe) -> Result<(), DbErr> {
    recipe::ActiveModel {
        id: Set(id),
        name: Set(new.name.as_str().to_owned()),
        description: Set(new.description.as_str().to_owned()),
        cook_time: Set(new.cook_time.minutes()),
        directions: Set(new.directions.as_str().to_owned()),
        visibility: Set(new.visibility),
        search_text: Set(search_text(new)),
        updated_at: Set(now_ts()),
        ..Default::default()
    }
    .update(db)
    .await
    .map(drop)
}

pub async fn delete<C: ConnectionTrait>(db: &C, id: i64) -> Result<(), DbErr> {
    recipe::Entity::delete_by_id(id).exec(db).await.map(drop)
}
