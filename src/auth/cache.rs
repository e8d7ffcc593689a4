//! What the guard last read from the database for an access token, kept in
//! memory so that an authenticated request need not go back for it. The row
//! is kept under the token's `jti` and `sid` (what the query looked up), and
//! the claims it is checked against (`sub`, `iat`) are checked again on
//! every request, so a token that differs in any claim gets no other
//! token's answer.
//!
//! An entry is used only while its user's change counter (`crate::changes`)
//! has the value it had before the row was read. So every change that could
//! make a kept row wrong — a token blocklisted, a session revoked or used, a
//! user disabled, deleted, given another role or email,
//! `tokens_valid_after` moved — is written through `app.changes.to_user`,
//! on this instance or any other. Nothing expires by time (the token's own
//! `exp` is checked before the cache). On PostgreSQL and MariaDB nothing is
//! kept.

use std::sync::Arc;

use uuid::Uuid;

use crate::changes::{Changes, Kept, Stamp};
use crate::store::tokens::AuthRow;

/// Entries kept at most (one per access token in use).
const CAPACITY: usize = 10_000;

pub struct AuthCache {
    changes: Arc<Changes>,
    /// By the token's `jti` and `sid`.
    rows: Kept<(Uuid, Uuid), AuthRow>,
}

impl AuthCache {
    pub fn new(changes: Arc<Changes>) -> Self {
        Self { changes, rows: Kept::new(CAPACITY) }
    }

    /// The row kept for access token `jti` of session `sid` and `user`, if
    /// nothing about the user changed since it was read; else the stamp to
    /// keep with the row the caller reads now.
    pub fn get(&self, jti: Uuid, sid: Uuid, user: Uuid) -> Result<AuthRow, Stamp> {
        let now = self.changes.user(user);
        self.rows.get(&(jti, sid), now).ok_or(now)
    }

    /// Keeps `row`, read for access token `jti` of session `sid` after
    /// `get` handed out `stamp`.
    pub fn put(&self, jti: Uuid, sid: Uuid, stamp: Stamp, row: &AuthRow) {
        self.rows.put((jti, sid), stamp, row.clone());
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sea_orm::prelude::TimeUnixTimestamp;

    const SID: Uuid = Uuid::from_u128(7);

    fn row(user: Uuid) -> AuthRow {
        let at = TimeUnixTimestamp(time::OffsetDateTime::UNIX_EPOCH);
        AuthRow {
            user_id: 1,
            public_id: user,
            email: "ann@example.com".into(),
            username: "ann".into(),
            role: crate::domain::Role::User,
            created_at: at,
            email_verified_at: None,
            disabled_at: None,
            tokens_valid_after: at,
            session_revoked_at: None,
            session_last_used_at: at,
            revoked_jti: None,
        }
    }

    fn cache(url: &str) -> (Arc<Changes>, AuthCache) {
        let changes = Arc::new(Changes::for_database(url).unwrap());
        (Arc::clone(&changes), AuthCache::new(changes))
    }

    fn fill(cache: &AuthCache, jti: Uuid, user: Uuid) {
        let stamp = cache.get(jti, SID, user).expect_err("not kept yet");
        cache.put(jti, SID, stamp, &row(user));
    }

    #[rocket::async_test]
    async fn a_change_to_a_user_drops_what_was_kept_for_them_on_every_instance() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}/r.db?mode=rwc", dir.path().display());
        let ((changes, a), (_, b)) = (cache(&url), cache(&url));
        let (ann, bob, jti, other_jti) = (Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4(), Uuid::new_v4());
        fill(&a, jti, ann);
        fill(&b, jti, ann);
        fill(&b, other_jti, bob);
        assert!(a.get(jti, SID, ann).is_ok() && b.get(jti, SID, ann).is_ok());

        changes.to_user(ann, async {}).await;
        assert!(a.get(jti, SID, ann).is_err(), "dropped on the instance that made the change");
        assert!(b.get(jti, SID, ann).is_err(), "and on the other one, at once");
        if changes.user(ann) != changes.user(bob) {
            assert!(b.get(other_jti, SID, bob).is_ok(), "another user's entry stays");
        }
    }

    #[rocket::async_test]
    async fn a_row_read_while_a_change_was_made_is_never_served() {
        let (changes, cache) = cache("sqlite::memory:");
        let (ann, jti) = (Uuid::new_v4(), Uuid::new_v4());
        let stamp = cache.get(jti, SID, ann).expect_err("empty");
        // The change commits after the stamp was taken, so the row the
        // guard read may predate it.
        changes.to_user(ann, async {}).await;
        cache.put(jti, SID, stamp, &row(ann));
        assert!(cache.get(jti, SID, ann).is_err());
    }

    #[test]
    fn a_row_is_kept_for_one_token_of_one_session() {
        let (_, cache) = cache("sqlite::memory:");
        let (ann, jti) = (Uuid::new_v4(), Uuid::new_v4());
        fill(&cache, jti, ann);
        assert!(cache.get(jti, SID, ann).is_ok());
        assert!(cache.get(jti, Uuid::new_v4(), ann).is_err(), "the same jti in another session is another token");
        assert!(cache.get(Uuid::new_v4(), SID, ann).is_err());
    }

    #[test]
    fn nothing_is_kept_for_a_server_database() {
        let (_, cache) = cache("postgres://localhost/test");
        let (ann, jti) = (Uuid::new_v4(), Uuid::new_v4());
        let stamp = cache.get(jti, SID, ann).expect_err("nothing kept");
        cache.put(jti, SID, stamp, &row(ann));
        assert!(cache.get(jti, SID, ann).is_err());
    }
}
