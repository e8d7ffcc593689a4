//! Queries on `recipes`, always seen through a [`Viewer`]: a private recipe
//! exists only for its owner and admins, so every read filters by it.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Alias, Expr, ExprTrait, LikeExpr, Query, QueryStatementBuilder};
use sea_orm::{ActiveValue::Set, Condition, DbBackend, FromQueryResult, Iterable, JoinType, QueryOrder, QueryResult, QuerySelect, QueryTrait, Select, StatementBuilder};

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

/// A recipe with its author's public name; in a list of cards, without
/// its directions ([`Columns`]).
#[derive(Debug, Clone, FromQueryResult)]
pub struct RecipeRow {
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub description: String,
    pub cook_time: i32,
    /// `None` where only cards were read.
    pub directions: Option<String>,
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

/// What a list reads of each recipe: a page's cards show all but the
/// directions (up to 20,000 characters each); the API's items are whole
/// recipes (SPEC.md: `items` are recipes).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Columns {
    #[default]
    Cards,
    Whole,
}

fn with_author(viewer: Viewer, columns: Columns) -> Select<recipe::Entity> {
    let select = match columns {
        Columns::Whole => recipe::Entity::find(),
        Columns::Cards => recipe::Entity::find()
            .select_only()
            .columns(recipe::Column::iter().filter(|column| !matches!(column, recipe::Column::Directions)))
            .column_as(Expr::cust("NULL"), "directions"),
    };
    select
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
    pub author: Option<&'a Username>,
    /// A literal, case-insensitive substring of the name or description.
    pub q: Option<&'a str>,
    pub columns: Columns,
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
    if let Some(name) = filter.author {
        // The owner's id as a value of its own (a scalar subquery, run
        // once): the list is then a range of the owner's index, where a
        // join on the name would walk every recipe newest first.
        let owner = Query::select()
            .column(user::Column::Id)
            .from(user::Entity)
            .and_where(user::Column::UsernameKey.eq(name.key()))
            .to_owned();
        let owner = Expr::SubQuery(None, Box::new(owner.into_sub_query_statement()));
        matching = matching.add(Expr::col((recipe::Entity, recipe::Column::UserId)).eq(owner));
    }
    if let Some(q) = filter.q.filter(|q| !q.is_empty()) {
        matching = matching.add(search(backend, q));
    }
    matching
}

/// The rows of one page, newest first.
pub fn page_query(backend: DbBackend, viewer: Viewer, filter: &RecipeFilter<'_>, page: u64, per_page: u64) -> Select<recipe::Entity> {
    with_author(viewer, filter.columns)
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
        Some(_) => with_author(viewer, Columns::Cards),
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
        (None, Some(name)) => Some(Expr::col((user::Entity, user::Column::UsernameKey)).eq(name.key())),
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

/// The last row of `recipe_changes` (migration 15) a kept search has seen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ChangeMark {
    pub id: i64,
    pub tag: i64,
}

/// The most changes a search is brought up to date across; past it, it
/// counts its matches again.
pub const MAX_CHANGES: i64 = 10_000;

const CHANGES: &str = "recipe_changes";
const LAST_ID: &str = "(SELECT id FROM recipe_changes ORDER BY id DESC LIMIT 1)";
const LAST_TAG: &str = "(SELECT tag FROM recipe_changes ORDER BY id DESC LIMIT 1)";

/// Whether a search's count can be brought up to date from the changes
/// (migration 15) rather than counted: not when it names an author, since
/// whom a name names can change without a recipe changing.
pub fn searches_by_changes(filter: &RecipeFilter<'_>) -> bool {
    filter.q.is_some_and(|q| !q.is_empty()) && filter.author.is_none()
}

