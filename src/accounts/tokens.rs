//! Personal access tokens as people and admins manage them (SPEC.md §4,
//! §5): made with a fresh session (shown once, mailed about, audited),
//! listed, revoked one by one or all at once, and told about once when
//! one expires within 7 days. Accepting a token is `crate::pat`'s.

use sea_orm::TransactionTrait;
use time::{Date, OffsetDateTime, Time};
use uuid::Uuid;

use super::admin::By;
use super::notices::{self, Advice};
use crate::app::App;
use crate::audit::{self, ByToken, Detail, Event};
use crate::auth::{ApiCaller, Authenticated, ClientInfo};
use crate::domain::{AuditKind, FieldErrors, Role, Scope, Scopes};
use crate::entities::{access_token, user};
use crate::error::AppError;
use crate::mail::Mailer;
use crate::pat;
use crate::store;
use crate::views::human;

/// The longest name, in characters.
pub const NAME_MAX: usize = 100;
/// Live tokens one account may hold.
pub const LIVE_MAX: u64 = 100;
/// The lives the form offers, in days (any date up to `token_max_days`
/// is taken too).
pub const LIFETIMES: [u32; 4] = [7, 30, 90, 365];
/// A token this close to its end is told about once.
pub const EXPIRY_NOTICE_SECONDS: i64 = 7 * 86_400;

/// What the form (or a test) sends to make a token.
#[derive(Debug, Default)]
pub struct TokenInput<'a> {
    pub name: &'a str,
    pub scopes: Vec<&'a str>,
    /// `7`, `30`, `90`, `365`, or a date `YYYY-MM-DD`.
    pub expires_in_days: &'a str,
}

/// A token just made: its text, shown once, and its row.
pub struct Created {
    pub token: String,
    pub row: access_token::Model,
}

impl std::fmt::Debug for Created {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Created").field("id", &self.row.public_id).finish_non_exhaustive()
    }
}

/// The token a request used, as the audit trail names it.
pub fn by_token(caller: &ApiCaller) -> Option<ByToken> {
    caller.token().map(|token| ByToken { token: token.public_id, token_name: token.name.clone() })
}

/// When a token made now with `raw` expires (Unix seconds): one of
/// [`LIFETIMES`] from now, or the start (UTC) of a date after today and
/// at most `max_days` away.
pub fn expiry(raw: &str, max_days: u32, now: OffsetDateTime) -> Result<i64, String> {
    let raw = raw.trim();
    if let Ok(days) = raw.parse::<u32>() {
        if !LIFETIMES.contains(&days) {
            return Err(format!("Choose 7, 30, 90 or 365 days, or a date up to {max_days} days from today."));
        }
        if days > max_days {
            return Err(format!("A token may live at most {max_days} days."));
        }
        return Ok(now.unix_timestamp() + i64::from(days) * 86_400);
    }
    let format = time::macros::format_description!("[year]-[month]-[day]");
    let date = Date::parse(raw, format).map_err(|_| "Choose a number of days, or a date as YYYY-MM-DD.".to_owned())?;
    let today = now.date();
    if date <= today {
        return Err("Choose a date after today.".into());
    }
    if (date - today).whole_days() > i64::from(max_days) {
        return Err(format!("A token may live at most {max_days} days."));
    }
    Ok(date.with_time(Time::MIDNIGHT).assume_utc().unix_timestamp())
}

/// Checks the form: a name, at least one known scope (`admin` only for
/// an admin), an expiry.
fn parse(app: &App, user: &Authenticated, input: &TokenInput<'_>, now: OffsetDateTime) -> Result<(String, Scopes, i64), AppError> {
    let mut errors = FieldErrors::new();
    let name = input.name.trim();
    if name.is_empty() {
        errors.add("name", "Give the token a name, to tell it from others.");
    } else if name.chars().count() > NAME_MAX {
        errors.add("name", format!("At most {NAME_MAX} characters."));
    } else if name.chars().any(char::is_control) {
        errors.add("name", "A name is one line of text.");
    }
    let mut scopes = Scopes::default();
    for raw in &input.scopes {
        match Scope::parse(raw) {
            Some(scope) => scopes.insert(scope),
            None => errors.add("scopes", format!("There is no scope named {raw:?}.")),
        }
    }
    if scopes.is_empty() {
        errors.add("scopes", "Choose at least one scope.");
    }
    if scopes.contains(Scope::Admin) && user.role != Role::Admin {
        errors.add("scopes", "Only an admin may give a token the admin scope.");
    }
    let expires_at = expiry(input.expires_in_days, app.config.token_max_days, now).map_err(|why| errors.add("expires_in_days", why)).ok();
    match (errors.is_empty(), expires_at) {
        (true, Some(expires_at)) => Ok((name.to_owned(), scopes, expires_at)),
        _ => Err(AppError::Validation(errors)),
    }
}

