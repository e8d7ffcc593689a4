//! What the server keeps in memory between requests: one cache for the
//! whole process, bounded by bytes, below every feature that uses it.
//!
//! A feature hands it a kind (a name of its own), a key, the versions its
//! answer depends on, and the answer. The rule that makes a kept answer as
//! trustworthy as the database: a [`Version`] is a value the database itself
//! changes, by a trigger, in the same transaction as every write to what it
//! covers (migration 13: `versions` for the recipes, `users.version` for
//! what `/me` shows of an account). A reader reads the version first, then
//! the data, and keeps the answer under the version it read; the answer is
//! found again only by a request that read that very version. A write
//! committed before the read is in the answer; one committed after it has
//! changed the version. A writer that dies after its commit has changed the
//! version too (same transaction), and so has an operator's `UPDATE` typed
//! into `sqlite3` or `psql`. A new version is a random number, not the old
//! one plus one, so a database restored from an older backup does not walk
//! back into versions a running process has kept answers under.
//!
//! Versions are part of the key: an answer under an old version is never
//! found again and leaves as the budget needs room. A feature may also keep
//! something under no version at all, but then never as an answer: only as
//! the starting point of a read that checks it against the database itself
//! (`crate::catalog` keeps the last search read so, with the mark of the
//! last change it includes, and brings it up to date from the changes the
//! database logged since). The budget counts each
//! entry by its real size (its key, its value's heap bytes and a fixed
//! overhead), across every kind, whatever a visitor sends: an input too
//! large to be a key is refused where it is read (`routes`), and an answer
//! larger than its share of the budget is simply not kept.
//!
//! Nothing here expires by time: answers that time alone changes (a session
//! expiring) check that themselves when they are found.

use std::any::Any;
use std::future::Future;
use std::sync::Arc;

use quick_cache::sync::Cache;
use quick_cache::Weighter;
use serde::Serialize;

/// What the cache may hold, in bytes, all kinds together.
pub const BUDGET: u64 = 64 << 20;
/// What an entry costs beyond its key and value: the cache's own slot, the
/// `Arc`s and the allocator's rounding, generously.
const OVERHEAD: u64 = 256;

/// A version read from the database (see the module doc).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub struct Version(pub i64);

/// The heap a kept value owns, in bytes: what it points to, not its own
/// inline size (its container counts that: a field in its struct, an
/// element in its vector's buffer, the value in its cache entry).
pub trait Weigh {
    fn heap_bytes(&self) -> usize;
}

/// An answer with nothing in it but that there was one (the health probe's).
impl Weigh for () {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Weigh for Version {
    fn heap_bytes(&self) -> usize {
        0
    }
}

/// Behind an `Arc`, its text is the allocation (`Arc<T>` counts it).
impl Weigh for str {
    fn heap_bytes(&self) -> usize {
        0
    }
}

impl Weigh for String {
    fn heap_bytes(&self) -> usize {
        self.capacity()
    }
}

impl<T: Weigh + ?Sized> Weigh for Arc<T> {
    fn heap_bytes(&self) -> usize {
        // The two reference counts beside the value.
        2 * std::mem::size_of::<usize>() + std::mem::size_of_val(&**self) + (**self).heap_bytes()
    }
}

impl<T: Weigh> Weigh for Option<T> {
    fn heap_bytes(&self) -> usize {
        self.as_ref().map_or(0, Weigh::heap_bytes)
    }
}

impl<T: Weigh> Weigh for Vec<T> {
    fn heap_bytes(&self) -> usize {
        self.capacity() * std::mem::size_of::<T>() + self.iter().map(Weigh::heap_bytes).sum::<usize>()
    }
}

#[derive(Clone, PartialEq, Eq, Hash)]
struct Key {
    kind: &'static str,
    /// The feature's key and the versions, serialized: unambiguous, and
    /// its length is what the key costs.
    id: Box<[u8]>,
}

#[derive(Clone)]
struct Entry {
    bytes: u64,
    value: Arc<dyn Any + Send + Sync>,
}

#[derive(Clone)]
struct ByBytes;

impl Weighter<Key, Entry> for ByBytes {
    fn weight(&self, key: &Key, entry: &Entry) -> u64 {
        OVERHEAD + key.id.len() as u64 + entry.bytes
    }
}

pub struct Kept {
    cache: Cache<Key, Entry, ByBytes>,
}

impl Kept {
    /// A cache of at most `budget` bytes.
    pub fn new(budget: u64) -> Self {
        // The estimate only sizes the tables up front: entries of 4 kB.
        let estimated_items = (budget / 4096).max(16) as usize;
        Self { cache: Cache::with_weighter(estimated_items, budget, ByBytes) }
    }

    fn key(kind: &'static str, key: &impl Serialize, versions: &[Version]) -> Key {
        let id = serde_json::to_vec(&(versions, key)).expect("BUG: a kept key serializes");
        Key { kind, id: id.into_boxed_slice() }
    }

    /// The answer kept as `kind` for `key` under exactly `versions`.
    pub fn get<V: Send + Sync + 'static>(&self, kind: &'static str, key: &impl Serialize, versions: &[Version]) -> Option<Arc<V>> {
        let entry = self.cache.get(&Self::key(kind, key, versions))?;
        entry.value.downcast().ok()
    }