/// One page of a search (see [`searches_by_changes`]) and the last change it
/// includes. Given the page as kept at `since`, the total is that one's
/// plus the matching changes after it, and the page is read again only
/// when one of them matches; otherwise, or when the changes since are gone
/// (purged, or a database restored from a backup), too many, or include a
/// user's deletion or renaming, the matches are counted.
///
/// The count and its mark are read in one statement, so in one snapshot on
/// every backend: a change is either in the count and at or before the
/// mark, or after the mark and in the next delta, never both.
pub async fn search_page<C: ConnectionTrait>(
    db: &C,
    viewer: Viewer,
    filter: &RecipeFilter<'_>,
    page: u64,
    per_page: u64,
    since: Option<(&Page<RecipeRow>, ChangeMark)>,
) -> Result<(Page<RecipeRow>, Option<ChangeMark>), DbErr> {
    let backend = db.get_database_backend();
    let mark_of = |row: &QueryResult| -> Result<Option<ChangeMark>, DbErr> {
        let id: Option<i64> = row.try_get("", "mark_id")?;
        let tag: Option<i64> = row.try_get("", "mark_tag")?;
        Ok(id.zip(tag).map(|(id, tag)| ChangeMark { id, tag }))
    };
    if let Some((kept, since)) = since {
        let changes = |signs: &[i64]| {
            let mut select = Query::select();
            select
                .expr(Expr::cust("COUNT(*)"))
                .from(Alias::new(CHANGES))
                .and_where(Expr::col(Alias::new("id")).gt(since.id))
                .and_where(Expr::col(Alias::new("id")).lte(since.id.saturating_add(MAX_CHANGES)))
                .and_where(Expr::col(Alias::new("sign")).is_in(signs.iter().copied()));
            if signs != [0] {
                select.cond_where(changed_matching(viewer, filter));
            }
            Expr::SubQuery(None, Box::new(select.into_sub_query_statement()))
        };
        let chained = Query::select()
            .expr(Expr::cust("COUNT(*)"))
            .from(Alias::new(CHANGES))
            .and_where(Expr::col(Alias::new("id")).eq(since.id))
            .and_where(Expr::col(Alias::new("tag")).eq(since.tag))
            .to_owned();
        let statement = Query::select()
            .expr_as(Expr::cust(LAST_ID), Alias::new("mark_id"))
            .expr_as(Expr::cust(LAST_TAG), Alias::new("mark_tag"))
            .expr_as(Expr::SubQuery(None, Box::new(chained.into_sub_query_statement())), Alias::new("chained"))
            .expr_as(changes(&[0]), Alias::new("resets"))
            .expr_as(changes(&[1]), Alias::new("added"))
            .expr_as(changes(&[-1]), Alias::new("removed"))
            .to_owned();
        let row = db.query_one_raw(StatementBuilder::build(&statement, &backend)).await?;
        let row = row.ok_or_else(|| DbErr::RecordNotFound("the changes since a kept search".into()))?;
        let mark = mark_of(&row)?;
        let [chained, resets, added, removed] = ["chained", "resets", "added", "removed"].map(|name| row.try_get::<i64>("", name));
        let (chained, resets, added, removed) = (chained?, resets?, added?, removed?);
        let within = mark.is_some_and(|mark| mark.id - since.id <= MAX_CHANGES);
        if chained == 1 && resets == 0 && within {
            let total = u64::try_from(i64::try_from(kept.total).unwrap_or(i64::MAX) + added - removed).unwrap_or(0);
            let items = if added + removed == 0 {
                kept.items.clone()
            } else {
                page_query(backend, viewer, filter, page, per_page).into_model::<RecipeRow>().all(db).await?
            };
            return Ok((Page { items, page, per_page, total }, mark));
        }
    }
    let counted = count_query(backend, viewer, filter).select_only().expr(Expr::cust("COUNT(*)")).into_query();
    let statement = Query::select()
        .expr_as(Expr::cust(LAST_ID), Alias::new("mark_id"))
        .expr_as(Expr::cust(LAST_TAG), Alias::new("mark_tag"))
        .expr_as(Expr::SubQuery(None, Box::new(counted.into_sub_query_statement())), Alias::new("total"))
        .to_owned();
    let row = db.query_one_raw(StatementBuilder::build(&statement, &backend)).await?;
    let row = row.ok_or_else(|| DbErr::RecordNotFound("a search's count".into()))?;
    let total = u64::try_from(row.try_get::<i64>("", "total")?).unwrap_or(0);
    let mark = mark_of(&row)?;
    let items = page_query(backend, viewer, filter, page, per_page).into_model::<RecipeRow>().all(db).await?;
    Ok((Page { items, page, per_page, total }, mark))
}

