//! Login throttling (SPEC.md §6): failed password checks are counted per
//! account and per client address over a sliding window, in the database,
//! so every instance sees the same counts. Past a limit the check is
//! refused with 429 and `Retry-After` before bcrypt runs, even for the right
//! password. A success clears the account's count (not the address's: one
//! right password must not reset a guesser's budget across accounts).
//!
//! The form login, the JSON and Basic logins and the password change's
//! current-password check all go through [`LoginThrottle`], so they share
//! the counters. The account key is a SHA-256 of the email as typed
//! (trimmed, lower-cased): unknown emails are counted like known ones, so a
//! 429 does not reveal which accounts exist, and no typed text is stored.
//!
//! Every attempt is recorded as a failure *before* bcrypt runs and counted
//! with the attempts recorded before it; a right password takes its row
//! back. So a burst of parallel guesses cannot all pass the check before
//! any of them is recorded: the first ones up to the limit are tried, the
//! rest refused. A refused attempt takes its row back too, which keeps the
//! table bounded by the limits; the hourly purge removes rows older than
//! the window.
//!
//! Sign-ups are counted the same way, per client address alone, with limits
//! and a window of their own (SPEC §6): an attempt is recorded before the
//! account is made and taken back when no account was made.

use sha2::{Digest, Sha256};

use crate::client::ClientInfo;
use crate::app::App;
use crate::config::ThrottleRules;
use crate::error::AppError;
use crate::store;

const ACCOUNT: &str = "account";
const ADDRESS: &str = "address";
/// Password reset requests are counted apart from failed logins, with the
/// same limits: asking for links is not guessing passwords, but an
/// unthrottled form would let anyone flood an inbox.
const RESET_ACCOUNT: &str = "rs_acct";
const RESET_ADDRESS: &str = "rs_addr";
/// Verification links, counted per address they go to and per client
/// address, so no one can flood someone else's inbox through the site.
const VERIFY_ACCOUNT: &str = "vf_acct";
const VERIFY_ADDRESS: &str = "vf_addr";
/// Accounts made, per client address.
const SIGNUP_ADDRESS: &str = "su_addr";

/// The counters one login attempt touches.
pub struct LoginThrottle<'a> {
    app: &'a App,
    /// `None` where only the address is counted (sign-ups).
    account: Option<String>,
    address: Option<String>,
    scopes: (&'static str, &'static str),
    /// The most attempts per account and per address within `window`.
    limits: (u64, u64),
    /// Seconds.
    window: i64,
}

/// An attempt that passed the check, recorded as a failure until
/// [`LoginThrottle::succeeded`] takes it back.
#[must_use]
pub struct Attempt {
    rows: Vec<i64>,
}

fn account_key(email: &str) -> String {
    let digest = Sha256::digest(format!("recipebox-login:{}", email.trim().to_lowercase()));
    format!("{digest:x}")
}

/// Seconds until one of the `limit` newest failures (newest first) leaves
/// the window, or `None` when fewer than `limit` are in it.
fn wait(newest: &[i64], limit: u64, window: i64, now: i64) -> Option<u64> {
    if (newest.len() as u64) < limit {
        return None;
    }
    let oldest_counted = *newest.last()?;
    Some((oldest_counted + window - now).max(1) as u64)
}

impl<'a> LoginThrottle<'a> {
    pub fn new(app: &'a App, email: &str, client: &ClientInfo) -> Self {
        let rules: ThrottleRules = app.config.throttle;
        Self {
            app,
            account: Some(account_key(email)),
            address: client.ip.clone(),
            scopes: (ACCOUNT, ADDRESS),
            limits: (rules.per_account, rules.per_address),
            window: rules.window,
        }
    }

    /// The counter of sign-ups from the client's address.
    pub fn for_signups(app: &'a App, client: &ClientInfo) -> Self {
        let rules: ThrottleRules = app.config.throttle;
        Self {
            app,
            account: None,
            address: client.ip.clone(),
            scopes: (SIGNUP_ADDRESS, SIGNUP_ADDRESS),
            limits: (0, rules.signups_per_address),
            window: rules.signup_window,
        }
    }

