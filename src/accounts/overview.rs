//! What `/me` shows about an account besides its recipes — its live
//! sessions, its newest events, a pending change of address — kept per user
//! until that user's change counter moves (`crate::changes`). Every write to
//! these goes through `app.changes.to_user`: a session started, used or
//! ended (`auth::session`), an event recorded (`audit::record`), a
//! verification link sent or followed (`accounts::verify`). What time alone
//! changes (a session or a link expiring) is checked on every read. On
//! PostgreSQL and MariaDB nothing is kept.

use std::sync::Arc;

use sea_orm::DbErr;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::accounts::verify;
use crate::app::App;
use crate::auth::Authenticated;
use crate::changes::Kept;
use crate::entities::{email_token, session};
use crate::store::{self, audit::EventFilter, audit::EventRow};

/// `/me` shows this many of the newest events about the account.
pub const NEWEST_EVENTS: u64 = 10;
/// Accounts kept at most.
const CAPACITY: usize = 1_000;

pub struct Overview {
    sessions: Vec<session::Model>,
    pub events: Vec<EventRow>,
    /// An unused verification link; a newer one retires the older, so
    /// there is at most one.
    pending: Option<email_token::Model>,
}

impl Overview {
    /// Sessions neither revoked nor expired, most recently used first.
    pub fn sessions(&self) -> impl Iterator<Item = &session::Model> {
        let now = store::now();
        self.sessions.iter().filter(move |s| s.expires_at.0 > now)
    }

    /// The address a live verification link was sent to.
    pub fn pending_email(&self) -> Option<&str> {
        let now: OffsetDateTime = store::now();
        self.pending.as_ref().filter(|link| link.expires_at.0 > now).map(|link| link.email.as_str())
    }

    /// When what this shows next changes by time alone: the first of its
    /// sessions or its link to expire.
    pub fn changes_at(&self) -> Option<OffsetDateTime> {
        let sessions = self.sessions.iter().map(|s| s.expires_at.0);
        let now = store::now();
        sessions.chain(self.pending.iter().map(|link| link.expires_at.0)).filter(|at| *at > now).min()
    }
}

pub type OverviewCache = Kept<Uuid, Arc<Overview>>;

pub fn cache() -> OverviewCache {
    Kept::new(CAPACITY)
}

/// The overview of `user`'s account, read again only after a change to it.
pub async fn of(app: &App, user: &Authenticated) -> Result<Arc<Overview>, DbErr> {
    let now = app.changes.user(user.public_id);
    if let Some(kept) = app.overview_cache.get(&user.public_id, now) {
        return Ok(kept);
    }
    let about = EventFilter { subject: Some(user.public_id), kind: None };
    let overview = Arc::new(Overview {
        sessions: store::sessions::list_active(&app.db, user.id).await?,
        events: store::audit::newest(&app.db, about, NEWEST_EVENTS).await?,
        pending: store::email_tokens::pending(&app.db, user.id, verify::PURPOSE).await?,
    });
    app.overview_cache.put(user.public_id, now, Arc::clone(&overview));
    Ok(overview)
}
