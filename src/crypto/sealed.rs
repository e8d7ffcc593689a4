//! State a server hands to a browser and takes back, signed so that it
//! comes back unchanged, and short-lived: the passkey sign-in's ceremony,
//! which names no user, so that anyone may begin one without the site
//! writing a row (an anonymous write per request let one client fill the
//! database and keep every instance's kept answers from being reused).
//!
//! A sealed value is a JWT (HS256, through jsonwebtoken) under a key of
//! its own, derived from `jwt_secret` with HKDF-SHA256 and the purpose as
//! `info`: a sealed value is never a valid access token, nor one of another
//! purpose. The value is signed, not encrypted: seal nothing secret.
//! Single use is the caller's to keep (`store::passkeys::spend`).

use std::fmt;

use hkdf::Hkdf;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use crate::config::JwtSecret;

/// Seals and opens values for one purpose.
pub struct Sealer {
    purpose: &'static str,
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for Sealer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Sealer").field("purpose", &self.purpose).finish_non_exhaustive()
    }
}

#[derive(Serialize, Deserialize)]
struct Sealed<T> {
    iss: String,
    exp: i64,
    value: T,
}

impl Sealer {
    pub fn new(secret: &JwtSecret, purpose: &'static str) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret.bytes())
            .expand(purpose.as_bytes(), &mut key)
            .expect("BUG: 32 bytes is a valid HKDF-SHA256 output length");
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = 0;
        validation.validate_aud = false;
        validation.set_issuer(&[purpose]);
        validation.set_required_spec_claims(&["exp", "iss"]);
        Self { purpose, encoding: EncodingKey::from_secret(&key), decoding: DecodingKey::from_secret(&key), validation }
    }

    /// `value`, good until the Unix time `expires_at`.
    pub fn seal<T: Serialize>(&self, value: &T, expires_at: i64) -> anyhow::Result<String> {
        let sealed = Sealed { iss: self.purpose.to_owned(), exp: expires_at, value };
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), &sealed, &self.encoding)?)
    }

    /// The value and its expiry, if `token` was sealed here for this
    /// purpose, unchanged, and has not expired; `None` for anything else.
    pub fn open<T: DeserializeOwned>(&self, token: &str) -> Option<(T, i64)> {
        let sealed = jsonwebtoken::decode::<Sealed<T>>(token, &self.decoding, &self.validation).ok()?.claims;
        Some((sealed.value, sealed.exp))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> JwtSecret {
        crate::config::tests_support::secret(text)
    }

    fn in_a_minute() -> i64 {
        jsonwebtoken::get_current_timestamp() as i64 + 60
    }

    #[test]
    fn a_sealed_value_opens_only_unchanged_for_its_purpose_before_it_expires() {
        let sealer = Sealer::new(&secret("a secret of at least thirty-two bytes, for tests"), "a purpose");
        let token = sealer.seal(&vec![1, 2, 3], in_a_minute()).unwrap();
        assert_eq!(sealer.open::<Vec<i32>>(&token).map(|(value, _)| value), Some(vec![1, 2, 3]));

        let other_purpose = Sealer::new(&secret("a secret of at least thirty-two bytes, for tests"), "another purpose");
        assert!(other_purpose.open::<Vec<i32>>(&token).is_none(), "another purpose's key");
        let other_secret = Sealer::new(&secret("another secret of at least thirty-two bytes"), "a purpose");
        assert!(other_secret.open::<Vec<i32>>(&token).is_none(), "another secret's key");

        let mut changed = token.clone().into_bytes();
        let at = changed.len() - 5;
        changed[at] = if changed[at] == b'A' { b'B' } else { b'A' };
        assert!(sealer.open::<Vec<i32>>(&String::from_utf8(changed).unwrap()).is_none(), "a changed signature");

        let expired = sealer.seal(&vec![1], jsonwebtoken::get_current_timestamp() as i64 - 1).unwrap();
        assert!(sealer.open::<Vec<i32>>(&expired).is_none(), "an expired value");
        assert!(sealer.open::<Vec<i32>>("not a token").is_none());
    }

    #[test]
    fn a_sealed_value_is_not_an_access_token() {
        let jwt_secret = secret("a secret of at least thirty-two bytes, for tests");
        let token = Sealer::new(&jwt_secret, "a purpose").seal(&1, in_a_minute()).unwrap();
        let keys = crate::crypto::jwt::JwtKeys::new(&jwt_secret);
        let kept = crate::kept::Kept::new(1 << 20);
        assert!(keys.verify(&kept, &token, crate::crypto::jwt::TokenType::Access).is_err());
    }
}