    /// The counters of verification links sent to `email`.
    pub fn for_verification_links(app: &'a App, email: &str, client: &ClientInfo) -> Self {
        Self { scopes: (VERIFY_ACCOUNT, VERIFY_ADDRESS), ..Self::new(app, email, client) }
    }

    /// The counters of password reset requests (every request counts).
    pub fn for_reset_requests(app: &'a App, email: &str, client: &ClientInfo) -> Self {
        Self { scopes: (RESET_ACCOUNT, RESET_ADDRESS), ..Self::new(app, email, client) }
    }

    /// The counters of this attempt, with their limits.
    fn counters(&self) -> Vec<(&'static str, &str, u64)> {
        let account = self.account.as_deref().map(|account| (self.scopes.0, account, self.limits.0));
        let address = self.address.as_deref().map(|address| (self.scopes.1, address, self.limits.1));
        account.into_iter().chain(address).collect()
    }

    /// Records this attempt and lets it through, or refuses it with
    /// `Throttled` when the account or the address is past its limit.
    pub async fn attempt(&self) -> Result<Attempt, AppError> {
        let db = &self.app.db;
        let window = self.window;
        let now = store::now().unix_timestamp();
        let since = now - window;
        let mut rows = Vec::new();
        let mut retry_after = None;
        for (scope, key, limit) in self.counters() {
            let (id, counted) = store::throttle::record_and_count(db, scope, key, since).await?;
            rows.push(id);
            if counted > limit {
                store::throttle::forget(db, &[id]).await?;
                let newest = store::throttle::newest(db, scope, key, since, limit).await?;
                retry_after = retry_after.max(wait(&newest, limit, window, now).or(Some(1)));
            }
        }
        match retry_after {
            Some(retry_after) => {
                store::throttle::forget(db, &rows).await?;
                tracing::warn!(retry_after, "login throttled");
                Err(AppError::Throttled { retry_after })
            }
            None => Ok(Attempt { rows }),
        }
    }

    /// A right password: the attempt is no failure, and the account's count
    /// starts again.
    pub async fn succeeded(&self, attempt: Attempt) -> Result<(), AppError> {
        self.take_back(attempt).await?;
        match &self.account {
            Some(account) => Ok(store::throttle::clear(&self.app.db, self.scopes.0, account).await?),
            None => Ok(()),
        }
    }

    /// An attempt that did not count after all (a sign-up that made no
    /// account).
    pub async fn take_back(&self, attempt: Attempt) -> Result<(), AppError> {
        Ok(store::throttle::forget(&self.app.db, &attempt.rows).await?)
    }

    /// Counts a request that is never taken back (asking for a link), or
    /// refuses it past a limit.
    pub async fn count(&self) -> Result<(), AppError> {
        self.attempt().await.map(|attempt| self.stays_counted(attempt))
    }

    /// A wrong password, or an account made: the attempt stays counted.
    pub fn stays_counted(&self, attempt: Attempt) {
        drop(attempt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_wait_is_until_the_oldest_counted_failure_leaves_the_window() {
        let now = 10_000;
        assert_eq!(wait(&[now - 10, now - 20], 3, 900, now), None, "under the limit");
        assert_eq!(wait(&[now - 10, now - 20, now - 300], 3, 900, now), Some(600));
        assert_eq!(wait(&[now, now, now], 3, 900, now), Some(900));
        assert_eq!(wait(&[now - 900, now - 900, now - 900], 3, 900, now), Some(1), "never zero");
    }

    #[test]
    fn account_keys_ignore_case_and_spaces_and_hide_the_email() {
        assert_eq!(account_key(" Ann@Example.com "), account_key("ann@example.com"));
        assert_ne!(account_key("ann@example.com"), account_key("bob@example.com"));
        assert!(!account_key("ann@example.com").contains("ann"));
        assert_eq!(account_key("ann@example.com").len(), 64);
    }
}
