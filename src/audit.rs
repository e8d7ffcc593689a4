//! The audit trail (SPEC.md §2, §6): who did what to which account, from
//! where. Written by the account actions in `accounts`, read by `/me` and the
//! admin pages.
//!
//! Invariant: an event holds no token, password or hash. The free-form part,
//! [`Detail`], is a closed set of shapes with no field that could carry one.
//! Writing an event never fails the action it records: a failed insert is
//! logged (without the event's detail) and the request goes on.

use serde::Serialize;
use uuid::Uuid;

use crate::app::App;
use crate::client::ClientInfo;
use crate::domain::{AuditKind, Role};
use crate::store;

/// The small detail object of an event.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Detail {
    None,
    RoleChanged { from: Role, to: Role },
    /// How many sessions an action ended.
    SessionsEnded { sessions: u64 },
    /// The deleted account, so the trail still says whom it was about.
    Deleted { username: String, email: String },
    /// Why a login failed (never what was typed).
    LoginFailed { reason: &'static str },
    /// How a login passed its second step (`totp`, `recovery_code`,
    /// `remembered_browser`).
    SecondStep { second_step: &'static str },
    /// Recovery codes left after one was used.
    CodesLeft { codes_left: u64 },
    /// A signing key, and why it changed (`operator`, `timer`, `first key`,
    /// `algorithm`, `replaces a revoked key`).
    Key { kid: String, by: &'static str },
    /// A session ended by the account's session limit (SPEC §3).
    SessionLimit { sessions_per_account: u64 },
    /// A personal access token made or revoked: which, and its scopes.
    Token { token: Uuid, token_name: String, scopes: String },
    /// Every token of the account revoked at once (`by`: `owner`,
    /// `password_reset`, `two_factor_reset`).
    TokensRevoked { tokens: u64, by: &'static str },
    /// A recipe a token wrote or deleted.
    Recipe { recipe: i64 },
    /// A login, or a link made or removed, through an OpenID Connect
    /// provider (its key), and the second step the login passed after it.
    Provider {
        provider: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        second_step: Option<&'static str>,
    },
}

/// The personal access token that made a write (SPEC §6: the event names
/// it), merged into the event's detail.
#[derive(Debug, Clone, Serialize)]
pub struct ByToken {
    pub token: Uuid,
    pub token_name: String,
}

impl Detail {
    fn to_json(&self, by_token: Option<&ByToken>) -> String {
        let mut value = match self {
            Detail::None => serde_json::Value::Object(serde_json::Map::new()),
            other => serde_json::to_value(other).unwrap_or_else(|_| serde_json::Value::Object(serde_json::Map::new())),
        };
        if let (Some(by_token), Some(object)) = (by_token, value.as_object_mut()) {
            object.insert("token".into(), by_token.token.to_string().into());
            object.insert("token_name".into(), by_token.token_name.clone().into());
        }
        value.to_string()
    }
}

/// One event, built where it happens.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: AuditKind,
    pub actor: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub detail: Detail,
    /// The personal access token that made it, if one did.
    pub by_token: Option<ByToken>,
}

impl Event {
    /// Something `user` did to their own account.
    pub fn own(kind: AuditKind, user: Uuid) -> Self {
        Self { kind, actor: Some(user), subject: Some(user), detail: Detail::None, by_token: None }
    }

    /// Something `actor` (an admin) did to `subject`'s account.
    pub fn admin(kind: AuditKind, actor: Uuid, subject: Uuid) -> Self {
        Self { kind, actor: Some(actor), subject: Some(subject), detail: Detail::None, by_token: None }
    }

    /// Something that happened to `subject`'s account, by nobody known.
    pub fn about(kind: AuditKind, subject: Option<Uuid>) -> Self {
        Self { kind, actor: None, subject, detail: Detail::None, by_token: None }
    }

    pub fn with(mut self, detail: Detail) -> Self {
        self.detail = detail;
        self
    }

    /// Names the personal access token that made it, when one did.
    pub fn by_token(mut self, token: Option<ByToken>) -> Self {
        self.by_token = token;
        self
    }
}

/// Appends `event`, seen from `client`. Never fails the caller. The
/// subject's newest events are on their `/me`, which every instance is told
/// to read again.
pub async fn record(app: &App, client: &ClientInfo, event: Event) {
    record_to(&app.db, client, event).await;
}

/// [`record`] on `db`, for what runs outside a request (the keyring's task).
pub async fn record_to(db: &sea_orm::DatabaseConnection, client: &ClientInfo, event: Event) {
    let kind = event.kind;
    let row = store::audit::NewEvent {
        kind,
        actor: event.actor,
        subject: event.subject,
        ip_address: client.ip.clone(),
        user_agent: client.user_agent.clone(),
        detail: event.detail.to_json(event.by_token.as_ref()),
    };
    if let Err(e) = store::audit::insert(db, row).await {
        tracing::warn!(kind = kind.as_str(), error = %e, "could not write an audit event");
    }
}

/// An event's detail in words, for pages; `None` when there is nothing to add.
pub fn describe(kind: AuditKind, detail: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(detail).ok()?;
    let what = describe_value(kind, &value);
    let token = value.get("token_name").and_then(serde_json::Value::as_str).filter(|_| kind != AuditKind::TokenCreated && kind != AuditKind::TokenRevoked);
    match (what, token) {
        (Some(what), Some(token)) => Some(format!("{what}, with the token \u{201c}{token}\u{201d}")),
        (None, Some(token)) => Some(format!("with the token \u{201c}{token}\u{201d}")),
        (what, None) => what,
    }
}

fn describe_value(kind: AuditKind, value: &serde_json::Value) -> Option<String> {
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    match kind {
        AuditKind::TokenCreated | AuditKind::TokenRevoked if value.get("tokens").is_some() => {
            let tokens = value["tokens"].as_u64()?;
            Some(format!("{tokens} token{} revoked", if tokens == 1 { "" } else { "s" }))
        }
        AuditKind::TokenCreated => Some(format!("\u{201c}{}\u{201d} ({})", text("token_name")?, text("scopes")?)),
        AuditKind::TokenRevoked => Some(format!("\u{201c}{}\u{201d}", text("token_name")?)),
        AuditKind::RecipeCreated | AuditKind::RecipeUpdated | AuditKind::RecipeDeleted => Some(format!("recipe {}", value.get("recipe")?.as_i64()?)),
        AuditKind::RoleChanged => Some(format!("from {} to {}", text("from")?, text("to")?)),
        AuditKind::UserDeleted => Some(format!("{} ({})", text("username")?, text("email")?)),
        AuditKind::SessionEnded if value.get("sessions_per_account").is_some() => {
            Some(format!("ended for a new login: the limit of {} live sessions", value["sessions_per_account"].as_u64()?))
        }
        AuditKind::KeyRotated | AuditKind::KeyRevoked => Some(format!("key {} ({})", text("kid")?, text("by")?)),
        AuditKind::LoginFailed => Some(
            match text("reason")? {
                "unknown_email" => "no account with that email",
                "wrong_password" => "wrong password",
                "wrong_current_password" => "wrong current password, changing the password",
                "disabled" => "account disabled",
                other => other,
            }
            .to_owned(),
        ),
        _ => {
            let sessions = value.get("sessions")?.as_u64()?;
            Some(format!("{sessions} session{} ended", if sessions == 1 { "" } else { "s" }))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_serialise_as_small_objects_and_read_back_in_words() {
        let role = Detail::RoleChanged { from: Role::User, to: Role::Admin }.to_json(None);
        assert_eq!(role, r#"{"from":"user","to":"admin"}"#);
        assert_eq!(describe(AuditKind::RoleChanged, &role).as_deref(), Some("from user to admin"));
        assert_eq!(Detail::None.to_json(None), "{}");
        assert_eq!(describe(AuditKind::Login, "{}"), None);
        let ended = Detail::SessionsEnded { sessions: 3 }.to_json(None);
        assert_eq!(describe(AuditKind::ForcedLogout, &ended).as_deref(), Some("3 sessions ended"));
        let failed = Detail::LoginFailed { reason: "wrong_password" }.to_json(None);
        assert_eq!(describe(AuditKind::LoginFailed, &failed).as_deref(), Some("wrong password"));
        assert_eq!(describe(AuditKind::Login, "not json"), None);
    }

    #[test]
    fn a_write_made_with_a_token_names_it() {
        let by_token = ByToken { token: Uuid::nil(), token_name: "backup script".into() };
        let json = Detail::Recipe { recipe: 7 }.to_json(Some(&by_token));
        let value: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(value["token"], Uuid::nil().to_string());
        assert_eq!(value["token_name"], "backup script");
        assert_eq!(describe(AuditKind::RecipeCreated, &json).as_deref(), Some("recipe 7, with the token \u{201c}backup script\u{201d}"));
        let role = Detail::RoleChanged { from: Role::Admin, to: Role::User }.to_json(Some(&by_token));
        assert_eq!(describe(AuditKind::RoleChanged, &role).as_deref(), Some("from admin to user, with the token \u{201c}backup script\u{201d}"));
        let revoked = Detail::TokensRevoked { tokens: 2, by: "password_reset" }.to_json(None);
        assert_eq!(describe(AuditKind::TokenRevoked, &revoked).as_deref(), Some("2 tokens revoked"));
    }
}
