//! Recipes as the site lists them: `store::recipes`, with each page of a
//! list kept in memory (`crate::kept`) under the recipes' version, which a
//! database trigger changes with every recipe write on any instance. The
//! version comes with the guard's one query for a logged-in caller
//! ([`Authenticated::recipes_version`]); a visitor's request reads it alone.
//!
//! A list's page is an index range and its total a count the database
//! keeps (migrations 13 and 14), so reading one again after a write costs
//! little. A search's total is the one count no trigger can keep: it would
//! be counted again after every write on any instance. So the search as
//! last read is kept under its key alone too, with the last recipe change
//! it includes (`recipe_changes`, migration 15); the next version's is that
//! one brought up to date from the changes since, in one small query
//! (`store::recipes::search_page`), and its page is read again only when
//! one of them matches.
//!
//! Rendering a list's cards costs next (Tera builds its context value by
//! value), so the cards' HTML and a visitor's whole page are kept beside
//! the list, under the same key and version.
//!
//! After a change every connection misses the same list at once; one of
//! them reads it while the others wait for its answer.

use std::sync::Arc;

use sea_orm::DbErr;
use serde::Serialize;

use crate::app::App;
use crate::auth::Authenticated;
use crate::domain::NewRecipe;
use crate::kept::{Version, Weigh};
use crate::store::recipes::{self, ChangeMark, Columns, RecipeFilter, RecipeRow, Viewer};
use crate::store::Page;

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize)]
struct ListKey {
    viewer: Viewer,
    owner_id: Option<i64>,
    /// Only ever a valid user name: anything else names nobody and is not
    /// kept (a visitor's text never becomes a key beyond its bounds).
    author: Option<String>,
    /// At most `routes::paging::MAX_QUERY_CHARS` characters.
    q: Option<String>,
    columns: Columns,
    page: u64,
    per_page: u64,
}

/// One page of a list, as read under `version`.
pub struct Listing {
    pub page: Page<RecipeRow>,
    /// `None` for a list that is not kept, nor anything rendered from it.
    key: Option<ListKey>,
    version: Version,
    /// For a search, the last recipe change it includes.
    mark: Option<ChangeMark>,
}

impl Weigh for RecipeRow {
    fn heap_bytes(&self) -> usize {
        [&self.name, &self.description, &self.author_username].iter().map(|text| text.heap_bytes()).sum::<usize>() + self.directions.heap_bytes()
    }
}

impl Weigh for Listing {
    fn heap_bytes(&self) -> usize {
        let key = self.key.as_ref().map_or(0, |key| key.author.heap_bytes() + key.q.heap_bytes());
        self.page.items.heap_bytes() + key
    }
}

const LIST: &str = "recipe list";
/// A search as last read, under its key alone: the next version's is
/// brought up to date from it.
const LATEST_SEARCH: &str = "recipe search, latest";
const CARDS: &str = "recipe cards";

impl Listing {
    /// The HTML of the list's cards: `render` makes it from the rows the
    /// first time a page asks (the rows alone decide it), and it is kept
    /// with the list.
    pub fn cards_html<E>(&self, app: &App, render: impl FnOnce(&[RecipeRow]) -> Result<Arc<str>, E>) -> Result<Arc<str>, E> {
        self.kept_html(app, CARDS, || render(&self.page.items))
    }

    /// The page `template` renders from this list (and the key it was
    /// found by) alone: `render` makes it the first time, and it is kept
    /// with the list.
    pub fn page_html<E>(&self, app: &App, template: &'static str, render: impl FnOnce() -> Result<Arc<str>, E>) -> Result<Arc<str>, E> {
        self.kept_html(app, template, render)
    }

    fn kept_html<E>(&self, app: &App, kind: &'static str, render: impl FnOnce() -> Result<Arc<str>, E>) -> Result<Arc<str>, E> {
        let Some(key) = &self.key else { return render() };
        let versions = [self.version];
        if let Some(html) = app.kept.get::<Arc<str>>(kind, key, &versions) {
            return Ok(Arc::clone(&html));
        }
        let html = render()?;
        app.kept.put(kind, key, &versions, Arc::clone(&html));
        Ok(html)
    }
}

/// Who is looking, for the store: admins see every recipe, a user also
/// their own private ones.
pub fn viewer(user: Option<&Authenticated>) -> Viewer {
    user.map_or(Viewer::Anonymous, Authenticated::viewer)
}

/// One page of the recipes `user` (or a visitor) may see that match
/// `filter`: kept under the recipes' version that came with the guard's
/// row, or else that is read now, before the list.
pub async fn list(app: &App, user: Option<&Authenticated>, filter: RecipeFilter<'_>, page: u64, per_page: u64) -> Result<Arc<Listing>, DbErr> {
    list_as(app, viewer(user), user.map(|user| user.recipes_version), filter, page, per_page).await
}

/// [`list`] for `viewer`, with the recipes' version that came with the
/// caller's row (`None` for a visitor: read now).
pub async fn list_as(app: &App, viewer: Viewer, version: Option<Version>, filter: RecipeFilter<'_>, page: u64, per_page: u64) -> Result<Arc<Listing>, DbErr> {
    let version = match version {
        Some(version) => version,
        None => app.reads.recipes_version(&app.kept).await?,
    };
    let author = filter.author.map(|name| name.as_str().to_owned());
    let key = ListKey { viewer, owner_id: filter.owner_id, author, q: filter.q.map(str::to_owned), columns: filter.columns, page, per_page };
    let read = async {
        if !recipes::searches_by_changes(&filter) {
            let page = recipes::list(&app.db, viewer, filter.clone(), page, per_page).await?;
            return Ok::<_, DbErr>(Listing { page, key: Some(key.clone()), version, mark: None });
        }
        // A search counts its matches: bring the last one read up to date
        // from the recipes written since, rather than count again.
        let latest = app.kept.get::<Listing>(LATEST_SEARCH, &key, &[]);
        let since = latest.as_ref().and_then(|latest| Some((&latest.page, latest.mark?)));
        let (page, mark) = recipes::search_page(&app.db, viewer, &filter, page, per_page, since).await?;
        let listing = Listing { page, key: Some(key.clone()), version, mark };
        app.kept.put(LATEST_SEARCH, &key, &[], Listing { page: listing.page.clone(), key: listing.key.clone(), version, mark });
        Ok(listing)
    };
    app.kept.get_or_read(LIST, &key, &[version], read).await
}

pub async fn create(app: &App, owner_id: i64, new: &NewRecipe) -> Result<i64, DbErr> {
    recipes::create(&app.db, owner_id, new).await
}

pub async fn update(app: &App, id: i64, new: &NewRecipe) -> Result<(), DbErr> {
    recipes::update(&app.db, id, new).await
}

pub async fn delete(app: &App, id: i64) -> Result<(), DbErr> {
    recipes::delete(&app.db, id).await
}
