//! What `/me` shows about an account besides its recipes — its live
//! sessions, its newest events, a pending change of address — kept per user
//! under the user's version (`crate::kept`), which database triggers change
//! with every write to the user's sessions, email links and audit events
//! (migration 13), and which comes with the guard's row. What time alone
//! changes (a session or a link expiring) is checked on every read.

use std::sync::Arc;

use sea_orm::DbErr;
use time::OffsetDateTime;


use crate::accounts::verify;
use crate::app::App;
use crate::auth::Authenticated;
use crate::kept::Weigh;
use crate::entities::{email_token, session};
use crate::store::{self, audit::EventFilter, audit::EventRow};

/// `/me` shows this many of the newest events about the account.
pub const NEWEST_EVENTS: u64 = 10;
const OVERVIEW: &str = "account overview";

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

impl Weigh for session::Model {
    fn heap_bytes(&self) -> usize {
        self.user_agent.heap_bytes() + self.ip_address.heap_bytes()
    }
}

impl Weigh for EventRow {
    fn heap_bytes(&self) -> usize {
        let text = [&self.ip_address, &self.user_agent, &self.actor_username, &self.subject_username];
        self.detail.heap_bytes() + text.iter().map(|t| t.heap_bytes()).sum::<usize>()
    }
}

impl Weigh for email_token::Model {
    fn heap_bytes(&self) -> usize {
        self.email.heap_bytes() + self.token_hash.heap_bytes() + self.purpose.heap_bytes()
    }
}

impl Weigh for Overview {
    fn heap_bytes(&self) -> usize {
        self.sessions.heap_bytes() + self.events.heap_bytes() + self.pending.heap_bytes()
    }
}

/// The overview of `user`'s account, read again only after a change to it.
pub async fn of(app: &App, user: &Authenticated) -> Result<Arc<Overview>, DbErr> {
    let read = async {
        let about = EventFilter { subject: Some(user.public_id), kind: None };
        Ok(Overview {
            sessions: store::sessions::list_active(&app.db, user.id).await?,
            events: store::audit::newest(&app.db, about, NEWEST_EVENTS).await?,
            pending: store::email_tokens::pending(&app.db, user.id, verify::PURPOSE).await?,
        })
    };
    app.kept.get_or_read(OVERVIEW, &user.public_id, &[user.user_version], read).await
}
