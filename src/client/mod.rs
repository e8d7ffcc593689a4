//! Who is asking, as far as the request tells: the client's address (as
//! Rocket determines it, see `ip_header` in docs/operations.md) and its user agent.
//! Below `auth` and `audit`, which both record it. [`device`] names the
//! device behind a user agent.

pub mod device;

use rocket::request::{FromRequest, Outcome, Request};

/// What the audit trail and a new session record about the client.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    /// The operator at the command line (`recipebox user disable …`).
    pub fn command_line() -> Self {
        ClientInfo { ip: None, user_agent: Some("recipebox command line".into()) }
    }

    pub fn of(req: &Request<'_>) -> Self {
        ClientInfo { ip: req.client_ip().map(|ip| ip.to_string()), user_agent: req.headers().get_one("User-Agent").map(str::to_owned) }
    }
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ClientInfo {
    type Error = std::convert::Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Self::Error> {
        Outcome::Success(ClientInfo::of(req))
    }
}
