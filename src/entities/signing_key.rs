use sea_orm::entity::prelude::*;

/// A signing key of the keyring (migration 20). `material` is encrypted
/// (`crypto::keyring`): this row alone signs nothing.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "signing_keys")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub kid: String,
    /// `HS256` or `EdDSA`.
    pub algorithm: String,
    /// `next`, `active`, `retired` or `revoked`.
    pub state: String,
    pub material: Vec<u8>,
    pub created_at: TimeUnixTimestamp,
    pub activates_at: Option<TimeUnixTimestamp>,
    pub activated_at: Option<TimeUnixTimestamp>,
    pub retired_at: Option<TimeUnixTimestamp>,
    pub revoked_at: Option<TimeUnixTimestamp>,
}

impl ActiveModelBehavior for ActiveModel {}
