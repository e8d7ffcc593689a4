//! Reads that many requests need at once, made as one query.
//!
//! Under load most of a request's cost is its round trip to the database
//! (a hand-over to sqlx's SQLite thread, or a PostgreSQL or MariaDB
//! statement), not the query's own work. A [`Batcher`] gathers the reads
//! waiting at one moment and makes them as one query, whose answer it hands
//! to each. What a request gets is never older than the request: a read
//! joins only a batch that has not started, so the query that answers it
//! began after it was asked. A revocation committed before a request
//! arrived is in its answer exactly as if it had read alone; nothing is
//! kept between batches.
//!
//! Nobody waits for company: a read asked while no batch runs starts one at
//! once; the reads asked while it runs make up the next. A failed batch
//! answers nobody, and each of its readers reads alone (and meets the
//! error itself, if there is one).

use std::collections::HashMap;
use std::future::Future;
use std::hash::Hash;
use std::sync::Arc;

use rocket::tokio::sync::{mpsc, oneshot, Mutex};
use sea_orm::prelude::Uuid;
use sea_orm::{DatabaseConnection, DbErr};

use super::commits::Commits;
use super::access_tokens::HolderRow;
use super::tokens::AuthRow;
use crate::kept::{Kept, Version};

/// The most reads one query makes (its parameters stay far below every
/// backend's limit).
pub const MAX_BATCH: usize = 128;

/// Reads waiting at most, beyond the batches running; a read past it waits
/// for room.
const QUEUE: usize = 4 * MAX_BATCH;

struct Job<K, V> {
    key: K,
    answer: oneshot::Sender<V>,
}

/// Makes the reads of `K` waiting together as one query (see the module).
pub struct Batcher<K, V> {
    queue: mpsc::Sender<Job<K, V>>,
}

impl<K, V> Batcher<K, V>
where
    K: Clone + Eq + Hash + Send + 'static,
    V: Clone + Send + 'static,
{
    /// Starts `lanes` batches that may run at once, each reading the
    /// distinct keys waiting with `read`, which answers them in their order.
    /// Needs a Tokio runtime (Rocket's).
    pub fn start<F, Fut>(lanes: usize, read: F) -> Self
    where
        F: Fn(Vec<K>) -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<Vec<V>, DbErr>> + Send,
    {
        let (queue, waiting) = mpsc::channel(QUEUE);
        let waiting = Arc::new(Mutex::new(waiting));
        let read = Arc::new(read);
        for _ in 0..lanes.max(1) {
            let (waiting, read) = (Arc::clone(&waiting), Arc::clone(&read));
            rocket::tokio::spawn(async move {
                while let Some(batch) = next_batch(&waiting).await {
                    answer(batch, &*read).await;
                }
            });
        }
        Self { queue }
    }

    /// The answer for `key` from a batch that starts after this call, or
    /// `None` when that batch failed (read alone then).
    pub async fn read(&self, key: K) -> Option<V> {
        let (answer, answered) = oneshot::channel();
        self.queue.send(Job { key, answer }).await.ok()?;
        answered.await.ok()
    }
}

/// Every read waiting now, up to [`MAX_BATCH`]; `None` once nobody can ask.
async fn next_batch<K, V>(waiting: &Mutex<mpsc::Receiver<Job<K, V>>>) -> Option<Vec<Job<K, V>>> {
    let mut waiting = waiting.lock().await;
    let first = waiting.recv().await?;
    let mut batch = vec![first];
    while batch.len() < MAX_BATCH {
        match waiting.try_recv() {
            Ok(job) => batch.push(job),
            Err(_) => break,
        }
    }
    Some(batch)
}

