use sea_orm::entity::prelude::*;

/// The server half of a passkey ceremony begun and not yet finished.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "passkey_ceremonies")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub token_hash: String,
    /// `register`, `second_step`, or `login_spent` (a passkey sign-in's
    /// sealed ceremony, spent: only its hash and expiry are kept).
    pub kind: String,
    pub user_id: Option<i64>,
    /// `webauthn-rs`'s ceremony state (JSON).
    #[sea_orm(column_type = "Text")]
    pub state: String,
    pub created_at: TimeUnixTimestamp,
    pub expires_at: TimeUnixTimestamp,
}

impl ActiveModelBehavior for ActiveModel {}
