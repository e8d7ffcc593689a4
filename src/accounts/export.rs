//! A copy of one's data (SPEC.md §4 `/me/export`, §5): read here, shaped by
//! `views::export`. The pages ask for a fresh session, the API for a fresh
//! access token or a personal access token with `account:read`.

use crate::app::App;
use crate::error::AppError;
use crate::store;
use crate::store::audit::EventFilter;
use crate::views::export::{Export, Profile, FORMAT};
use crate::views::rfc3339;

/// Security events an export holds at most (the audit trail keeps
/// `audit_retention_days` anyway).
const EVENTS_MAX: u64 = 10_000;

/// Everything the site holds about the user `user_id`.
pub async fn export(app: &App, user_id: i64) -> Result<Export, AppError> {
    let db = &app.db;
    let user = store::users::find_by_id(db, user_id).await?.ok_or(AppError::NotFound)?;
    let two_factor = store::factors::has_totp(db, user.id).await?;
    let events = store::audit::newest(db, EventFilter { subject: Some(user.public_id), ..Default::default() }, EVENTS_MAX).await?;
    Ok(Export {
        format: FORMAT,
        exported_at: rfc3339(store::now()),
        profile: Profile::new(&user, two_factor),
        recipes: store::recipes::of_owner(db, user.id).await?.into_iter().map(Into::into).collect(),
        sessions: store::sessions::list_active(db, user.id).await?.into_iter().map(Into::into).collect(),
        linked_identities: store::identities::of_user(db, user.id).await?.into_iter().map(Into::into).collect(),
        passkeys: store::passkeys::of_user(db, user.id).await?.into_iter().map(Into::into).collect(),
        access_tokens: store::access_tokens::of_user(db, user.id).await?.into_iter().map(Into::into).collect(),
        security_events: events.into_iter().map(Into::into).collect(),
    })
}
