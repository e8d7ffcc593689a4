//! The cryptography the application holds in its state: the signing keys
//! (`keyring`) and the pinned verification of tokens (`jwt`), bcrypt off
//! the async workers (`password`), and state handed to a browser and taken
//! back signed (`sealed`). Plain parts, below the state (`app`) and the
//! features that use them.

pub mod jwt;
pub mod keyring;
pub mod passkeys;
pub mod password;
pub mod sealed;
pub mod totp;

/// 32 random bytes, URL-safe: CSRF values, link and ticket tokens, the seed
/// of a sign-in through a provider.
pub fn random_token() -> String {
    use base64::Engine as _;
    use rand::RngCore as _;
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}
