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
//!
//! After a change every connection misses the same list at once; one of
//! them reads it while the others wait for its answer (one slot per list,
//! so unrelated lists and searches never wait for each other).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock};

use rocket::tokio::sync::OnceCell;
use sea_orm::DbErr;

use crate::app::App;
use crate::changes::{Changes, Stamp};
use crate::domain::NewRecipe;
use crate::lock;
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

/// One page of a list, as kept, with what was rendered from it alone.
pub struct Listing {
    pub page: Page<RecipeRow>,
    cards: OnceLock<Arc<str>>,
    /// Whole pages that show this list and nothing else, by template: what
    /// a visitor without a flash message sees.
    pages: Mutex<Vec<(&'static str, Arc<str>)>>,
}

impl Listing {
    fn new(page: Page<RecipeRow>) -> Self {
        Self { page, cards: OnceLock::new(), pages: Mutex::default() }
    }

    /// The HTML of the list's cards: `render` makes it from the rows the
    /// first time a page asks (the rows alone decide it), and it is kept
    /// with the list.
    pub fn cards_html<E>(&self, render: impl FnOnce(&[RecipeRow]) -> Result<Arc<str>, E>) -> Result<&str, E> {
        if let Some(html) = self.cards.get() {
            return Ok(html);
        }
        let html = render(&self.page.items)?;
        Ok(self.cards.get_or_init(|| html))
    }

    /// The page `template` renders from this list (and the key it was
    /// found by) alone: `render` makes it the first time, and it is kept
    /// with the list.
    pub fn page_html<E>(&self, template: &'static str, render: impl FnOnce() -> Result<Arc<str>, E>) -> Result<Arc<str>, E> {
        let kept = |pages: &[(&str, Arc<str>)]| pages.iter().find(|(name, _)| *name == template).map(|(_, html)| Arc::clone(html));
        if let Some(html) = kept(&lock(&self.pages)) {
            return Ok(html);
        }
        let html = render()?;
        let mut pages = lock(&self.pages);
        if kept(&pages).is_none() {
            pages.push((template, Arc::clone(&html)));
        }
        Ok(html)
    }
}

/// A list's place among the kept ones: filled by the first reader, awaited
/// by the others.
type Slot = Arc<OnceCell<Arc<Listing>>>;

#[derive(Default)]
struct Kept {
    /// The recipe counter every list here was read under.
    stamp: Option<u64>,
    lists: HashMap<ListKey, Slot>,
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
        lock(&self.kept)
    }

    /// Where the recipes counter is now: taken before reading a list.
    fn now(&self) -> Stamp {
        self.changes.recipes()
    }

    /// The slot of `key` for lists read at `now`, or `None` when nothing is
    /// kept (no counters, or `now` is older than lists already kept: a
    /// change came in since it was taken).
    fn slot(&self, key: &ListKey, now: Stamp) -> Option<Slot> {
        let now = now.0?;
        let mut kept = self.kept();
        match kept.stamp {
            Some(newest) if now < newest => return None,
            Some(newest) if now == newest => {}
            _ => *kept = Kept { stamp: Some(now), ..Kept::default() },
        }
        if let Some(slot) = kept.lists.get(key) {
            return Some(Arc::clone(slot));
        }
        let slot = Slot::default();
        kept.lists.insert(key.clone(), Arc::clone(&slot));
        Some(slot)
    }

    /// Counts a list just read at `now` against the budget; past it, every
    /// other list goes.
    fn filled(&self, key: &ListKey, now: Stamp, listing: &Listing) {
        let mut kept = self.kept();
        if kept.stamp != now.0 {
            return;
        }
        let bytes = size(listing);
        if kept.bytes + bytes > BUDGET {
            kept.lists.retain(|kept_key, _| kept_key == key);
            kept.bytes = 0;
        }
        kept.bytes += bytes;
    }
}

/// What a list, its cards and a page of it take, roughly: the text three
/// times (the cards' HTML and the page hold names and descriptions again)
/// and the page's layout.
fn size(listing: &Listing) -> usize {
    const LAYOUT: usize = 4 << 10;
    let row = |row: &RecipeRow| {
        std::mem::size_of::<RecipeRow>() + 3 * (row.name.len() + row.description.len() + row.author_username.len()) + row.directions.len()
    };
    LAYOUT + listing.page.items.iter().map(row).sum::<usize>()
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
    let cache = &app.recipe_cache;
    let now = cache.now();
    let read = || async { Ok::<_, DbErr>(Arc::new(Listing::new(recipes::list(&app.db, viewer, filter.clone(), page, per_page).await?))) };
    let Some(slot) = cache.slot(&key, now) else {
        return read().await;
    };
    let mut read_here = false;
    let found = slot
        .get_or_try_init(|| {
            read_here = true;
            read()
        })
        .await?;
    if read_here {
        cache.filled(&key, now, found);
    }
    Ok(Arc::clone(found))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn search(q: &str) -> ListKey {
        ListKey { viewer: Viewer::Anonymous, owner_id: None, author: None, q: Some(q.to_owned()), page: 1, per_page: 20 }
    }

    #[rocket::async_test]
    async fn readers_of_one_list_share_one_read_until_a_change() {
        let changes = Arc::new(Changes::for_database("sqlite::memory:").unwrap());
        let cache = RecipeCache::new(Arc::clone(&changes));
        let before = cache.now();
        let first = cache.slot(&search("rice"), before).unwrap();
        assert!(Arc::ptr_eq(&first, &cache.slot(&search("rice"), before).unwrap()), "a second reader waits for the first one's read");
        assert!(!Arc::ptr_eq(&first, &cache.slot(&search("soup"), before).unwrap()), "a reader of another list does not");

        changes.to_recipes(async {}).await;
        let after = cache.now();
        assert!(!Arc::ptr_eq(&first, &cache.slot(&search("rice"), after).unwrap()), "after a change, a new read");
        assert!(cache.slot(&search("rice"), before).is_none(), "a reader that took the counter before it keeps nothing");
    }
}