async fn answer<K, V, F, Fut>(batch: Vec<Job<K, V>>, read: &F)
where
    K: Clone + Eq + Hash,
    V: Clone,
    F: Fn(Vec<K>) -> Fut,
    Fut: Future<Output = Result<Vec<V>, DbErr>>,
{
    // Requests with the same token ask the same question: once is enough.
    let mut keys = Vec::new();
    let mut index = HashMap::new();
    let slots: Vec<usize> = batch
        .iter()
        .map(|job| {
            *index.entry(job.key.clone()).or_insert_with(|| {
                keys.push(job.key.clone());
                keys.len() - 1
            })
        })
        .collect();
    let expected = keys.len();
    match read(keys).await {
        Ok(values) if values.len() == expected => {
            for (job, slot) in batch.into_iter().zip(slots) {
                let _ = job.answer.send(values[slot].clone());
            }
        }
        Ok(values) => tracing::error!(expected, got = values.len(), "BUG: a batched read answered the wrong number of keys"),
        Err(e) => tracing::warn!(error = %e, readers = batch.len(), "a batched read failed; its readers read alone"),
    }
}

/// How many batches of one kind may run at once: one gathering while
/// another is in the database.
const LANES: usize = 2;

/// The store's reads that every request makes: batched, and on SQLite
/// kept until the next commit (`super::commits`).
pub struct Reads {
    db: DatabaseConnection,
    commits: Commits,
    auth: Batcher<(Uuid, Uuid), Option<AuthRow>>,
    holders: Batcher<String, Option<HolderRow>>,
    recipes_version: Batcher<(), Version>,
    health: Batcher<(), ()>,
}

/// `crate::kept` kinds: answers kept under a [`super::commits::Mark`].
const AUTH_ROW: &str = "auth row";
const HOLDER_ROW: &str = "access token row";
const RECIPES_VERSION: &str = "recipes version";
const HEALTH: &str = "database answered";

impl Reads {
    /// Starts the batches on `db` (in Rocket's runtime); `commits` says
    /// when nothing was committed since an answer was read.
    pub fn start(db: &DatabaseConnection, commits: Commits) -> Self {
        let auth = {
            let db = db.clone();
            Batcher::start(LANES, move |keys: Vec<(Uuid, Uuid)>| {
                let db = db.clone();
                async move { super::tokens::auth_rows(&db, &keys).await }
            })
        };
        let holders = {
            let db = db.clone();
            Batcher::start(LANES, move |hashes: Vec<String>| {
                let db = db.clone();
                async move { super::access_tokens::holders(&db, &hashes).await }
            })
        };
        let recipes_version = {
            let db = db.clone();
            Batcher::start(LANES, move |keys: Vec<()>| {
                let db = db.clone();
                async move { Ok(vec![super::versions::recipes(&db).await?; keys.len()]) }
            })
        };
        let health = {
            let db = db.clone();
            Batcher::start(LANES, move |keys: Vec<()>| {
                let db = db.clone();
                async move {
                    super::probe(&db).await?;
                    Ok(vec![(); keys.len()])
                }
            })
        };
        Self { db: db.clone(), commits, auth, holders, recipes_version, health }
    }

    /// [`super::probe`]: on SQLite, as answered since the last commit (as
    /// the guard's reads are, so `/healthz` says what the pages that read
    /// can do); else made with the others waiting, every check asked while
    /// one runs answered by the next, which starts after them.
    pub async fn probe(&self, kept: &Kept) -> Result<(), DbErr> {
        self.since_last_commit(kept, HEALTH, &(), async {
            match self.health.read(()).await {
                Some(()) => Ok(()),
                None => super::probe(&self.db).await,
            }
        })
        .await
    }

    /// [`super::tokens::auth_row`]: as read since the last commit, or made
    /// with the others waiting.
    pub async fn auth_row(&self, kept: &Kept, sid: Uuid, jti: Uuid) -> Result<Option<AuthRow>, DbErr> {
        self.since_last_commit(kept, AUTH_ROW, &(sid, jti), async {
            match self.auth.read((sid, jti)).await {
                Some(row) => Ok(row),
                None => super::tokens::auth_row(&self.db, sid, jti).await,
            }
        })
        .await
    }

