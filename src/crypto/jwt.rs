//! JWT claims, signing and verification (SPEC.md §3).
//!
//! Every token names its signing key in the header's `kid`; verification
//! takes only the key it names, from the keyring (`crypto::keyring`), and
//! pins that key's one algorithm (`none`, HS512, an HS256 token under an
//! Ed25519 key: all refused before a signature is computed). Then the
//! signature, `exp` and `nbf` with 30 s of leeway, `iss` = `recipebox`, and
//! the presence of `exp`, `nbf`, `iss` and `sub`. jsonwebtoken's defaults
//! (60 s leeway, no `nbf` check) do not meet SPEC.md, hence every field is
//! set here. The other claims are required by `Claims` having no optional
//! field, and the token's `type` is checked against what the route expects.
//! A token without `kid` is checked against `jwt_secret` (HS256), and only
//! while the keyring says such tokens are still taken (`Legacy`).
//!
//! Whether a key may still be used is not decided here: the keyring held in
//! memory may be older than the database, and `crate::keys` checks it
//! against the `keys` version that comes with the guard's row.
//!
//! Every request of a session presents the same access token, so the claims
//! of an access token that verified are kept under the whole token
//! (`crate::kept`, no version: what the token's bytes say never changes):
//! the same bytes again skip the signature, base64 and JSON
//! (bench/RESULTS.md), and only `exp` is checked again. Revocation is not
//! decided here, so keeping a verified token's claims lets no revoked token
//! through; only tokens this server signed are ever kept.

use std::fmt;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, LazyLock, RwLock};

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::keyring::{Key, KeyCipher, Keyring, State};
use crate::config::JwtSecret;
use crate::domain::Role;
use crate::error::AuthError;
use crate::kept::{Kept, Weigh};

pub const ISSUER: &str = "recipebox";
pub const LEEWAY_SECONDS: u64 = 30;
/// The kind of kept answer: the claims of a verified access token.
const VERIFIED: &str = "verified access token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// Every claim of SPEC.md §3; all required when decoding.
#[derive(Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub role: Role,
    pub csrf: String,
    pub sid: Uuid,
    pub fresh: bool,
    /// The key that signed it (the header's `kid`; `None` for a token from
    /// before the keyring). Not a claim: set as the token is verified.
    #[serde(skip)]
    pub kid: Option<String>,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("type", &self.token_type)
            .field("sid", &self.sid)
            .field("exp", &self.exp)
            .field("kid", &self.kid)
            .finish_non_exhaustive()
    }
}

impl Weigh for Claims {
    fn heap_bytes(&self) -> usize {
        self.iss.heap_bytes() + self.csrf.heap_bytes() + self.kid.as_ref().map_or(0, |kid| kid.heap_bytes())
    }
}

/// The pinned rules for tokens signed with `algorithm` (HS256 or EdDSA),
/// built once each.
fn validation(algorithm: Algorithm) -> &'static Validation {
    static HS256: LazyLock<Validation> = LazyLock::new(|| pinned(Algorithm::HS256));
    static EDDSA: LazyLock<Validation> = LazyLock::new(|| pinned(Algorithm::EdDSA));
    if algorithm == Algorithm::EdDSA { &EDDSA } else { &HS256 }
}

fn pinned(algorithm: Algorithm) -> Validation {
    let mut validation = Validation::new(algorithm);
    validation.algorithms = vec![algorithm];
    validation.leeway = LEEWAY_SECONDS;
    validation.validate_exp = true;
    validation.validate_nbf = true;
    validation.validate_aud = false;
    validation.set_issuer(&[ISSUER]);
    validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
    validation
}

/// The keyring in use, and what verifies the tokens from before it.
pub struct JwtKeys {
    ring: RwLock<Arc<Keyring>>,
    /// `jwt_secret` as the HS256 key of tokens without `kid`.
    legacy: DecodingKey,
    /// Opens the keys' material.
    pub cipher: KeyCipher,
    /// One reading of the keyring at a time (`crate::keys`).
    pub reading: rocket::tokio::sync::Mutex<()>,
    /// When an unknown `kid` last made the keyring be read (Unix seconds):
    /// at most once a second, whatever a client sends.
    pub unknown_kid_read_at: AtomicI64,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("JwtKeys").field("ring", &self.ring()).finish_non_exhaustive()
    }
}

/// Why a token did not verify, beyond what a client is told: a `kid` this
/// keyring does not hold may be a key made since it was read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refused {
    Token(AuthError),
    UnknownKey,
}

impl From<Refused> for AuthError {
    fn from(refused: Refused) -> Self {
        match refused {
            Refused::Token(reason) => reason,
            Refused::UnknownKey => AuthError::Invalid,
        }
    }
}

