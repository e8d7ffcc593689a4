//! SQLite's own mark of its last commit, read without a round trip.
//!
//! In WAL mode every SQLite connection, in every process, learns what is
//! committed from one place: the header of the WAL index, at the start of
//! the `-shm` file beside the database, which each of them maps into memory.
//! A commit appends its pages to the WAL and then rewrites that header; a
//! reader's snapshot is the header it read. The header names the commit
//! exactly: a counter of commits, the last valid frame, the last frame's
//! checksum, and the WAL's two salts, which change each time the WAL starts
//! over (<https://sqlite.org/walformat.html>). So two reads of it are equal
//! only if nothing was committed in between, by any connection of any
//! process through any path to the file: an operator's `sqlite3` session, or
//! a writer killed after its commit (its pages are in the WAL, and the next
//! connection's recovery rewrites the header to include them, before anyone
//! can read them).
//!
//! [`Commits::mark`] reads the header as SQLite's own readers do (the first
//! copy, a barrier, the second copy; equal, initialised, of the known
//! version, with a good checksum) and gives `None` whenever they would retry
//! or recover, and on every other backend: then the caller asks the
//! database. It also gives `None` for a header that recovery wrote (its
//! commit counter is 0) until the next commit: recovery starts from a
//! zeroed header, so from an empty WAL it writes the very same header
//! whatever the database holds (a header torn by a writer killed while
//! emptying the WAL, recovered, would otherwise repeat an earlier one).
//!
//! A mark read before a read of the database is what that read saw or
//! older; an answer kept under it is found only by a request that reads the
//! very same mark, that is, when nothing has been committed since the mark
//! was read: every other writer of the header moves the counter, the frame
//! count or the salts, which only move on, so a mark never comes back. So
//! an answer found under a mark is exactly what reading the database now
//! would give.
//!
//! The map stays the live header because this process holds a connection of
//! its own open for as long as it runs: SQLite deletes or truncates the
//! `-shm` file only when the last connection to the database closes, or the
//! first one opens, and it knows which is which by a POSIX lock on the file
//! that each process holds while it uses it. POSIX drops every lock a
//! process holds on a file when the process closes *any* descriptor of that
//! file, so the descriptor this module maps is never closed: closing it
//! would drop SQLite's own lock, and the next process to open the database
//! would take itself for the first and reset the WAL index under this one.

use std::fs::File;
use std::mem::ManuallyDrop;
use std::sync::atomic::{fence, AtomicU32, Ordering};

use memmap2::{Mmap, MmapOptions};
use sea_orm::sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sea_orm::sqlx::{self, ConnectOptions as _};

use crate::kept::Version;

/// The wal-index format SQLite has written since 3.7.0.
const WALINDEX_VERSION: u32 = 3_007_000;
/// One copy of the header, in 32-bit words (48 bytes).
const HEADER_WORDS: usize = 12;
/// The words before the header's own checksum.
const CHECKSUMMED_WORDS: usize = 10;

/// The header of the last commit, as six versions (its 48 bytes, exactly),
/// for keeping answers under with `crate::kept`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mark([Version; HEADER_WORDS / 2]);

impl Mark {
    pub fn versions(&self) -> &[Version] {
        &self.0
    }
}

/// Reads [`Mark`]s of one SQLite database; on other backends, none.
pub struct Commits(Option<WalIndex>);

struct WalIndex {
    map: Mmap,
    /// Never closed (see the module doc): one descriptor per database a
    /// process opens.
    _file: ManuallyDrop<File>,
    /// Held open, never used: while it is open, SQLite keeps the `-shm` file
    /// that `map` shows (see the module doc).
    _keeper: SqliteConnection,
}

impl Commits {
    /// Nothing to read: every request asks the database.
    fn none() -> Self {
        Self(None)
    }

    /// The marks of the SQLite database at `url`, when it is a file in WAL
    /// mode; otherwise (or if anything about it is unexpected) none, which
    /// is always safe.
    pub async fn open(url: &str) -> Self {
        if crate::db::sqlite_path(url).is_none() {
            return Self::none();
        }
        // A header that cannot be read now (one recovery wrote, before the
        // next commit) is read again on every request.
        match WalIndex::open(url).await {
            Ok(index) => Self(Some(index)),
            Err(why) => {
                tracing::info!(%why, "SQLite's commit mark is not read; every request asks the database");
                Self::none()
            }
        }
    }

