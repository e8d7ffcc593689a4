//! bcrypt, always on threads of its own (a cost-12 hash takes about a
//! quarter of a second; on an async worker it would stall every other
//! request). Those threads run at a lower priority (nice 10): they use any
//! idle core, but when the async workers and the database threads want the
//! CPU they come first, so a storm of logins does not slow every other
//! request down (measured in bench/RESULTS.md).
//!
//! Uses the crate's non-truncating functions: a password over 72 bytes is an
//! error, never silently cut. `verify_or_dummy` does the same work whether or
//! not the account exists, so timing does not reveal which emails are taken.

use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::LazyLock;

use anyhow::Context as _;
use rocket::tokio::sync::oneshot;
use tracing::Span;

/// Hashes at the configured cost; keeps a dummy hash of the same cost.
pub struct PasswordHasher {
    cost: u32,
    dummy_hash: String,
}

impl fmt::Debug for PasswordHasher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PasswordHasher").field("cost", &self.cost).finish_non_exhaustive()
    }
}

/// bcrypt's key is the password plus a NUL terminator, cut at 72 bytes. The
/// crate's non-truncating functions count that terminator and so refuse a
/// 72-byte password, which SPEC.md allows and which loses nothing but the
/// terminator. So: up to 71 bytes through the non-truncating functions,
/// exactly 72 through the plain ones (no password byte is dropped), and
/// anything longer is refused.
const FULL_KEY_BYTES: usize = crate::domain::MAX_PASSWORD_BYTES;

fn hash_exact(password: &str, cost: u32) -> Result<String, bcrypt::BcryptError> {
    if password.len() == FULL_KEY_BYTES {
        bcrypt::hash(password, cost)
    } else {
        bcrypt::non_truncating_hash(password, cost)
    }
}

fn verify_exact(password: &str, hash: &str) -> Result<bool, bcrypt::BcryptError> {
    if password.len() == FULL_KEY_BYTES {
        bcrypt::verify(password, hash)
    } else {
        bcrypt::non_truncating_verify(password, hash)
    }
}

/// One bcrypt thread per core (rayon's default), started on first use and
/// shared by every app in the process, each at nice 10 (on Linux a thread's
/// own priority).
static BCRYPT_THREADS: LazyLock<rayon::ThreadPool> = LazyLock::new(|| {
    rayon::ThreadPoolBuilder::new()
        .thread_name(|n| format!("bcrypt-{n}"))
        // SAFETY: nice(2) takes no pointer; it changes only the scheduling
        // priority of the calling thread.
        .start_handler(|_| unsafe {
            libc::nice(10);
        })
        .build()
        .expect("the bcrypt threads start")
});

/// Runs `work` on a bcrypt thread inside the caller's tracing span.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> anyhow::Result<T> {
    let span = Span::current();
    let (done, result) = oneshot::channel();
    BCRYPT_THREADS.spawn(move || {
        // A panic stays in its job (rayon would abort on one that escaped):
        // the thread goes on, the caller gets an error.
        let _ = done.send(catch_unwind(AssertUnwindSafe(|| span.in_scope(work))));
    });
    match result.await.context("bcrypt task lost")? {
        Ok(value) => Ok(value),
        Err(_) => anyhow::bail!("bcrypt task panicked"),
    }
}

impl PasswordHasher {
    pub async fn new(cost: u32) -> anyhow::Result<Self> {
        let dummy_hash = blocking(move || bcrypt::hash("recipebox dummy password", cost)).await??;
        Ok(Self { cost, dummy_hash })
    }

    pub fn cost(&self) -> u32 {
        self.cost
    }

    pub async fn hash(&self, password: &str) -> anyhow::Result<String> {
        let (password, cost) = (password.to_owned(), self.cost);
        Ok(blocking(move || hash_exact(&password, cost)).await??)
    }

