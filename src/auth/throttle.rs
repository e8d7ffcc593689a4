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
//! Throttled attempts are not recorded, which keeps the table bounded by
//! the limits; the hourly purge removes rows older than the window.
//!
//! Concurrent attempts that pass the check together are all verified, so
//! under a burst a limit can be overshot by the number of requests in
//! flight; every one of them still costs a bcrypt verify.

use sha2::{Digest, Sha256};

use super::guard::ClientInfo;
use crate::app::App;
use crate::config::ThrottleRules;
use crate::error::AppError;
use crate::store;

const ACCOUNT: &str = "account";
const ADDRESS: &str = "address";

/// The counters one login attempt touches.
pub struct LoginThrottle<'a> {
    app: &'a App,
    account: String,
    address: Option<String>,
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
        Self { app, account: account_key(email), address: client.ip.clone() }
    }

    fn rules(&self) -> ThrottleRules {
        self.app.config.throttle
    }

    /// `Throttled` when the account or the address is past its limit.
    pub async fn check(&self) -> Result<(), AppError> {
        let rules = self.rules();
        let now = store::now().unix_timestamp();
        let since = now - rules.window;
        let account = store::throttle::newest(&self.app.db, ACCOUNT, &self.account, since, rules.per_account).await?;
        let mut retry_after = wait(&account, rules.per_account, rules.window, now);
        if let Some(address) = &self.address {
            let by_address = store::throttle::newest(&self.app.db, ADDRESS, address, since, rules.per_address).await?;
            retry_after = retry_after.max(wait(&by_address, rules.per_address, rules.window, now));
        }
        match retry_after {
            Some(retry_after) => {
                tracing::warn!(retry_after, "login throttled");
                Err(AppError::Throttled { retry_after })
            }
            None => Ok(()),
        }
    }

    /// Counts a wrong password against the account and the address.
    pub async fn failed(&self) -> Result<(), AppError> {
        store::throttle::record(&self.app.db, ACCOUNT, &self.account).await?;
        if let Some(address) = &self.address {
            store::throttle::record(&self.app.db, ADDRESS, address).await?;
        }
        Ok(())
    }

    /// A right password: the account's count starts again.
    pub async fn succeeded(&self) -> Result<(), AppError> {
        Ok(store::throttle::clear(&self.app.db, ACCOUNT, &self.account).await?)
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