/// Makes a token for the caller, whose session is fresh (the route's
/// guard): the row, its notice and then its audit event.
pub async fn create(app: &App, user: &Authenticated, input: TokenInput<'_>, client: &ClientInfo) -> Result<Created, AppError> {
    // One instant for both ends, so the token lives exactly what was chosen.
    let now = store::now();
    let (name, scopes, expires_at) = parse(app, user, &input, now)?;
    // A bound on the table's growth, not a right: two makes at once may
    // both pass it.
    if store::access_tokens::count_live(&app.db, user.id).await? >= LIVE_MAX {
        return Err(AppError::Validation(FieldErrors::single(
            "name",
            format!("You have {LIVE_MAX} tokens that work, as many as an account may hold: revoke one first."),
        )));
    }
    let minted = pat::mint();
    let scope_names = scopes.to_stored();
    let expires = human(store::ts(expires_at).0);
    let what = format!(
        "A personal access token named \"{name}\" was made for your recipebox account, with the scopes {}; it works until {expires}",
        scope_names.replace(' ', ", ")
    );
    let advice = "If this was not you, revoke it at once on your account's token page, and reset your password with the link below.";
    let text = notices::text(app, &user.username, &what, client, Advice::Then(advice))?;
    let txn = app.db.begin().await?;
    let new = store::access_tokens::NewToken { name: &name, scopes: &scope_names, hash: &minted.hash, created_at: now, expires_at };
    let row = store::access_tokens::create(&txn, user.id, new).await?;
    app.mailer.commit_with(txn, &user.email, notices::TOKEN_CREATED, text).await?;
    let detail = Detail::Token { token: row.public_id, token_name: row.name.clone(), scopes: row.scopes.clone() };
    audit::record(app, client, Event::own(AuditKind::TokenCreated, user.public_id).with(detail)).await;
    Ok(Created { token: minted.token, row })
}

/// Every token of `user_id`, newest first.
pub async fn list(app: &App, user_id: i64) -> Result<Vec<access_token::Model>, AppError> {
    Ok(store::access_tokens::of_user(&app.db, user_id).await?)
}

/// Revokes one token of `owner`, by the owner (`by` is `None`) or an
/// admin; an unknown, ended or someone else's id is `NotFound`.
pub async fn revoke(app: &App, owner: &user::Model, id: Uuid, by: Option<By>, client: &ClientInfo) -> Result<(), AppError> {
    let token = store::access_tokens::revoke(&app.db, owner.id, id).await?.ok_or(AppError::NotFound)?;
    let event = match by {
        Some(By::Admin(admin, via)) => Event::admin(AuditKind::TokenRevoked, admin, owner.public_id).by_token(via),
        Some(By::Operator) => Event::about(AuditKind::TokenRevoked, Some(owner.public_id)),
        None => Event::own(AuditKind::TokenRevoked, owner.public_id),
    };
    let detail = Detail::Token { token: token.public_id, token_name: token.name, scopes: token.scopes };
    audit::record(app, client, event.with(detail)).await;
    Ok(())
}

/// Revokes every token of the caller; how many.
pub async fn revoke_all(app: &App, user: &Authenticated, client: &ClientInfo) -> Result<u64, AppError> {
    let tokens = store::access_tokens::revoke_all(&app.db, user.id).await?;
    record_all_revoked(app, client, Event::own(AuditKind::TokenRevoked, user.public_id), tokens, "owner").await;
    Ok(tokens)
}

/// The event of `tokens` revoked at once, when there were any.
pub async fn record_all_revoked(app: &App, client: &ClientInfo, event: Event, tokens: u64, by: &'static str) {
    if tokens > 0 {
        audit::record(app, client, event.with(Detail::TokensRevoked { tokens, by })).await;
    }
}

/// Queues the notice of every live token that expires within 7 days and
/// was not told about yet: once each, by whichever instance marks it first
/// (the mark and the notice commit together). How many were queued.
pub async fn notify_expiring(db: &sea_orm::DatabaseConnection, mailer: &Mailer) -> Result<u64, AppError> {
    let soon = store::now().unix_timestamp() + EXPIRY_NOTICE_SECONDS;
    let mut queued = 0;
    for token in store::access_tokens::expiring_unnoticed(db, soon).await? {
        let Some(owner) = store::users::find_by_id(db, token.user_id).await? else { continue };
        let what = format!("Your personal access token \"{}\" expires on {}: a script that uses it will stop working then", token.name, human(token.expires_at.0));
        let advice = "Make a new token on your account's token page and give it to the script in its place. \
                      If you no longer use this one, there is nothing to do.";
        let text = notices::compose(mailer, &owner.username, &what, &ClientInfo::default(), Advice::Only(advice))?;
        let txn = db.begin().await?;
        if store::access_tokens::mark_expiry_noticed(&txn, token.id).await? {
            mailer.commit_with(txn, &owner.email, notices::TOKEN_EXPIRING, text).await?;
            queued += 1;
        }
    }
    Ok(queued)
}

#[cfg(test)]
mod tests {
    use super::*;
    use time::macros::datetime;

    #[test]
    fn an_expiry_is_one_of_the_lifetimes_or_a_date_within_the_limit() {
        let now = datetime!(2026-12-07 10:00 UTC);
        assert_eq!(expiry("30", 366, now), Ok(now.unix_timestamp() + 30 * 86_400));
        assert_eq!(expiry(" 7 ", 366, now), Ok(now.unix_timestamp() + 7 * 86_400));
        assert_eq!(expiry("2027-01-01", 366, now), Ok(datetime!(2027-01-01 00:00 UTC).unix_timestamp()));
        assert_eq!(expiry("2027-12-08", 366, now), Ok(datetime!(2027-12-08 00:00 UTC).unix_timestamp()));
        for (raw, max, why) in [
            ("2027-12-09", 366, "at most 366 days"),
            ("2026-12-07", 366, "after today"),
            ("2020-01-01", 366, "after today"),
            ("365", 90, "at most 90 days"),
            ("12", 366, "Choose 7, 30, 90 or 365"),
            ("0", 366, "Choose 7, 30, 90 or 365"),
            ("", 366, "YYYY-MM-DD"),
            ("never", 366, "YYYY-MM-DD"),
            ("2027-02-30", 366, "YYYY-MM-DD"),
        ] {
            let error = expiry(raw, max, now).unwrap_err();
            assert!(error.contains(why), "{raw:?}: {error}");
        }
    }
}
