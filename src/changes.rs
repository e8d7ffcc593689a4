//! Change counters that every instance of one database sees without a round
//! trip: what lets an instance keep answers in memory (`auth::cache`,
//! `catalog`) and still see, on its very next request, a change another
//! instance made.
//!
//! The protocol: a writer commits, then increments the counter of what it
//! changed ([`Changes::after`]). A reader loads the counter, *then* reads the
//! database, and keeps the answer with the value it loaded; the answer is
//! used only while the counter still has that value. A change committed
//! before the read is in the answer; one committed after it moves the
//! counter past the answer. Nothing expires by time.
//!
//! Where the counters live:
//! - An SQLite file: in a small file beside the database
//!   (`<database>-changes`) that every instance maps into memory; an
//!   increment is one atomic add, seen by every process at once. Instances
//!   of one SQLite database share a host, so this reaches all of them.
//! - SQLite in memory: one process only; the counters live in it.
//! - PostgreSQL and MariaDB: none, so nothing is kept and every request
//!   asks the database. `LISTEN/NOTIFY` arrives after the commit, so a
//!   request reaching another instance in between would get a stale answer;
//!   a version query would cost the round trip that keeping answers saves.

use std::collections::HashMap;
use std::fs::OpenOptions;
use std::future::Future;
use std::hash::Hash;
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use memmap2::MmapMut;
use uuid::Uuid;

/// Slot 0 counts changes to recipes; the rest count changes to users, a
/// user's slot picked by their public id. Users sharing a slot only make
/// each other's answers be read again.
const USER_SLOTS: usize = 4096;
const SLOTS: usize = 1 + USER_SLOTS;
const RECIPES: usize = 0;
const FILE_BYTES: u64 = (SLOTS * std::mem::size_of::<u64>()) as u64;

/// The value of a counter when a reader began, to keep with its answer.
/// `None`: this database has no counters, so nothing may be kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp(pub(crate) Option<u64>);

enum Counters {
    /// Mapped from the file beside an SQLite database.
    Shared(MmapMut),
    /// For a database only this process can open.
    Local(Box<[AtomicU64]>),
}

pub struct Changes(Option<Counters>);

impl Changes {
    /// The counters of the database at `database_url` (see the module doc).
    pub fn for_database(database_url: &str) -> anyhow::Result<Self> {
        let counters = match crate::db::sqlite_path(database_url) {
            Some(database) => {
                let path = counters_path(Path::new(database));
                let shared = map(&path).map_err(|e| anyhow::anyhow!("cannot open the change counters {}: {e}", path.display()))?;
                Some(Counters::Shared(shared))
            }
            None if database_url.starts_with("sqlite:") => {
                Some(Counters::Local((0..SLOTS).map(|_| AtomicU64::new(0)).collect()))
            }
            None => None,
        };
        Ok(Self(counters))
    }

    /// Whether answers may be kept at all.
    pub fn is_enabled(&self) -> bool {
        self.0.is_some()
    }

    fn slots(&self) -> Option<&[AtomicU64]> {
        match self.0.as_ref()? {
            Counters::Local(slots) => Some(slots),
            // SAFETY: the mapping is page-aligned (so aligned for u64) and
            // FILE_BYTES long, lives as long as `self`, and is only ever
            // read and written as atomics, by every process that maps it;
            // `AtomicU64` has the layout of `u64`.
            Counters::Shared(map) => Some(unsafe { std::slice::from_raw_parts(map.as_ptr().cast::<AtomicU64>(), SLOTS) }),
        }
    }

    fn slot(&self, index: usize) -> Option<&AtomicU64> {
        self.slots().map(|slots| &slots[index])
    }

    fn user_slot(user: Uuid) -> usize {
        // Public ids are random (v4), so their low bits spread evenly.
        1 + (user.as_u128() % USER_SLOTS as u128) as usize
    }

    /// Where the counter of `user` is now: taken before reading them.
    pub fn user(&self, user: Uuid) -> Stamp {
        Stamp(self.slot(Self::user_slot(user)).map(|slot| slot.load(Ordering::SeqCst)))
    }

    /// Where the counter of every recipe is now: taken before reading them.
    pub fn recipes(&self) -> Stamp {
        Stamp(self.slot(RECIPES).map(|slot| slot.load(Ordering::SeqCst)))
    }