    /// Verifies against `hash`, or against the dummy when there is no account,
    /// so both cases cost one bcrypt verify. A malformed stored hash counts as
    /// a mismatch (and is logged), never as a success.
    pub async fn verify_or_dummy(&self, password: &str, hash: Option<&str>) -> anyhow::Result<bool> {
        let known = hash.is_some();
        let hash = hash.unwrap_or(&self.dummy_hash).to_owned();
        let password = password.to_owned();
        let result = blocking(move || verify_exact(&password, &hash)).await?;
        match result {
            Ok(matches) => Ok(known && matches),
            Err(bcrypt::BcryptError::Truncation(_)) => Ok(false),
            Err(e) => {
                tracing::error!(error = %e, "stored password hash is unusable");
                Ok(false)
            }
        }
    }

    /// True when `hash` was made at a lower cost than configured now.
    pub fn needs_upgrade(&self, hash: &str) -> bool {
        hash.parse::<bcrypt::HashParts>().is_ok_and(|parts| parts.get_cost() < self.cost)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The thread's name and its nice value (field 19 of its stat line).
    fn this_thread() -> (String, i32) {
        let stat = std::fs::read_to_string("/proc/thread-self/stat").unwrap();
        let fields: Vec<&str> = stat.rsplit_once(") ").unwrap().1.split(' ').collect();
        (std::thread::current().name().unwrap_or_default().to_owned(), fields[16].parse().unwrap())
    }

    #[rocket::async_test]
    async fn bcrypt_runs_on_its_own_threads_below_the_workers_priority() {
        let (_, caller_nice) = this_thread();
        let (name, nice) = blocking(this_thread).await.unwrap();
        assert!(name.starts_with("bcrypt-"), "{name}");
        assert!(nice >= caller_nice + 10 || nice == 19, "nice {nice}, the caller's {caller_nice}");
    }

    #[rocket::async_test]
    async fn a_panic_in_a_job_is_an_error_and_the_threads_go_on() {
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
        for _ in 0..threads + 1 {
            assert!(blocking(|| -> u8 { panic!("in a bcrypt job") }).await.is_err());
        }
        assert_eq!(blocking(|| 7).await.unwrap(), 7);
    }

    #[rocket::async_test]
    async fn hashes_verify_and_the_dummy_never_matches() {
        let hasher = PasswordHasher::new(4).await.unwrap();
        let hash = hasher.hash("correct horse battery").await.unwrap();
        assert!(hasher.verify_or_dummy("correct horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify_or_dummy("wrong horse battery", Some(&hash)).await.unwrap());
        assert!(!hasher.verify_or_dummy("recipebox dummy password", None).await.unwrap());
        assert!(!hasher.verify_or_dummy("x", Some("not a bcrypt hash")).await.unwrap());
    }

    #[rocket::async_test]
    async fn over_long_passwords_are_refused_not_truncated() {
        let hasher = PasswordHasher::new(4).await.unwrap();
        assert!(hasher.hash(&"a".repeat(73)).await.is_err());
        let hash = hasher.hash(&"a".repeat(72)).await.unwrap();
        assert!(hasher.verify_or_dummy(&"a".repeat(72), Some(&hash)).await.unwrap(), "72 bytes is allowed");
        assert!(!hasher.verify_or_dummy(&"a".repeat(73), Some(&hash)).await.unwrap());
        assert!(!hasher.verify_or_dummy(&format!("{}b", "a".repeat(71)), Some(&hash)).await.unwrap(), "the 72nd byte counts");
    }

    #[rocket::async_test]
    async fn a_hash_below_the_configured_cost_needs_an_upgrade() {
        let old = PasswordHasher::new(4).await.unwrap().hash("correct horse battery").await.unwrap();
        assert!(PasswordHasher::new(5).await.unwrap().needs_upgrade(&old));
        assert!(!PasswordHasher::new(4).await.unwrap().needs_upgrade(&old));
    }
}