    /// The mark of the last commit now, or `None`: ask the database.
    pub fn mark(&self) -> Option<Mark> {
        let index = self.0.as_ref()?;
        // SAFETY: the map is at least two headers long (checked at open),
        // aligned to a page, and shared with other processes that write it:
        // it is read only through atomics, as SQLite's readers read it.
        let words = unsafe { &*(index.map.as_ptr() as *const [AtomicU32; 2 * HEADER_WORDS]) };
        read_header(words)
    }
}

impl WalIndex {
    async fn open(url: &str) -> anyhow::Result<Self> {
        use std::str::FromStr as _;
        let mut keeper = SqliteConnectOptions::from_str(url)?.connect().await?;
        // Every statement is read to its end, so that none stays open
        // holding a read transaction (and the WAL from being checkpointed).
        let (journal_mode, locking_mode, file): (String, String, String) = sqlx::query_as(
            "SELECT (SELECT journal_mode FROM pragma_journal_mode), (SELECT locking_mode FROM pragma_locking_mode), \
             (SELECT file FROM pragma_database_list WHERE name = 'main') FROM (SELECT count(*) FROM sqlite_schema)",
        )
        .fetch_all(&mut keeper)
        .await?
        .pop()
        .ok_or_else(|| anyhow::anyhow!("no answer"))?;
        anyhow::ensure!(journal_mode.eq_ignore_ascii_case("wal"), "the journal mode is {journal_mode}, not WAL");
        anyhow::ensure!(locking_mode.eq_ignore_ascii_case("normal"), "the locking mode is {locking_mode}");
        anyhow::ensure!(!file.is_empty(), "the database has no file");
        // That read mapped the WAL index: from now on this connection holds it.
        let shm = ManuallyDrop::new(File::open(format!("{file}-shm"))?);
        let length = 2 * HEADER_WORDS * 4;
        anyhow::ensure!(shm.metadata()?.len() >= length as u64, "the WAL index is shorter than its header");
        // SAFETY: a read-only map of a file SQLite never truncates while
        // `keeper` is open; it is only read through atomics (`Commits::mark`).
        let map = unsafe { MmapOptions::new().len(length).map(&*shm)? };
        Ok(Self { map, _file: shm, _keeper: keeper })
    }
}

/// The header in `words` as SQLite's `walIndexTryHdr` reads it, or `None`
/// where SQLite would retry or recover.
fn read_header(words: &[AtomicU32; 2 * HEADER_WORDS]) -> Option<Mark> {
    let mut first = [0u32; HEADER_WORDS];
    let mut second = [0u32; HEADER_WORDS];
    for (word, shared) in first.iter_mut().zip(&words[..HEADER_WORDS]) {
        *word = shared.load(Ordering::Relaxed);
    }
    // The writer writes the second copy, a barrier, then the first.
    fence(Ordering::SeqCst);
    for (word, shared) in second.iter_mut().zip(&words[HEADER_WORDS..]) {
        *word = shared.load(Ordering::Relaxed);
    }
    fence(Ordering::Acquire);
    let header = first;
    let is_init = header[3].to_ne_bytes()[0];
    // header[2]: the commit counter, 0 in a header recovery wrote.
    if first != second || is_init != 1 || header[0] != WALINDEX_VERSION || header[2] == 0 || checksum(&header[..CHECKSUMMED_WORDS]) != [header[10], header[11]] {
        return None;
    }
    let version = |pair: usize| Version((u64::from(header[2 * pair]) << 32 | u64::from(header[2 * pair + 1])) as i64);
    Some(Mark([version(0), version(1), version(2), version(3), version(4), version(5)]))
}

