//! Personal access tokens (SPEC.md §5): a credential beside `auth`'s
//! sessions, for scripts. A token is `rbx_pat_`, 30 random base62
//! characters and the base62 CRC32 of those 30 (6 characters, zero
//! padded), so a secret scanner can tell a leaked token from noise, and a
//! mistyped one is refused before any database read. Only its SHA-256 is
//! stored (`store::access_tokens`); it is shown once, when made.
//!
//! Accepting one: the format and checksum, then one row (the token and its
//! owner as they are now, read as `auth`'s row is: batched, and on SQLite
//! kept only until the next commit): not revoked, not expired, the owner
//! not disabled. The owner's role is read from that row, so an `admin`
//! scope does nothing once its owner is no longer an admin. Its use is
//! recorded to the minute (`store::access_tokens::touch`), not per request.
//!
//! What a token may do is its [`Scopes`]; what it may never do (change a
//! password, an email, a factor, a token or a session, or delete the
//! account) the API's routes refuse by taking a session's guard.

use rand::distr::{Alphanumeric, SampleString};
use sha2::{Digest, Sha256};
use time::OffsetDateTime;
use uuid::Uuid;

pub use crate::domain::{Scope, Scopes};

use crate::app::App;
use crate::domain::Role;
use crate::error::{AppError, AuthError};
use crate::kept::Version;
use crate::store;

pub const PREFIX: &str = "rbx_pat_";
/// Random base62 characters after the prefix.
const RANDOM_LEN: usize = 30;
/// Base62 characters of the CRC32 (62^6 > 2^32).
const CHECKSUM_LEN: usize = 6;
/// The whole token's length.
pub const TOKEN_LEN: usize = PREFIX.len() + RANDOM_LEN + CHECKSUM_LEN;

/// How stale "last used" may get before a request records it again.
const TOUCH_AFTER_SECONDS: i64 = 60;

/// A new token's text and the hash that is stored.
pub struct Minted {
    pub token: String,
    pub hash: String,
}

impl std::fmt::Debug for Minted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Minted(<redacted>)")
    }
}

/// A new random token.
pub fn mint() -> Minted {
    let random = Alphanumeric.sample_string(&mut rand::rng(), RANDOM_LEN);
    let token = format!("{PREFIX}{random}{}", checksum(&random));
    Minted { hash: hash(&token), token }
}

/// The CRC32 of `random` in 6 base62 characters.
fn checksum(random: &str) -> String {
    format!("{:0>width$}", base62::encode(crc32fast::hash(random.as_bytes())), width = CHECKSUM_LEN)
}

/// Whether `text` is shaped as a token at all (its prefix): such a bearer
/// is this module's to accept or refuse, never a JWT's.
pub fn looks_like_token(text: &str) -> bool {
    text.starts_with(PREFIX)
}

/// Checks the format and the checksum: `Invalid` for anything else,
/// without a database read.
pub fn check(text: &str) -> Result<(), AuthError> {
    let body = text.strip_prefix(PREFIX).ok_or(AuthError::Invalid)?;
    if body.len() != RANDOM_LEN + CHECKSUM_LEN || !body.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err(AuthError::Invalid);
    }
    let (random, sum) = body.split_at(RANDOM_LEN);
    if checksum(random) != sum {
        return Err(AuthError::Invalid);
    }
    Ok(())
}

/// The SHA-256 of a token, in hex: what is stored and looked up. (A token
/// holds 178 random bits, so a fast hash is enough, as for GitHub's.)
pub fn hash(token: &str) -> String {
    format!("{:x}", Sha256::digest(token.as_bytes()))
}

/// The token a request used, for what it may do and for the audit trail.
#[derive(Debug, Clone)]
pub struct TokenUse {
    pub id: i64,
    pub public_id: Uuid,
    pub name: String,
    pub scopes: Scopes,
}

/// Proof that a request carries a live personal access token of an
/// enabled user: the owner as the database has them now, and the token.
#[derive(Clone)]
pub struct Holder {
    pub id: i64,
    pub public_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: OffsetDateTime,
    /// The version of what `/me` shows of this account, read with the row.
    pub user_version: Version,
    /// The version of every recipe list, read with the row.
    pub recipes_version: Version,
    pub token: TokenUse,
}

