//! The signing keys (SPEC.md §2, §3), as the application holds them: each
//! key's material opened, ready to sign or verify, with its state and
//! dates. Built from the rows of `signing_keys` (`store::keys`); which keys
//! exist and what state they are in is the database's to say, read again
//! whenever its `keys` version moves (`crate::keys`).
//!
//! Material is kept encrypted in the database exactly as SPEC §2 writes
//! it: AES-256-GCM under HKDF-SHA256(`jwt_secret`, no salt, info
//! `recipebox signing keys`), stored as the 12-byte nonce, then the
//! ciphertext and tag. So a copy of the database alone, or `jwt_secret`
//! alone, signs nothing; an operator holding both can open a key.
//!
//! Invariant: no key's material is ever printed (`Debug` shows the kid).

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use aes_gcm::aead::{Aead, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce};
use ed25519_dalek::pkcs8::EncodePrivateKey;
use hkdf::Hkdf;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey};
use rand::RngCore;
use sha2::Sha256;

use crate::config::{parse_jwt_algorithm as parse_algorithm, JwtSecret};
use crate::entities::{keyring, signing_key};

/// HKDF's `info` for the key that encrypts the keyring (SPEC §2).
const INFO: &str = "recipebox signing keys";
const NONCE_BYTES: usize = 12;
/// Random bytes of an HS256 key (SPEC §2).
const HS256_BYTES: usize = 64;
/// A kid: random and URL-safe (16 bytes, base64url).
const KID_BYTES: usize = 16;

/// A key's place in its life (SPEC §3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    /// Known to every instance, not yet signing.
    Next,
    /// The one key that signs.
    Active,
    /// Verifies what it signed until that has expired; then deleted.
    Retired,
    /// Verifies nothing.
    Revoked,
}

impl State {
    pub fn as_str(self) -> &'static str {
        match self {
            State::Next => "next",
            State::Active => "active",
            State::Retired => "retired",
            State::Revoked => "revoked",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        [State::Next, State::Active, State::Retired, State::Revoked].into_iter().find(|state| state.as_str() == raw)
    }
}

/// Encrypts and opens key material (SPEC §2).
pub struct KeyCipher(Aes256Gcm);

impl fmt::Debug for KeyCipher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("KeyCipher(<redacted>)")
    }
}

impl KeyCipher {
    pub fn new(secret: &JwtSecret) -> Self {
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, secret.bytes())
            .expand(INFO.as_bytes(), &mut key)
            .expect("BUG: 32 bytes is a valid HKDF-SHA256 output length");
        Self(Aes256Gcm::new_from_slice(&key).expect("BUG: AES-256 takes a 32-byte key"))
    }

    /// The nonce (fresh and random), then the ciphertext and its tag.
    pub fn seal(&self, material: &[u8]) -> Vec<u8> {
        let mut nonce = [0u8; NONCE_BYTES];
        rand::rng().fill_bytes(&mut nonce);
        let sealed = self.0.encrypt(&Nonce::from(nonce), material).expect("BUG: AES-GCM encrypts any short message");
        [nonce.as_slice(), &sealed].concat()
    }

    /// The material, or `None` when `sealed` was not made with this
    /// `jwt_secret` (or was altered).
    pub fn open(&self, sealed: &[u8]) -> Option<Vec<u8>> {
        let (nonce, ciphertext) = sealed.split_at_checked(NONCE_BYTES)?;
        let nonce: [u8; NONCE_BYTES] = nonce.try_into().ok()?;
        self.0.decrypt(&Nonce::from(nonce), ciphertext).ok()
    }
}

/// New random material for a key of `algorithm`: 64 bytes for HS256, an
/// Ed25519 seed of 32 for EdDSA.
pub fn new_material(algorithm: Algorithm) -> Vec<u8> {
    let mut material = vec![0u8; if algorithm == Algorithm::EdDSA { 32 } else { HS256_BYTES }];
    rand::rng().fill_bytes(&mut material);
    material
}