    /// [`super::access_tokens::holders`] for one token's hash: as read
    /// since the last commit, or made with the others waiting.
    pub async fn holder_row(&self, kept: &Kept, hash: &str) -> Result<Option<HolderRow>, DbErr> {
        self.since_last_commit(kept, HOLDER_ROW, &hash, async {
            match self.holders.read(hash.to_owned()).await {
                Some(row) => Ok(row),
                None => Ok(super::access_tokens::holders(&self.db, &[hash.to_owned()]).await?.pop().flatten()),
            }
        })
        .await
    }

    /// [`super::versions::recipes`]: as read since the last commit, or made
    /// with the others waiting.
    pub async fn recipes_version(&self, kept: &Kept) -> Result<Version, DbErr> {
        self.since_last_commit(kept, RECIPES_VERSION, &(), async {
            match self.recipes_version.read(()).await {
                Some(version) => Ok(version),
                None => super::versions::recipes(&self.db).await,
            }
        })
        .await
    }

    /// The answer kept for `key` under the mark of the last commit, or else
    /// `read`'s, kept under the mark read before it (`super::commits`: it
    /// is found again only while nothing has been committed since).
    async fn since_last_commit<V>(&self, kept: &Kept, kind: &'static str, key: &impl serde::Serialize, read: impl Future<Output = Result<V, DbErr>>) -> Result<V, DbErr>
    where
        V: Clone + crate::kept::Weigh + Send + Sync + 'static,
    {
        let Some(mark) = self.commits.mark() else { return read.await };
        if let Some(answer) = kept.get::<V>(kind, key, mark.versions()) {
            return Ok(V::clone(&answer));
        }
        let answer = read.await?;
        kept.put(kind, key, mark.versions(), answer.clone());
        Ok(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[rocket::async_test]
    async fn readers_waiting_together_share_one_query_and_each_gets_its_own_answer() {
        let queries = Arc::new(AtomicUsize::new(0));
        let (gate, opened) = oneshot::channel::<()>();
        let opened = Arc::new(Mutex::new(Some(opened)));
        let batcher = {
            let queries = Arc::clone(&queries);
            Arc::new(Batcher::start(1, move |keys: Vec<u32>| {
                let (queries, opened) = (Arc::clone(&queries), Arc::clone(&opened));
                async move {
                    queries.fetch_add(1, Ordering::SeqCst);
                    // The first batch waits for the gate, so the others pile up.
                    if let Some(opened) = opened.lock().await.take() {
                        opened.await.ok();
                    }
                    Ok(keys.into_iter().map(|k| k * 10).collect())
                }
            }))
        };
        let first = rocket::tokio::spawn({
            let batcher = Arc::clone(&batcher);
            async move { batcher.read(1).await }
        });
        while queries.load(Ordering::SeqCst) == 0 {
            rocket::tokio::task::yield_now().await;
        }
        let rest: Vec<_> = [2, 3, 2, 4]
            .into_iter()
            .map(|key| {
                let batcher = Arc::clone(&batcher);
                rocket::tokio::spawn(async move { batcher.read(key).await })
            })
            .collect();
        for _ in 0..10 {
            rocket::tokio::task::yield_now().await;
        }
        gate.send(()).unwrap();
        assert_eq!(first.await.unwrap(), Some(10));
        let mut answers = Vec::new();
        for reader in rest {
            answers.push(reader.await.unwrap());
        }
        assert_eq!(answers, [Some(20), Some(30), Some(20), Some(40)]);
        assert_eq!(queries.load(Ordering::SeqCst), 2, "the reads asked while the first batch ran made one query");
    }

    #[rocket::async_test]
    async fn a_failed_batch_answers_nobody() {
        let batcher = Batcher::start(2, |_keys: Vec<u32>| async { Err::<Vec<u32>, _>(DbErr::Custom("down".into())) });
        assert_eq!(batcher.read(7).await, None);
    }
}
