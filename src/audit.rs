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
}

impl Detail {
    fn to_json(&self) -> String {
        match self {
            Detail::None => "{}".to_owned(),
            other => serde_json::to_string(other).unwrap_or_else(|_| "{}".to_owned()),
        }
    }
}

/// One event, built where it happens.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: AuditKind,
    pub actor: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub detail: Detail,
}

impl Event {
    /// Something `user` did to their own account.
    pub fn own(kind: AuditKind, user: Uuid) -> Self {
        Self { kind, actor: Some(user), subject: Some(user), detail: Detail::None }
    }

    /// Something `actor` (an admin) did to `subject`'s account.
    pub fn admin(kind: AuditKind, actor: Uuid, subject: Uuid) -> Self {
        Self { kind, actor: Some(actor), subject: Some(subject), detail: Detail::None }
    }

    /// Something that happened to `subject`'s account, by nobody known.
    pub fn about(kind: AuditKind, subject: Option<Uuid>) -> Self {
        Self { kind, actor: None, subject, detail: Detail::None }
    }

    pub fn with(mut self, detail: Detail) -> Self {
        self.detail = detail;
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
        detail: event.detail.to_json(),
    };
    if let Err(e) = store::audit::insert(db, row).await {
        tracing::warn!(kind = kind.as_str(), error = %e, "could not write an audit event");
    }
}

/// An event's detail in words, for pages; `None` when there is nothing to add.
pub fn describe(kind: AuditKind, detail: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(detail).ok()?;
    let text = |key: &str| value.get(key).and_then(serde_json::Value::as_str);
    match kind {
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
        let role = Detail::RoleChanged { from: Role::User, to: Role::Admin }.to_json();
        assert_eq!(role, r#"{"from":"user","to":"admin"}"#);
        assert_eq!(describe(AuditKind::RoleChanged, &role).as_deref(), Some("from user to admin"));
        assert_eq!(Detail::None.to_json(), "{}");
        assert_eq!(describe(AuditKind::Login, "{}"), None);
        let ended = Detail::SessionsEnded { sessions: 3 }.to_json();
        assert_eq!(describe(AuditKind::ForcedLogout, &ended).as_deref(), Some("3 sessions ended"));
        let failed = Detail::LoginFailed { reason: "wrong_password" }.to_json();
        assert_eq!(describe(AuditKind::LoginFailed, &failed).as_deref(), Some("wrong password"));
        assert_eq!(describe(AuditKind::Login, "not json"), None);
    }
}
