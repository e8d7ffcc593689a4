use std::str::FromStr;

use sea_orm::entity::prelude::*;
use serde::Serialize;

use super::Invalid;

/// What happened, as stored in `audit_events.kind`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(32))")]
#[serde(rename_all = "snake_case")]
pub enum AuditKind {
    #[sea_orm(string_value = "signup")]
    Signup,
    #[sea_orm(string_value = "login")]
    Login,
    #[sea_orm(string_value = "login_failed")]
    LoginFailed,
    #[sea_orm(string_value = "logout")]
    Logout,
    #[sea_orm(string_value = "logout_everywhere")]
    LogoutEverywhere,
    #[sea_orm(string_value = "session_ended")]
    SessionEnded,
    #[sea_orm(string_value = "refresh_reuse_detected")]
    RefreshReuseDetected,
    #[sea_orm(string_value = "password_changed")]
    PasswordChanged,
    #[sea_orm(string_value = "role_changed")]
    RoleChanged,
    #[sea_orm(string_value = "user_disabled")]
    UserDisabled,
    #[sea_orm(string_value = "user_enabled")]
    UserEnabled,
    #[sea_orm(string_value = "forced_logout")]
    ForcedLogout,
    #[sea_orm(string_value = "user_deleted")]
    UserDeleted,
    /// The user deleted their own account (an admin's delete is `UserDeleted`).
    #[sea_orm(string_value = "account_deleted")]
    AccountDeleted,
}

impl AuditKind {
    pub const ALL: [AuditKind; 14] = [
        AuditKind::Signup,
        AuditKind::Login,
        AuditKind::LoginFailed,
        AuditKind::Logout,
        AuditKind::LogoutEverywhere,
        AuditKind::SessionEnded,
        AuditKind::RefreshReuseDetected,
        AuditKind::PasswordChanged,
        AuditKind::RoleChanged,
        AuditKind::UserDisabled,
        AuditKind::UserEnabled,
        AuditKind::ForcedLogout,
        AuditKind::UserDeleted,
        AuditKind::AccountDeleted,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuditKind::Signup => "signup",
            AuditKind::Login => "login",
            AuditKind::LoginFailed => "login_failed",
            AuditKind::Logout => "logout",
            AuditKind::LogoutEverywhere => "logout_everywhere",
            AuditKind::SessionEnded => "session_ended",
            AuditKind::RefreshReuseDetected => "refresh_reuse_detected",
            AuditKind::PasswordChanged => "password_changed",
            AuditKind::RoleChanged => "role_changed",
            AuditKind::UserDisabled => "user_disabled",
            AuditKind::UserEnabled => "user_enabled",
            AuditKind::ForcedLogout => "forced_logout",
            AuditKind::UserDeleted => "user_deleted",
            AuditKind::AccountDeleted => "account_deleted",
        }
    }

    /// In words, for pages.
    pub fn label(self) -> &'static str {
        match self {
            AuditKind::Signup => "Account created",
            AuditKind::Login => "Logged in",
            AuditKind::LoginFailed => "Failed login",
            AuditKind::Logout => "Logged out",
            AuditKind::LogoutEverywhere => "Logged out everywhere",
            AuditKind::SessionEnded => "Session ended",
            AuditKind::RefreshReuseDetected => "Stolen token suspected: session ended",
            AuditKind::PasswordChanged => "Password changed",
            AuditKind::RoleChanged => "Role changed",
            AuditKind::UserDisabled => "Account disabled",
            AuditKind::UserEnabled => "Account enabled",
            AuditKind::ForcedLogout => "Logged out by an admin",
            AuditKind::UserDeleted => "Account deleted",
            AuditKind::AccountDeleted => "Account deleted by its owner",
        }
    }
}

impl FromStr for AuditKind {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        AuditKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == raw)
            .ok_or_else(|| Invalid::new("Unknown kind of event."))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_name() {
        for kind in AuditKind::ALL {
            assert_eq!(kind.as_str().parse::<AuditKind>(), Ok(kind), "case {kind:?}");
            assert!(!kind.label().is_empty());
        }
        assert!("login; DROP TABLE".parse::<AuditKind>().is_err());
    }
}
