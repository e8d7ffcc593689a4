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
    #[sea_orm(string_value = "two_factor_enabled")]
    TwoFactorEnabled,
    #[sea_orm(string_value = "two_factor_disabled")]
    TwoFactorDisabled,
    #[sea_orm(string_value = "recovery_codes_renewed")]
    RecoveryCodesRenewed,
    #[sea_orm(string_value = "recovery_code_used")]
    RecoveryCodeUsed,
    #[sea_orm(string_value = "two_factor_reset")]
    TwoFactorReset,
    #[sea_orm(string_value = "browser_forgotten")]
    BrowserForgotten,
    #[sea_orm(string_value = "passkey_added")]
    PasskeyAdded,
    #[sea_orm(string_value = "passkey_removed")]
    PasskeyRemoved,
    #[sea_orm(string_value = "passkey_clone_suspected")]
    PasskeyCloneSuspected,
    /// A new signing key: made `next` (or `active` at once), by the
    /// operator or the rotation timer.
    #[sea_orm(string_value = "key_rotated")]
    KeyRotated,
    #[sea_orm(string_value = "key_revoked")]
    KeyRevoked,
    #[sea_orm(string_value = "token_created")]
    TokenCreated,
    /// One token revoked (by its owner or an admin), or every token of
    /// the account (the detail counts them).
    #[sea_orm(string_value = "token_revoked")]
    TokenRevoked,
    /// Recipe writes are recorded when a personal access token made them,
    /// naming the token: what a script did, should its token leak.
    #[sea_orm(string_value = "recipe_created")]
    RecipeCreated,
    #[sea_orm(string_value = "recipe_updated")]
    RecipeUpdated,
    #[sea_orm(string_value = "recipe_deleted")]
    RecipeDeleted,
    /// A person at an OpenID Connect provider linked to the account (the
    /// detail names the provider).
    #[sea_orm(string_value = "identity_linked")]
    IdentityLinked,
    #[sea_orm(string_value = "identity_unlinked")]
    IdentityUnlinked,
}

impl AuditKind {
    pub const ALL: [AuditKind; 32] = [
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
        AuditKind::TwoFactorEnabled,
        AuditKind::TwoFactorDisabled,
        AuditKind::RecoveryCodesRenewed,
        AuditKind::RecoveryCodeUsed,
        AuditKind::TwoFactorReset,
        AuditKind::BrowserForgotten,
        AuditKind::PasskeyAdded,
        AuditKind::PasskeyRemoved,
        AuditKind::PasskeyCloneSuspected,
        AuditKind::KeyRotated,
        AuditKind::KeyRevoked,
        AuditKind::TokenCreated,
        AuditKind::TokenRevoked,
        AuditKind::RecipeCreated,
        AuditKind::RecipeUpdated,
        AuditKind::RecipeDeleted,
        AuditKind::IdentityLinked,
        AuditKind::IdentityUnlinked,
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
            AuditKind::TwoFactorEnabled => "two_factor_enabled",
            AuditKind::TwoFactorDisabled => "two_factor_disabled",
            AuditKind::RecoveryCodesRenewed => "recovery_codes_renewed",
            AuditKind::RecoveryCodeUsed => "recovery_code_used",
            AuditKind::TwoFactorReset => "two_factor_reset",
            AuditKind::BrowserForgotten => "browser_forgotten",
            AuditKind::PasskeyAdded => "passkey_added",
            AuditKind::PasskeyRemoved => "passkey_removed",
            AuditKind::PasskeyCloneSuspected => "passkey_clone_suspected",
            AuditKind::KeyRotated => "key_rotated",
            AuditKind::KeyRevoked => "key_revoked",
            AuditKind::TokenCreated => "token_created",
            AuditKind::TokenRevoked => "token_revoked",
            AuditKind::RecipeCreated => "recipe_created",
            AuditKind::RecipeUpdated => "recipe_updated",
            AuditKind::RecipeDeleted => "recipe_deleted",
            AuditKind::IdentityLinked => "identity_linked",
            AuditKind::IdentityUnlinked => "identity_unlinked",
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
            AuditKind::TwoFactorEnabled => "Two-step login turned on",
            AuditKind::TwoFactorDisabled => "Two-step login turned off",
            AuditKind::RecoveryCodesRenewed => "New recovery codes",
            AuditKind::RecoveryCodeUsed => "Recovery code used",
            AuditKind::TwoFactorReset => "Second factors reset by an admin",
            AuditKind::BrowserForgotten => "Remembered browser forgotten",
            AuditKind::PasskeyAdded => "Passkey added",
            AuditKind::PasskeyRemoved => "Passkey removed",
            AuditKind::PasskeyCloneSuspected => "Copied passkey suspected: sign-in refused",
            AuditKind::KeyRotated => "Signing key rotated",
            AuditKind::KeyRevoked => "Signing key revoked",
            AuditKind::TokenCreated => "Access token created",
            AuditKind::TokenRevoked => "Access token revoked",
            AuditKind::RecipeCreated => "Recipe written",
            AuditKind::RecipeUpdated => "Recipe edited",
            AuditKind::RecipeDeleted => "Recipe deleted",
            AuditKind::IdentityLinked => "Sign-in provider linked",
            AuditKind::IdentityUnlinked => "Sign-in provider unlinked",
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