/// SQLite's `walChecksumBytes` in native byte order, from zero.
fn checksum(words: &[u32]) -> [u32; 2] {
    let (mut s1, mut s2) = (0u32, 0u32);
    for pair in words.chunks_exact(2) {
        s1 = s1.wrapping_add(pair[0]).wrapping_add(s2);
        s2 = s2.wrapping_add(pair[1]).wrapping_add(s1);
    }
    [s1, s2]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(change: u32, frames: u32) -> [u32; HEADER_WORDS] {
        header_of(WALINDEX_VERSION, change, frames)
    }

    fn header_of(format: u32, change: u32, frames: u32) -> [u32; HEADER_WORDS] {
        let mut words = [format, 0, change, u32::from_ne_bytes([1, 0, 0x10, 0]), frames, 7, 11, 13, 17, 19, 0, 0];
        let [a, b] = checksum(&words[..CHECKSUMMED_WORDS]);
        words[10] = a;
        words[11] = b;
        words
    }

    fn shared(first: [u32; HEADER_WORDS], second: [u32; HEADER_WORDS]) -> [AtomicU32; 2 * HEADER_WORDS] {
        std::array::from_fn(|i| AtomicU32::new(if i < HEADER_WORDS { first[i] } else { second[i - HEADER_WORDS] }))
    }

    #[test]
    fn a_whole_header_is_a_mark_and_another_commit_another() {
        let one = read_header(&shared(header(5, 10), header(5, 10))).expect("a good header");
        assert_eq!(read_header(&shared(header(5, 10), header(5, 10))), Some(one));
        assert_ne!(read_header(&shared(header(6, 12), header(6, 12))), Some(one));
    }

    #[test]
    fn a_header_being_written_or_broken_is_no_mark() {
        // A writer between its two copies.
        assert_eq!(read_header(&shared(header(5, 10), header(6, 12))), None);
        // Not initialised (all zeros, after a reset).
        assert_eq!(read_header(&shared([0; HEADER_WORDS], [0; HEADER_WORDS])), None);
        // Written by recovery (commit counter 0): from an empty WAL it is
        // the same header whatever the database holds.
        assert_eq!(read_header(&shared(header(0, 0), header(0, 0))), None);
        assert_eq!(read_header(&shared(header(0, 10), header(0, 10))), None);
        // A bad checksum, or a format this code does not know.
        let mut bad = header(5, 10);
        bad[11] ^= 1;
        assert_eq!(read_header(&shared(bad, bad)), None);
        let unknown = header_of(3_007_001, 5, 10);
        assert_eq!(read_header(&shared(unknown, unknown)), None);
    }

    /// A database file in WAL mode with one table, and a connection to it.
    async fn database(dir: &std::path::Path) -> (String, SqliteConnection) {
        use std::str::FromStr as _;
        let url = format!("sqlite://{}/marks.db?mode=rwc", dir.display());
        let options = SqliteConnectOptions::from_str(&url).unwrap().journal_mode(sqlx::sqlite::SqliteJournalMode::Wal);
        let mut writer = options.connect().await.unwrap();
        sqlx::query("CREATE TABLE t (n INTEGER)").execute(&mut writer).await.unwrap();
        (url, writer)
    }

    #[rocket::async_test]
    async fn the_mark_moves_with_every_commit_from_anywhere_and_only_then() {
        let dir = tempfile::tempdir().unwrap();
        let (url, mut writer) = database(dir.path()).await;
        let commits = Commits::open(&url).await;
        let before = commits.mark().expect("a WAL database has a mark");
        // SQLite's lock that tells other processes the WAL index is in use
        // (byte 128 of the -shm file) is still held: reading the header took
        // nothing from it.
        let probe = "import fcntl, sys; fcntl.lockf(open(sys.argv[1], 'r+b'), fcntl.LOCK_EX | fcntl.LOCK_NB, 1, 128)";
        match std::process::Command::new("python3").args(["-c", probe]).arg(dir.path().join("marks.db-shm")).stderr(std::process::Stdio::null()).status() {
            Ok(status) => assert!(!status.success(), "another process could take the WAL index for unused"),
            Err(_) => eprintln!("skipped the lock probe: no python3 here"),
        }
        sqlx::query("SELECT count(*) FROM t").fetch_one(&mut writer).await.unwrap();
        assert_eq!(commits.mark(), Some(before), "a read commits nothing");

        sqlx::query("INSERT INTO t VALUES (1)").execute(&mut writer).await.unwrap();
        let after_insert = commits.mark().unwrap();
        assert_ne!(after_insert, before);

        // A transaction that is rolled back is not a commit.
        let mut txn = sqlx::Connection::begin(&mut writer).await.unwrap();
        sqlx::query("INSERT INTO t VALUES (2)").execute(&mut *txn).await.unwrap();
        assert_eq!(commits.mark(), Some(after_insert), "nothing is committed before the commit");
        txn.rollback().await.unwrap();
        assert_eq!(commits.mark(), Some(after_insert));

        // Another path to the same file.
        let link = dir.path().join("link.db");
        std::os::unix::fs::symlink(dir.path().join("marks.db"), &link).unwrap();
        let mut other = <SqliteConnection as sqlx::Connection>::connect(&format!("sqlite://{}", link.display())).await.unwrap();
        sqlx::query("UPDATE t SET n = 3").execute(&mut other).await.unwrap();
        let after_update = commits.mark().unwrap();
        assert_ne!(after_update, after_insert);

        // A checkpoint that starts the WAL over moves the mark too (on the
        // next write), and the mark never comes back to an earlier one.
        sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)").execute(&mut other).await.unwrap();
        sqlx::query("DELETE FROM t").execute(&mut writer).await.unwrap();
        let after_restart = commits.mark().unwrap();
        assert!(![before, after_insert, after_update].contains(&after_restart));

        // Another process: the sqlite3 shell, where this machine has it.
        match std::process::Command::new("sqlite3").arg(dir.path().join("marks.db")).arg("INSERT INTO t VALUES (4);").status() {
            Ok(status) => {
                assert!(status.success());
                assert_ne!(commits.mark(), Some(after_restart), "another process's commit moves the mark");
                let after_other = commits.mark().unwrap();
                sqlx::query("INSERT INTO t VALUES (5)").execute(&mut writer).await.unwrap();
                let rows: (i64,) = sqlx::query_as("SELECT count(*) FROM t").fetch_one(&mut writer).await.unwrap();
                assert_eq!(rows.0, 2, "both processes' rows are there");
                assert_ne!(commits.mark(), Some(after_other));
            }
            Err(_) => eprintln!("skipped the other process: no sqlite3 shell here"),
        }

        // With every other connection of this process closed, the keeper
        // alone keeps the WAL index: another process's connection closing
        // is not the last one, so it neither deletes the file this process
        // maps nor starts a new one beside it.
        drop((writer, other));
        let shell = |sql: &str| std::process::Command::new("sqlite3").arg(dir.path().join("marks.db")).arg(sql).status();
        if let Ok(status) = shell("INSERT INTO t VALUES (6);") {
            assert!(status.success());
            assert!(dir.path().join("marks.db-shm").exists() && dir.path().join("marks.db-wal").exists(), "the WAL and its index stay");
            let after_first = commits.mark().unwrap();
            assert!(shell("INSERT INTO t VALUES (7);").unwrap().success());
            assert_ne!(commits.mark(), Some(after_first), "the mark still follows the commits of later processes");
        }
    }

    #[rocket::async_test]
    async fn a_database_opened_again_has_a_mark_from_its_first_commit_on() {
        let dir = tempfile::tempdir().unwrap();
        let (url, writer) = database(dir.path()).await;
        // The last connection closes: the WAL goes, and the next to open
        // the database recovers, from nothing, the header every empty WAL
        // recovers to.
        sea_orm::sqlx::Connection::close(writer).await.unwrap();
        let commits = Commits::open(&url).await;
        assert_eq!(commits.mark(), None, "a recovered header names no commit");
        let mut writer = <SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("INSERT INTO t VALUES (1)").execute(&mut writer).await.unwrap();
        assert!(commits.mark().is_some(), "the first commit writes a header that names it");
    }

    #[rocket::async_test]
    async fn other_databases_have_no_mark() {
        assert!(Commits::open("postgres://postgres@127.0.0.1:5432/test").await.mark().is_none());
        assert!(Commits::open("sqlite::memory:").await.mark().is_none());
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/rollback.db?mode=rwc", dir.path().display());
        let mut writer = <SqliteConnection as sqlx::Connection>::connect(&url).await.unwrap();
        sqlx::query("PRAGMA journal_mode = DELETE").execute(&mut writer).await.unwrap();
        assert!(Commits::open(&url).await.mark().is_none(), "a database not in WAL mode has no WAL index");
    }
}
