//! Recipes as the site lists them: `store::recipes`, with each list kept in
//! memory until any recipe changes anywhere, and every write to recipes made
//! through here so that every instance hears of it (`crate::changes`). On
//! PostgreSQL and MariaDB nothing is kept.
//!
//! A list's count is what costs: it reads every recipe the viewer may see.
//! Lists are read far more often than recipes are written, so the pages,
//! the API and search all go through [`list`]. Rendering a list's cards
//! costs next (Tera builds its context value by value), so a kept list also
//! keeps its cards' HTML once a page has rendered them ([`Listing`]).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use sea_orm::DbErr;

use crate::app::App;
use crate::changes::{Changes, Stamp};
use crate::domain::NewRecipe;
use crate::store::recipes::{self, RecipeFilter, RecipeRow, Viewer};
use crate::store::Page;

/// The most text kept, in bytes (recipes are up to 20 kB each).
const BUDGET: usize = 4 << 20;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
struct ListKey {
    viewer: Viewer,
    owner_id: Option<i64>,
    author: Option<String>,
    q: Option<String>,
    page: u64,
    per_page: u64,
}

/// One page of a list, as kept.
pub struct Listing {
    pub page: Page<RecipeRow>,
    cards: OnceLock<String>,
}

impl Listing {
    fn new(page: Page<RecipeRow>) -> Self {
        Self { page, cards: OnceLock::new() }
    }

    /// The HTML of the list's cards: `render` makes it from the rows the
    /// first time a page asks (the rows alone decide it), and it is kept
    /// with the list. `None` when `render` fails.
    pub fn cards_html(&self, render: impl FnOnce(&[RecipeRow]) -> Option<String>) -> Option<&str> {
        if let Some(html) = self.cards.get() {
            return Some(html);
        }
        let html = render(&self.page.items)?;
        Some(self.cards.get_or_init(|| html))
    }
}

#[derive(Default)]
struct Kept {
    /// The recipe counter every list here was read under.
    stamp: Option<u64>,
    lists: HashMap<ListKey, Arc<Listing>>,
    bytes: usize,
}

pub struct RecipeCache {
    changes: Arc<Changes>,
    kept: Mutex<Kept>,
}

impl RecipeCache {
    pub fn new(changes: Arc<Changes>) -> Self {
        Self { changes, kept: Mutex::default() }
    }

    fn kept(&self) -> MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Where the recipes counter is now: taken before reading a list.
    fn now(&self) -> Stamp {
        self.changes.recipes()
    }

    fn get(&self, key: &ListKey, now: Stamp) -> Option<Arc<Listing>> {
        let kept = self.kept();
        (now.0.is_some() && kept.stamp == now.0).then(|| kept.lists.get(key).cloned()).flatten()
    }

    fn put(&self, key: ListKey, read_under: Stamp, listing: &Arc<Listing>) {
        let Some(stamp) = read_under.0 else { return };
        let mut kept = self.kept();
        match kept.stamp {
            // Read before a change that newer lists already reflect.
            Some(newest) if stamp < newest => return,
            Some(newest) if stamp == newest => {}
            _ => *kept = Kept { stamp: Some(stamp), ..Kept::default() },
        }
        let bytes = listing.page.items.iter().map(size).sum::<usize>();
        if kept.bytes + bytes > BUDGET {
            kept.lists.clear();
            kept.bytes = 0;
        }
        kept.bytes += bytes;
        kept.lists.insert(key, Arc::clone(listing));
    }
}

/// What a row and its card take, roughly: the text twice (the card's HTML
/// holds the name and description again).
fn size(row: &RecipeRow) -> usize {
    std::mem::size_of::<RecipeRow>() + 2 * (row.name.len() + row.description.len() + row.author_username.len()) + row.directions.len()
}

/// One page of the recipes `viewer` may see that match `filter`.
pub async fn list(app: &App, viewer: Viewer, filter: RecipeFilter<'_>, page: u64, per_page: u64) -> Result<Arc<Listing>, DbErr> {
    let key = ListKey {
        viewer,
        owner_id: filter.owner_id,
        author: filter.author.map(str::to_owned),
        q: filter.q.map(str::to_owned),
        page,
        per_page,
    };
    let now = app.recipe_cache.now();
    if let Some(found) = app.recipe_cache.get(&key, now) {
        return Ok(found);
    }
    let found = Arc::new(Listing::new(recipes::list(&app.db, viewer, filter, page, per_page).await?));
    app.recipe_cache.put(key, now, &found);
    Ok(found)
}

pub async fn create(app: &App, owner_id: i64, new: &NewRecipe) -> Result<i64, DbErr> {
    app.changes.to_recipes(recipes::create(&app.db, owner_id, new)).await
}

pub async fn update(app: &App, id: i64, new: &NewRecipe) -> Result<(), DbErr> {
    app.changes.to_recipes(recipes::update(&app.db, id, new)).await
}

pub async fn delete(app: &App, id: i64) -> Result<(), DbErr> {
    app.changes.to_recipes(recipes::delete(&app.db, id)).await
}