impl JwtKeys {
    /// Keys from `secret`, with an empty keyring until one is installed.
    pub fn new(secret: &JwtSecret) -> Self {
        Self {
            ring: RwLock::new(Arc::new(Keyring::empty())),
            legacy: DecodingKey::from_secret(secret.bytes()),
            cipher: KeyCipher::new(secret),
            reading: rocket::tokio::sync::Mutex::new(()),
            unknown_kid_read_at: AtomicI64::new(0),
        }
    }

    /// The keyring in use now.
    pub fn ring(&self) -> Arc<Keyring> {
        Arc::clone(&crate::lock_read(&self.ring))
    }

    /// Puts a keyring read from the database in use.
    pub fn install(&self, ring: Keyring) {
        *crate::lock_write(&self.ring) = Arc::new(ring);
    }

    /// Whether an unknown `kid` may make the keyring be read now (and
    /// notes that it does).
    pub fn may_read_for_unknown_kid(&self, now: i64) -> bool {
        let last = self.unknown_kid_read_at.load(Ordering::Relaxed);
        now > last && self.unknown_kid_read_at.compare_exchange(last, now, Ordering::Relaxed, Ordering::Relaxed).is_ok()
    }

    /// Signs `claims` with the active key, naming it in `kid`.
    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        let ring = self.ring();
        let key = ring.active().ok_or_else(|| anyhow::anyhow!("the keyring has no active key"))?;
        let header = Header { kid: Some(key.kid.clone()), ..Header::new(key.algorithm) };
        Ok(jsonwebtoken::encode(&header, claims, &key.encoding)?)
    }

    /// Checks key, signature, time and shape, then that the token is of
    /// `expected` type. What the database knows (revocation, the key's
    /// state now) is `crate::keys`'s and `session`'s job.
    pub fn verify(&self, kept: &Kept, token: &str, expected: TokenType) -> Result<Claims, Refused> {
        let claims = match kept.get::<Claims>(VERIFIED, &token, &[]) {
            Some(claims) if claims.exp < jsonwebtoken::get_current_timestamp() as i64 - LEEWAY_SECONDS as i64 => {
                return Err(Refused::Token(AuthError::Expired));
            }
            Some(claims) => Claims::clone(&claims),
            None => self.verify_in_full(kept, token)?,
        };
        if claims.token_type != expected {
            return Err(Refused::Token(AuthError::WrongType));
        }
        Ok(claims)
    }

    /// jsonwebtoken's whole check, with the key `kid` names; keeps the
    /// claims of an access token.
    fn verify_in_full(&self, kept: &Kept, token: &str) -> Result<Claims, Refused> {
        let invalid = Refused::Token(AuthError::Invalid);
        let header = jsonwebtoken::decode_header(token).map_err(|_| invalid)?;
        let ring = self.ring();
        let (decoding, algorithm) = match header.kid.as_deref() {
            Some(kid) => {
                let key: &Key = ring.keys.get(kid).ok_or(Refused::UnknownKey)?;
                if key.state == State::Revoked {
                    return Err(Refused::Token(AuthError::Revoked));
                }
                (&key.decoding, key.algorithm)
            }
            // Before the keyring, tokens were HS256 under `jwt_secret`.
            None if ring.legacy.is_some() => (&self.legacy, Algorithm::HS256),
            None => return Err(invalid),
        };
        let mut claims = jsonwebtoken::decode::<Claims>(token, decoding, validation(algorithm))
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => Refused::Token(AuthError::Expired),
                _ => invalid,
            })?
            .claims;
        claims.kid = header.kid;
        if claims.token_type == TokenType::Access {
            kept.put(VERIFIED, &token, &[], claims.clone());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use base64::Engine as _;
    use jsonwebtoken::EncodingKey;
    use sea_orm::prelude::TimeUnixTimestamp;
    use serde_json::json;

    use super::*;
    use crate::crypto::keyring;
    use crate::entities::{keyring as keyring_row, signing_key};

    const SECRET: &str = "unit-test-secret-unit-test-secret-0123456789";
    const KID: &str = "the-active-key";

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn at(unix: i64) -> TimeUnixTimestamp {
        TimeUnixTimestamp(time::OffsetDateTime::from_unix_timestamp(unix).unwrap())
    }

    /// Keys whose keyring holds one active key of `algorithm` (its
    /// material returned) in `state`, and takes tokens without `kid` when
    /// `legacy`.
    fn keys_with(algorithm: &str, state: &str, legacy: bool) -> (JwtKeys, Vec<u8>) {
        let keys = JwtKeys::new(&crate::config::tests_support::secret(SECRET));
        let material = keyring::new_material(crate::config::parse_jwt_algorithm(algorithm).unwrap());
        let row = signing_key::Model {
            id: 1,
            kid: KID.into(),
            algorithm: algorithm.into(),
            state: state.into(),
            material: keys.cipher.seal(&material),
            created_at: at(now()),
            activates_at: None,
            activated_at: Some(at(now())),
            retired_at: None,
            revoked_at: None,
        };
        let ring = keyring_row::Model { id: 1, created_at: at(now()), legacy_sessions_before: legacy.then(|| at(now())), changed_at: at(now()) };
        keys.install(keyring::Keyring::open(1, Instant::now(), &ring, &[row], &keys.cipher, 3600).unwrap());
        (keys, material)
    }

    fn keys() -> (JwtKeys, Vec<u8>) {
        keys_with("HS256", "active", false)
    }

    fn claims_json(token_type: &str) -> serde_json::Value {
        let now = now();
        json!({
            "iss": ISSUER, "sub": Uuid::new_v4(), "iat": now, "nbf": now, "exp": now + 60,
            "jti": Uuid::new_v4(), "type": token_type, "role": "user", "csrf": "c", "sid": Uuid::new_v4(), "fresh": true,
        })
    }

    fn sign_raw(claims: &serde_json::Value, alg: Algorithm, secret: &[u8], kid: Option<&str>) -> String {
        let header = Header { kid: kid.map(str::to_owned), ..Header::new(alg) };
        jsonwebtoken::encode(&header, claims, &EncodingKey::from_secret(secret)).unwrap()
    }

    fn refused(reason: AuthError) -> Refused {
        Refused::Token(reason)
    }

    #[test]
    fn a_token_signed_by_the_key_its_kid_names_verifies_and_carries_the_kid() {
        let (keys, material) = keys();
        let token = sign_raw(&claims_json("access"), Algorithm::HS256, &material, Some(KID));
        let claims = keys.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap();
        assert_eq!(claims.kid.as_deref(), Some(KID));
        assert_eq!(keys.verify(&Kept::new(1 << 20), &token, TokenType::Refresh).unwrap_err(), refused(AuthError::WrongType));
    }

    #[test]
    fn what_the_keys_sign_names_the_active_key_and_verifies() {
        for algorithm in ["HS256", "EdDSA"] {
            let (keys, _) = keys_with(algorithm, "active", false);
            let claims: Claims = serde_json::from_value(claims_json("access")).unwrap();
            let token = keys.sign(&claims).unwrap();
            let header = jsonwebtoken::decode_header(&token).unwrap();
            assert_eq!((header.kid.as_deref(), crate::config::jwt_algorithm_name(header.alg)), (Some(KID), algorithm));
            assert_eq!(keys.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap().sub, claims.sub, "{algorithm}");
        }
        let (nothing_active, _) = keys_with("HS256", "retired", false);
        let claims: Claims = serde_json::from_value(claims_json("access")).unwrap();
        assert!(nothing_active.sign(&claims).is_err(), "no active key, no token");
    }

    #[test]
    fn a_kept_token_is_checked_again_for_type_and_expiry_and_only_its_own_bytes_match() {
        let ((keys, material), kept) = (keys(), Kept::new(1 << 20));
        let token = sign_raw(&claims_json("access"), Algorithm::HS256, &material, Some(KID));
        let claims = keys.verify(&kept, &token, TokenType::Access).unwrap();
        assert!(kept.get::<Claims>(VERIFIED, &token, &[]).is_some(), "an access token that verified is kept");
        assert_eq!(keys.verify(&kept, &token, TokenType::Refresh).unwrap_err(), refused(AuthError::WrongType), "kept, and still the wrong type");

        let (body, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{body}.{flipped}{}", &signature[1..]);
        assert_eq!(keys.verify(&kept, &tampered, TokenType::Access).unwrap_err(), refused(AuthError::Invalid), "other bytes are verified in full");

        kept.put(VERIFIED, &token, &[], Claims { exp: now() - 31, ..claims });
        assert_eq!(keys.verify(&kept, &token, TokenType::Access).unwrap_err(), refused(AuthError::Expired), "exp is checked on every use");

        let refresh = sign_raw(&claims_json("refresh"), Algorithm::HS256, &material, Some(KID));
        keys.verify(&kept, &refresh, TokenType::Refresh).unwrap();
        assert!(kept.get::<Claims>(VERIFIED, &refresh, &[]).is_none(), "a refresh token, used once, is not kept");
    }

    #[test]
    fn tokens_that_are_wrong_in_any_way_are_refused() {
        let (keys, key) = keys();
        let base = claims_json("access");
        let with = |name: &str, value: serde_json::Value| {
            let mut c = base.clone();
            c[name] = value;
            c
        };
        let without = |name: &str| {
            let mut c = base.clone();
            c.as_object_mut().unwrap().remove(name);
            c
        };
        let other = b"another-secret-another-secret-0123456789".as_slice();
        let cases = [
            ("another key", sign_raw(&base, Algorithm::HS256, other, Some(KID)), refused(AuthError::Invalid)),
            ("an unknown kid", sign_raw(&base, Algorithm::HS256, &key, Some("made-up")), Refused::UnknownKey),
            ("no kid, born with keys", sign_raw(&base, Algorithm::HS256, SECRET.as_bytes(), None), refused(AuthError::Invalid)),
            ("HS512", sign_raw(&base, Algorithm::HS512, &key, Some(KID)), refused(AuthError::Invalid)),
            ("wrong iss", sign_raw(&with("iss", json!("evil")), Algorithm::HS256, &key, Some(KID)), refused(AuthError::Invalid)),
            ("expired", sign_raw(&with("exp", json!(now() - 31)), Algorithm::HS256, &key, Some(KID)), refused(AuthError::Expired)),
            ("nbf ahead", sign_raw(&with("nbf", json!(now() + 45)), Algorithm::HS256, &key, Some(KID)), refused(AuthError::Invalid)),
            ("no csrf", sign_raw(&without("csrf"), Algorithm::HS256, &key, Some(KID)), refused(AuthError::Invalid)),
            ("no nbf", sign_raw(&without("nbf"), Algorithm::HS256, &key, Some(KID)), refused(AuthError::Invalid)),
            ("no sid", sign_raw(&without("sid"), Algorithm::HS256, &key, Some(KID)), refused(AuthError::Invalid)),
            ("garbage", "not.a.token".to_owned(), refused(AuthError::Invalid)),
        ];
        for (case, token, expected) in cases {
            assert_eq!(keys.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap_err(), expected, "case {case}");
        }
    }

    #[test]
    fn a_token_without_kid_verifies_with_jwt_secret_only_where_the_keyring_takes_them() {
        let (with_legacy, _) = keys_with("HS256", "active", true);
        let token = sign_raw(&claims_json("access"), Algorithm::HS256, SECRET.as_bytes(), None);
        assert_eq!(with_legacy.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap().kid, None);
        let (born_with_keys, _) = keys();
        assert_eq!(born_with_keys.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap_err(), refused(AuthError::Invalid));
    }

    #[test]
    fn an_eddsa_key_verifies_nothing_but_eddsa_and_a_revoked_key_nothing_at_all() {
        let (keys, _) = keys_with("EdDSA", "active", false);
        let public = keys.ring().keys[KID].public.unwrap();
        // The public key as an HMAC secret: the old algorithm confusion.
        let confused = sign_raw(&claims_json("access"), Algorithm::HS256, &public, Some(KID));
        assert_eq!(keys.verify(&Kept::new(1 << 20), &confused, TokenType::Access).unwrap_err(), refused(AuthError::Invalid));

        let (revoked, material) = keys_with("HS256", "revoked", false);
        let token = sign_raw(&claims_json("access"), Algorithm::HS256, &material, Some(KID));
        assert_eq!(revoked.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap_err(), refused(AuthError::Revoked));
    }

    #[test]
    fn alg_none_is_refused() {
        let (keys, _) = keys();
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let payload = engine.encode(claims_json("access").to_string());
        for header in [r#"{"alg":"none","typ":"JWT"}"#.to_owned(), format!(r#"{{"alg":"none","typ":"JWT","kid":"{KID}"}}"#)] {
            let header = engine.encode(header);
            for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
                assert_eq!(keys.verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap_err(), refused(AuthError::Invalid));
            }
        }
    }

    #[test]
    fn leeway_is_thirty_seconds_not_sixty() {
        let (keys, key) = keys();
        let mut c = claims_json("access");
        c["exp"] = json!(now() - 20);
        assert!(keys.verify(&Kept::new(1 << 20), &sign_raw(&c, Algorithm::HS256, &key, Some(KID)), TokenType::Access).is_ok());
        c["exp"] = json!(now() - 45);
        let late = sign_raw(&c, Algorithm::HS256, &key, Some(KID));
        assert_eq!(keys.verify(&Kept::new(1 << 20), &late, TokenType::Access).unwrap_err(), refused(AuthError::Expired));
    }
}