/// A new kid: random, URL-safe.
pub fn new_kid() -> String {
    use base64::Engine as _;
    let mut bytes = [0u8; KID_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// One key, opened.
pub struct Key {
    pub kid: String,
    pub algorithm: Algorithm,
    pub state: State,
    pub created_at: i64,
    pub activates_at: Option<i64>,
    pub activated_at: Option<i64>,
    pub retired_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub encoding: EncodingKey,
    pub decoding: DecodingKey,
    /// An Ed25519 key's public half (the JWK's `x`).
    pub public: Option<[u8; 32]>,
}

impl fmt::Debug for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Key").field("kid", &self.kid).field("algorithm", &self.algorithm).field("state", &self.state).finish_non_exhaustive()
    }
}

/// Why the keyring could not be opened.
#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    #[error(
        "jwt_secret does not open the keyring (key {0}): every instance of a site needs the jwt_secret the keyring was made with"
    )]
    WrongSecret(String),
    #[error("the keyring holds a key that cannot be used: {0}")]
    Unusable(String),
}

impl Key {
    /// When a retired or revoked key stopped signing or verifying.
    pub fn stopped_at(&self) -> Option<i64> {
        match self.state {
            State::Retired => self.retired_at,
            State::Revoked => self.revoked_at,
            State::Next | State::Active => None,
        }
    }

    /// Opens `row`'s material with `cipher`.
    pub fn open(row: &signing_key::Model, cipher: &KeyCipher) -> Result<Self, KeyringError> {
        let unusable = |why: &str| KeyringError::Unusable(format!("{}: {why}", row.kid));
        let algorithm = parse_algorithm(&row.algorithm).ok_or_else(|| unusable("unknown algorithm"))?;
        let state = State::parse(&row.state).ok_or_else(|| unusable("unknown state"))?;
        let material = cipher.open(&row.material).ok_or_else(|| KeyringError::WrongSecret(row.kid.clone()))?;
        let (encoding, decoding, public) = match algorithm {
            Algorithm::EdDSA => {
                let seed: [u8; 32] = material.as_slice().try_into().map_err(|_| unusable("an Ed25519 seed has 32 bytes"))?;
                let signing = ed25519_dalek::SigningKey::from_bytes(&seed);
                let der = signing.to_pkcs8_der().map_err(|_| unusable("the seed does not encode"))?;
                let public = signing.verifying_key().to_bytes();
                (EncodingKey::from_ed_der(der.as_bytes()), DecodingKey::from_ed_der(&public), Some(public))
            }
            _ => (EncodingKey::from_secret(&material), DecodingKey::from_secret(&material), None),
        };
        let at = |t: Option<sea_orm::prelude::TimeUnixTimestamp>| t.map(|t| t.0.unix_timestamp());
        Ok(Self {
            kid: row.kid.clone(),
            algorithm,
            state,
            created_at: row.created_at.0.unix_timestamp(),
            activates_at: at(row.activates_at),
            activated_at: at(row.activated_at),
            retired_at: at(row.retired_at),
            revoked_at: at(row.revoked_at),
            encoding,
            decoding,
            public,
        })
    }
}

/// Tokens without `kid`, signed with `jwt_secret` before the keyring: for
/// sessions that began before `sessions_before`, until `until`.
#[derive(Debug, Clone, Copy)]
pub struct Legacy {
    pub sessions_before: i64,
    pub until: i64,
}

/// Every key, as of the `keys` version read before them.
pub struct Keyring {
    pub version: i64,
    pub keys: HashMap<String, Arc<Key>>,
    pub legacy: Option<Legacy>,
    /// When its version was read: a row read wholly before this moment
    /// can say nothing newer.
    pub read_at: Instant,
}

impl fmt::Debug for Keyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Keyring").field("version", &self.version).field("keys", &self.keys.values().collect::<Vec<_>>()).finish()
    }
}

impl Keyring {
    /// The empty keyring of a process that has not read one yet: it signs
    /// and verifies nothing.
    pub fn empty() -> Self {
        Self { version: 0, keys: HashMap::new(), legacy: None, read_at: Instant::now() }
    }