/// [`visible_to`] and [`matching`] on the rows of `recipe_changes`, for a
/// search without an author.
fn changed_matching(viewer: Viewer, filter: &RecipeFilter<'_>) -> Condition {
    let column = |name: &str| Expr::col(Alias::new(name));
    let public = column("visibility").eq(Visibility::Public.as_str());
    let mut condition = match viewer {
        Viewer::Admin => Condition::all(),
        Viewer::User(id) => Condition::all().add(Condition::any().add(public).add(column("user_id").eq(id))),
        Viewer::Anonymous => Condition::all().add(public),
    };
    if let Some(owner_id) = filter.owner_id {
        condition = condition.add(column("user_id").eq(owner_id));
    }
    if let Some(q) = filter.q.filter(|q| !q.is_empty()) {
        condition = condition.add(column("search_text").like(LikeExpr::new(like_pattern(q)).escape('!')));
    }
    condition
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
    with_author(viewer, Columns::Whole)
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

/// Every recipe of one owner, private ones too, oldest first (the export).
pub async fn of_owner<C: ConnectionTrait>(db: &C, owner_id: i64) -> Result<Vec<recipe::Model>, DbErr> {
    recipe::Entity::find().filter(recipe::Column::UserId.eq(owner_id)).order_by_asc(recipe::Column::Id).all(db).await
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

/// How many of the newest `recipe_changes` the purge keeps: the changes a
/// kept search may still be brought up to date across, and more.
pub const CHANGES_KEPT: i64 = 100_000;

/// Deletes all but the newest [`CHANGES_KEPT`] recipe changes (never the
/// newest, which marks where the next ones follow).
pub async fn purge_changes<C: ConnectionTrait>(db: &C) -> Result<u64, DbErr> {
    let last = Query::select().expr_as(Expr::cust(LAST_ID), Alias::new("mark_id")).to_owned();
    let row = db.query_one_raw(StatementBuilder::build(&last, &db.get_database_backend())).await?;
    let Some(last) = row.map(|row| row.try_get::<Option<i64>>("", "mark_id")).transpose()?.flatten() else { return Ok(0) };
    let purge = Query::delete()
        .from_table(Alias::new(CHANGES))
        .and_where(Expr::col(Alias::new("id")).lte(last - CHANGES_KEPT))
        .to_owned();
    Ok(db.execute_raw(StatementBuilder::build(&purge, &db.get_database_backend())).await?.rows_affected())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_of_cards_does_not_read_the_directions_and_the_apis_list_does() {
        for backend in [DbBackend::Sqlite, DbBackend::Postgres, DbBackend::MySql] {
            for viewer in [Viewer::Anonymous, Viewer::User(7), Viewer::Admin] {
                let sql = |columns| {
                    let filter = RecipeFilter { q: Some("saffron"), columns, ..Default::default() };
                    page_query(backend, viewer, &filter, 2, 20).build(backend).to_string()
                };
                let cards = sql(Columns::Cards);
                assert!(!cards.contains("recipes\".\"directions") && !cards.contains("recipes`.`directions"), "{cards}");
                assert!(cards.contains("NULL AS"), "{cards}");
                let whole = sql(Columns::Whole);
                assert!(whole.contains("recipes\".\"directions") || whole.contains("recipes`.`directions"), "{whole}");
            }
        }
    }
}