    fn bump(&self, index: usize) {
        if let Some(slot) = self.slot(index) {
            slot.fetch_add(1, Ordering::SeqCst);
        }
    }

    /// Runs `write`, a change to `user` or to what their tokens are worth,
    /// then makes every instance read them again. Also when the write
    /// failed: a failure can come after the commit.
    pub async fn to_user<T>(&self, user: Uuid, write: impl Future<Output = T>) -> T {
        let outcome = write.await;
        self.bump(Self::user_slot(user));
        outcome
    }

    /// After a change to every user at once (old audit events purged):
    /// every instance reads every user again.
    pub fn to_everyone(&self) {
        for slot in 1..SLOTS {
            self.bump(slot);
        }
    }

    /// Runs `write`, a change to recipes (or to who wrote them), then makes
    /// every instance read the lists again; also when it failed.
    pub async fn to_recipes<T>(&self, write: impl Future<Output = T>) -> T {
        let outcome = write.await;
        self.bump(RECIPES);
        outcome
    }
}

/// Answers kept under the counter value taken before each was read: an
/// answer is handed out only while the counter still has that value.
pub struct Kept<K, V> {
    capacity: usize,
    entries: Mutex<HashMap<K, (u64, V)>>,
}

impl<K: Eq + Hash, V: Clone> Kept<K, V> {
    /// At most `capacity` answers; when full, all are dropped.
    pub fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(HashMap::new()) }
    }

    fn entries(&self) -> MutexGuard<'_, HashMap<K, (u64, V)>> {
        crate::lock(&self.entries)
    }

    /// The answer kept for `key`, if its counter is still at `now`.
    pub fn get(&self, key: &K, now: Stamp) -> Option<V> {
        // Without counters nothing is kept: no need to take the lock.
        let now = now.0?;
        match self.entries().get(key) {
            Some((stamp, value)) if *stamp == now => Some(value.clone()),
            _ => None,
        }
    }

    /// Keeps `value`, read after the counter was at `read_under`.
    pub fn put(&self, key: K, read_under: Stamp, value: V) {
        let Some(stamp) = read_under.0 else { return };
        let mut entries = self.entries();
        if entries.len() >= self.capacity {
            entries.clear();
        }
        entries.insert(key, (stamp, value));
    }
}

/// Maps the counters file, creating it (mode 0600) the first time.
fn map(path: &Path) -> io::Result<MmapMut> {
    let file = OpenOptions::new().read(true).write(true).create(true).truncate(false).mode(0o600).open(path)?;
    // Two instances starting at once may both extend it; extending to the
    // same length keeps what is there.
    if file.metadata()?.len() < FILE_BYTES {
        file.set_len(FILE_BYTES)?;
    }
    // SAFETY: the file is at least FILE_BYTES long and this program never
    // shortens it; every process changes it only through atomics.
    unsafe { MmapMut::map_mut(&file) }
}

/// Where the counters of the SQLite database at `database` live.
pub fn counters_path(database: &Path) -> PathBuf {
    let mut name = database.as_os_str().to_owned();
    name.push("-changes");
    PathBuf::from(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[rocket::async_test]
    async fn a_change_on_one_instance_moves_the_counter_every_instance_reads() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
        let (a, b) = (Changes::for_database(&url).unwrap(), Changes::for_database(&url).unwrap());
        let ann = Uuid::new_v4();
        let (before, recipes) = (b.user(ann), b.recipes());
        a.to_user(ann, async {}).await;
        assert_ne!(b.user(ann), before, "the other instance sees the user's change at once");
        assert_eq!(b.recipes(), recipes, "and only that");
        a.to_recipes(async {}).await;
        assert_ne!(b.recipes(), recipes);
    }

    #[test]
    fn a_server_database_has_no_counters() {
        let changes = Changes::for_database("postgres://localhost/test").unwrap();
        assert!(!changes.is_enabled());
        assert_eq!(changes.user(Uuid::new_v4()), Stamp(None));
    }

    #[test]
    fn the_counters_sit_beside_the_database() {
        assert_eq!(counters_path(Path::new("data/recipebox.db")), Path::new("data/recipebox.db-changes"));
    }
}
