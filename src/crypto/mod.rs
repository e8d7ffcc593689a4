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