    /// Keeps `value` as `kind` for `key`, read after `versions` were read.
    pub fn put<V: Weigh + Send + Sync + 'static>(&self, kind: &'static str, key: &impl Serialize, versions: &[Version], value: V) -> Arc<V> {
        let (entry, value) = Self::entry(value);
        self.cache.insert(Self::key(kind, key, versions), entry);
        value
    }

    /// The answer kept as `kind` for `key` under `versions`, or else the
    /// one `read` makes, kept. Of requests asking for the same missing
    /// answer at once, one reads and the others wait for its answer; if its
    /// read fails, the next one in line reads.
    pub async fn get_or_read<V, E, F>(&self, kind: &'static str, key: &impl Serialize, versions: &[Version], read: F) -> Result<Arc<V>, E>
    where
        V: Weigh + Send + Sync + 'static,
        F: Future<Output = Result<V, E>>,
    {
        let key = Self::key(kind, key, versions);
        match self.cache.get_value_or_guard_async(&key).await {
            Ok(entry) => match entry.value.downcast() {
                Ok(value) => Ok(value),
                Err(_) => Ok(Arc::new(read.await?)),
            },
            Err(guard) => {
                let (entry, value) = Self::entry(read.await?);
                let _ = guard.insert(entry);
                Ok(value)
            }
        }
    }

    fn entry<V: Weigh + Send + Sync + 'static>(value: V) -> (Entry, Arc<V>) {
        let bytes = (std::mem::size_of::<V>() + value.heap_bytes()) as u64;
        let value = Arc::new(value);
        (Entry { bytes, value: Arc::clone(&value) as Arc<dyn Any + Send + Sync> }, value)
    }

    /// The bytes kept now, as the budget counts them.
    pub fn bytes(&self) -> u64 {
        self.cache.weight()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V1: Version = Version(1);
    const V2: Version = Version(-7);

    #[test]
    fn an_answer_is_found_only_under_the_versions_it_was_read_under() {
        let kept = Kept::new(1 << 20);
        kept.put("list", &("rice", 1), &[V1], String::from("three recipes"));
        assert_eq!(kept.get::<String>("list", &("rice", 1), &[V1]).as_deref().map(String::as_str), Some("three recipes"));
        assert!(kept.get::<String>("list", &("rice", 1), &[V2]).is_none(), "another version is another answer");
        assert!(kept.get::<String>("list", &("rice", 2), &[V1]).is_none(), "another key too");
        assert!(kept.get::<String>("page", &("rice", 1), &[V1]).is_none(), "and another kind");
        assert!(kept.get::<Vec<String>>("list", &("rice", 1), &[V1]).is_none(), "a value of another type is not handed out");
    }

    #[test]
    fn keys_that_differ_only_in_where_a_separator_falls_are_two_keys() {
        let kept = Kept::new(1 << 20);
        kept.put("list", &("a|b", "c"), &[V1], String::from("first"));
        assert!(kept.get::<String>("list", &("a", "b|c"), &[V1]).is_none());
    }

    #[test]
    fn what_is_kept_stays_within_the_budget_by_its_real_size() {
        let budget = 1 << 20;
        let kept = Kept::new(budget);
        // 2,000 answers of 30 kB each (60 MB) with 30 kB keys, as hostile
        // query strings would make.
        let big = "x".repeat(30_000);
        for i in 0..2_000 {
            kept.put("list", &(i, &big), &[V1], big.clone());
            assert!(kept.bytes() <= budget, "after {i} answers the cache holds {} bytes", kept.bytes());
        }
        assert!(kept.bytes() > budget / 2, "and it does keep what fits: {} bytes", kept.bytes());
    }

    #[rocket::async_test]
    async fn readers_of_one_missing_answer_share_one_read() {
        let kept = Arc::new(Kept::new(1 << 20));
        let reads = Arc::new(std::sync::atomic::AtomicUsize::new(0));
        let (gate, opened) = rocket::tokio::sync::oneshot::channel::<()>();
        let first = {
            let (kept, reads) = (Arc::clone(&kept), Arc::clone(&reads));
            rocket::tokio::spawn(async move {
                kept.get_or_read("list", &"soup", &[V1], async {
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    opened.await.ok();
                    Ok::<_, ()>(String::from("soup"))
                })
                .await
            })
        };
        rocket::tokio::task::yield_now().await;
        let second = {
            let (kept, reads) = (Arc::clone(&kept), Arc::clone(&reads));
            rocket::tokio::spawn(async move {
                kept.get_or_read("list", &"soup", &[V1], async {
                    reads.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    Ok::<_, ()>(String::from("soup, read twice"))
                })
                .await
            })
        };
        rocket::tokio::task::yield_now().await;
        gate.send(()).unwrap();
        assert_eq!(*first.await.unwrap().unwrap(), "soup");
        assert_eq!(*second.await.unwrap().unwrap(), "soup", "the second reader got the first one's answer");
        assert_eq!(reads.load(std::sync::atomic::Ordering::SeqCst), 1);
    }
}
