//! SeaORM entities: the schema as Rust sees it, and nothing more.
//!
//! These types never leave the store layer as a client-visible shape: pages
//! and the API render `views::*` structs, so a password hash or an internal id
//! cannot be serialised by accident (none of these derive `Serialize`).
//! Instants are `TimeUnixTimestamp`: whole Unix seconds in a `BIGINT` column.

pub mod access_token;
pub mod audit_event;
pub mod email_token;
pub mod keyring;
pub mod known_device;
pub mod linked_identity;
pub mod login_failure;
pub mod login_ticket;
pub mod mail_message;
pub mod passkey;
pub mod passkey_ceremony;
pub mod recipe;
pub mod recovery_code;
pub mod remembered_browser;
pub mod revoked_token;
pub mod session;
pub mod signing_key;
pub mod totp_secret;
pub mod user;
