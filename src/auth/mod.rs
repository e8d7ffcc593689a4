//! Authentication: tokens, passwords, sessions, and the request guards that
//! prove who is asking.
//!
//! Reading order: `jwt` (claims and the one pinned validation), `password`
//! (bcrypt off the async workers), `session` (issue, verify, rotate, revoke:
//! the only code that creates or accepts a token), `guard` (resolves the caller once per request), `csrf` (the
//! form data guard), `cookies`, `throttle` (failed password checks counted
//! per account and address).
//!
//! Invariant: no token text is ever logged or put in an error.

pub mod cookies;
pub mod csrf;
pub mod guard;
pub mod jwt;
pub mod password;
pub mod session;
pub mod throttle;

pub use guard::{AdminUser, ApiAdmin, ApiUser, BearerToken, ClientInfo, CurrentUser, FreshUser, MaybeApiUser, MaybeUser};
pub use session::{Authenticated, TokenPair};
