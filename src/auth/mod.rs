//! Authentication: tokens, passwords, sessions, and the request guards that
//! prove who is asking.
//!
//! Reading order: `session` (issue, verify, rotate, revoke: the only code
//! that creates or accepts a token, with the keys and the hasher of
//! `crate::crypto`), `guard` (resolves the caller once per request), `csrf`
//! (the form data guard), `cookies`, `throttle` (failed password checks
//! counted per account and address). Who the client is (`ClientInfo`)
//! lives below, in `crate::client`, since the audit trail records it too.
//!
//! Invariant: no token text is ever logged or put in an error.

pub mod cookies;
pub mod csrf;
pub mod guard;
pub mod session;
pub mod throttle;

pub use crate::client::ClientInfo;
pub use guard::{AccountReader, AdminUser, ApiAdmin, ApiCaller, ApiUser, BearerToken, CurrentUser, FreshAdmin, FreshUser, MaybeApiCaller, MaybeUser, RecipeWriter};
pub use session::{Authenticated, TokenPair};