impl std::fmt::Debug for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Holder").field("public_id", &self.public_id).field("token", &self.token.public_id).finish_non_exhaustive()
    }
}

impl Holder {
    /// Whether the token may do what `scope` names: it holds the scope,
    /// and for `admin` its owner is an admin now.
    pub fn may(&self, scope: Scope) -> bool {
        self.token.scopes.contains(scope) && (scope != Scope::Admin || self.role == Role::Admin)
    }
}

/// Accepts a personal access token, or says why not. `ip` is recorded as
/// where it was last used.
pub async fn authenticate(app: &App, text: &str, ip: Option<&str>) -> Result<Holder, AppError> {
    check(text).map_err(AppError::Unauthenticated)?;
    let hash = hash(text);
    let row = app.reads.holder_row(&app.kept, &hash).await?.ok_or(AppError::Unauthenticated(AuthError::Invalid))?;
    let now = store::now().unix_timestamp();
    if row.revoked_at.is_some() || row.disabled_at.is_some() {
        return Err(AppError::Unauthenticated(AuthError::Revoked));
    }
    if row.expires_at.0.unix_timestamp() <= now {
        return Err(AppError::Unauthenticated(AuthError::Expired));
    }
    let stale = row.last_used_at.is_none_or(|at| now - at.0.unix_timestamp() >= TOUCH_AFTER_SECONDS);
    if stale {
        if let Err(e) = store::access_tokens::touch(&app.db, row.token_id, ip, TOUCH_AFTER_SECONDS).await {
            tracing::warn!(error = %e, "could not record a token's use");
        }
    }
    Ok(Holder {
        id: row.user_id,
        public_id: row.public_id,
        email: row.email,
        username: row.username,
        role: row.role,
        created_at: row.created_at.0,
        user_version: Version(row.user_version),
        recipes_version: Version(row.recipes_version),
        token: TokenUse { id: row.token_id, public_id: row.token_public_id, name: row.token_name, scopes: Scopes::parse_stored(&row.scopes) },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_minted_token_has_the_format_and_passes_its_own_check() {
        for _ in 0..200 {
            let minted = mint();
            assert_eq!(minted.token.len(), TOKEN_LEN);
            assert!(minted.token.starts_with("rbx_pat_"));
            assert!(minted.token[PREFIX.len()..].bytes().all(|b| b.is_ascii_alphanumeric()));
            assert_eq!(check(&minted.token), Ok(()));
            assert_eq!(minted.hash, hash(&minted.token));
            assert_eq!(minted.hash.len(), 64);
        }
    }

    #[test]
    fn the_checksum_is_the_base62_crc32_of_the_random_part() {
        // The base62 digits worked out here by hand, most significant first.
        let random = "0123456789ABCDEFGHIJabcdefghij";
        let crc = crc32fast::hash(random.as_bytes());
        let alphabet = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
        let mut n = crc;
        let mut digits = [b'0'; 6];
        for digit in digits.iter_mut().rev() {
            *digit = alphabet[(n % 62) as usize];
            n /= 62;
        }
        assert_eq!(checksum(random), std::str::from_utf8(&digits).unwrap());
        assert_eq!(check(&format!("{PREFIX}{random}{}", std::str::from_utf8(&digits).unwrap())), Ok(()));
    }

    #[test]
    fn malformed_tokens_are_refused_without_a_lookup() {
        let good = mint().token;
        let mut wrong_sum = good.clone();
        let last = wrong_sum.pop().unwrap();
        wrong_sum.push(if last == 'a' { 'b' } else { 'a' });
        let mut changed_random = good.clone().into_bytes();
        changed_random[PREFIX.len()] = if changed_random[PREFIX.len()] == b'x' { b'y' } else { b'x' };
        let changed_random = String::from_utf8(changed_random).unwrap();
        for bad in [
            wrong_sum.as_str(),
            changed_random.as_str(),
            &good[..good.len() - 1],
            &format!("{good}0"),
            &good.replace("rbx_pat_", "rbx_PAT_"),
            &good.replace("rbx_pat_", "ghp_"),
            "rbx_pat_",
            &format!("rbx_pat_{}", "é".repeat(18)),
            &format!("rbx_pat_{}", "x".repeat(10_000)),
        ] {
            assert_eq!(check(bad), Err(AuthError::Invalid), "{bad:?}");
        }
    }
}