    /// Opens every key of `rows`; `refresh_token_ttl` bounds the tokens
    /// from before the keyring.
    pub fn open(
        version: i64,
        read_at: Instant,
        ring: &keyring::Model,
        rows: &[signing_key::Model],
        cipher: &KeyCipher,
        refresh_token_ttl: i64,
    ) -> Result<Self, KeyringError> {
        let keys = rows.iter().map(|row| Ok((row.kid.clone(), Arc::new(Key::open(row, cipher)?)))).collect::<Result<_, KeyringError>>()?;
        let legacy = ring.legacy_sessions_before.map(|before| {
            let before = before.0.unix_timestamp();
            Legacy { sessions_before: before, until: before.saturating_add(refresh_token_ttl) }
        });
        Ok(Self { version, keys, legacy, read_at })
    }

    /// The key that signs now.
    pub fn active(&self) -> Option<&Arc<Key>> {
        self.keys.values().find(|key| key.state == State::Active)
    }

    /// The key waiting to sign, if any.
    pub fn next(&self) -> Option<&Arc<Key>> {
        self.keys.values().find(|key| key.state == State::Next)
    }

    /// Every key, oldest first.
    pub fn by_age(&self) -> Vec<&Arc<Key>> {
        let mut keys: Vec<_> = self.keys.values().collect();
        keys.sort_by_key(|key| (key.created_at, key.kid.clone()));
        keys
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(text: &str) -> JwtSecret {
        crate::config::tests_support::secret(text)
    }

    #[test]
    fn material_opens_only_with_the_secret_it_was_sealed_with_and_unaltered() {
        let cipher = KeyCipher::new(&secret("a secret of at least thirty-two bytes, for tests"));
        let material = new_material(Algorithm::HS256);
        let sealed = cipher.seal(&material);
        assert_eq!(sealed.len(), NONCE_BYTES + material.len() + 16, "nonce, ciphertext, tag");
        assert_ne!(&sealed[NONCE_BYTES..NONCE_BYTES + material.len()], material.as_slice(), "encrypted");
        assert_eq!(cipher.open(&sealed), Some(material.clone()));
        assert_ne!(cipher.seal(&material), sealed, "a fresh nonce each time");

        let other = KeyCipher::new(&secret("another secret of at least thirty-two bytes"));
        assert_eq!(other.open(&sealed), None, "another jwt_secret");
        let mut altered = sealed.clone();
        altered[NONCE_BYTES + 3] ^= 1;
        assert_eq!(cipher.open(&altered), None, "an altered ciphertext");
        assert_eq!(cipher.open(&sealed[..5]), None, "too short to hold a nonce");
    }

    #[test]
    fn the_encryption_key_is_hkdf_sha256_of_the_secret_as_spec_writes_it() {
        // An operator holding the database and jwt_secret can open a key
        // with standard tools: HKDF-SHA256 (no salt, the info), AES-256-GCM.
        let jwt_secret = secret("a secret of at least thirty-two bytes, for tests");
        let mut key = [0u8; 32];
        Hkdf::<Sha256>::new(None, jwt_secret.bytes()).expand(b"recipebox signing keys", &mut key).unwrap();
        let sealed = KeyCipher::new(&jwt_secret).seal(b"material");
        let by_hand = Aes256Gcm::new_from_slice(&key).unwrap();
        let nonce: [u8; 12] = sealed[..12].try_into().unwrap();
        assert_eq!(by_hand.decrypt(&Nonce::from(nonce), &sealed[12..]).unwrap(), b"material");
    }

    #[test]
    fn kids_are_random_and_url_safe() {
        let (a, b) = (new_kid(), new_kid());
        assert_ne!(a, b);
        assert!(a.len() >= 20 && a.bytes().all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_'), "{a}");
        assert_eq!(State::parse("retired"), Some(State::Retired));
        assert_eq!(State::parse("gone"), None);
    }
}
