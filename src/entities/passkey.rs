use sea_orm::entity::prelude::*;

/// A user's passkey: a WebAuthn credential.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkeys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What `/me/security` names it by.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub user_id: i64,
    /// SHA-256 of the credential id: one credential, one account.
    #[sea_orm(unique)]
    pub credential_key: String,
    /// The credential as `webauthn-rs` keeps it (JSON).
    #[sea_orm(column_type = "Text")]
    pub credential: String,
    pub name: String,
    /// The last signature counter seen (0 where the authenticator keeps none).
    pub sign_count: i64,
    pub created_at: TimeUnixTimestamp,
    pub last_used_at: Option<TimeUnixTimestamp>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
