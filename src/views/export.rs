//! A copy of everything the site holds about one person (SPEC.md §4
//! `/me/export`): one JSON document a person can read and another site
//! can import. Never a secret, a hash or an internal id: each part is
//! built field by field from the rows, so a column added later stays out
//! until it is named here.

use serde::Serialize;
use uuid::Uuid;

use super::rfc3339;
use crate::domain::{AuditKind, Role, Visibility};
use crate::entities::{access_token, linked_identity, passkey, recipe, session, user};
use crate::store::audit::EventRow;
use sea_orm::prelude::TimeUnixTimestamp;

/// What the document says it is, for an importer.
pub const FORMAT: &str = "recipebox-export/1";

fn at(value: TimeUnixTimestamp) -> String {
    rfc3339(value.0)
}

fn at_opt(value: Option<TimeUnixTimestamp>) -> Option<String> {
    value.map(at)
}

#[derive(Debug, Serialize)]
pub struct Export {
    pub format: &'static str,
    pub exported_at: String,
    pub profile: Profile,
    pub recipes: Vec<Recipe>,
    pub sessions: Vec<Session>,
    /// Providers linked for signing in.
    pub linked_identities: Vec<LinkedIdentity>,
    pub passkeys: Vec<Passkey>,
    pub access_tokens: Vec<AccessToken>,
    pub security_events: Vec<SecurityEvent>,
}

#[derive(Debug, Serialize)]
pub struct Profile {
    pub public_id: Uuid,
    pub email: String,
    pub email_verified_at: Option<String>,
    pub username: String,
    pub role: Role,
    pub created_at: String,
    pub last_login_at: Option<String>,
    pub two_factor: bool,
}

impl Profile {
    pub fn new(user: &user::Model, two_factor: bool) -> Self {
        Self {
            public_id: user.public_id,
            email: user.email.clone(),
            email_verified_at: at_opt(user.email_verified_at),
            username: user.username.clone(),
            role: user.role,
            created_at: at(user.created_at),
            last_login_at: at_opt(user.last_login_at),
            two_factor,
        }
    }
}

/// A person at a provider linked to the account.
#[derive(Debug, Serialize)]
pub struct LinkedIdentity {
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub linked_at: String,
    pub last_used_at: Option<String>,
}

impl From<linked_identity::Model> for LinkedIdentity {
    fn from(row: linked_identity::Model) -> Self {
        Self {
            provider: row.provider,
            issuer: row.issuer,
            subject: row.subject,
            email: row.email,
            linked_at: at(row.linked_at),
            last_used_at: at_opt(row.last_used_at),
        }
    }
}

/// A recipe with every field a person wrote, as `POST /api/v1/recipes`
/// takes it back.
#[derive(Debug, Serialize)]
pub struct Recipe {
    pub name: String,
    pub description: String,
    pub cook_time: i32,
    pub directions: String,
    pub visibility: Visibility,
    pub created_at: String,
    pub updated_at: String,
}

impl From<recipe::Model> for Recipe {
    fn from(row: recipe::Model) -> Self {
        Self {
            name: row.name,
            description: row.description,
            cook_time: row.cook_time,
            directions: row.directions,
            visibility: row.visibility,
            created_at: at(row.created_at),
            updated_at: at(row.updated_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Session {
    pub device: String,
    pub user_agent: Option<String>,
    pub ip_address: Option<String>,
    pub created_at: String,
    pub last_used_at: String,
    pub expires_at: String,
}

impl From<session::Model> for Session {
    fn from(row: session::Model) -> Self {
        Self {
            device: crate::client::device::describe(row.user_agent.as_deref()),
            user_agent: row.user_agent,
            ip_address: row.ip_address,
            created_at: at(row.created_at),
            last_used_at: at(row.last_used_at),
            expires_at: at(row.expires_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct Passkey {
    pub name: String,
    pub created_at: String,
    pub last_used_at: Option<String>,
}

impl From<passkey::Model> for Passkey {
    fn from(row: passkey::Model) -> Self {
        Self { name: row.name, created_at: at(row.created_at), last_used_at: at_opt(row.last_used_at) }
    }
}

/// A token as its owner's list shows it: never its text nor its hash.
#[derive(Debug, Serialize)]
pub struct AccessToken {
    pub id: Uuid,
    pub name: String,
    pub scopes: Vec<String>,
    pub created_at: String,
    pub expires_at: String,
    pub last_used_at: Option<String>,
    pub last_used_ip: Option<String>,
    pub revoked_at: Option<String>,
}

impl From<access_token::Model> for AccessToken {
    fn from(row: access_token::Model) -> Self {
        Self {
            id: row.public_id,
            name: row.name,
            scopes: row.scopes.split(' ').filter(|s| !s.is_empty()).map(str::to_owned).collect(),
            created_at: at(row.created_at),
            expires_at: at(row.expires_at),
            last_used_at: at_opt(row.last_used_at),
            last_used_ip: row.last_used_ip,
            revoked_at: at_opt(row.revoked_at),
        }
    }
}

#[derive(Debug, Serialize)]
pub struct SecurityEvent {
    pub kind: AuditKind,
    pub what: &'static str,
    pub at: String,
    /// Who did it, when it was someone else (an admin).
    pub by: Option<String>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: serde_json::Value,
}

impl From<EventRow> for SecurityEvent {
    fn from(row: EventRow) -> Self {
        let by = (row.actor_public_id != row.subject_public_id).then_some(row.actor_username).flatten();
        Self {
            kind: row.kind,
            what: row.kind.label(),
            at: at(row.created_at),
            by,
            ip_address: row.ip_address,
            user_agent: row.user_agent,
            detail: serde_json::from_str(&row.detail).unwrap_or(serde_json::Value::Null),
        }
    }
}
