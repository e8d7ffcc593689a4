use sea_orm::entity::prelude::*;

/// The keyring's one row (migration 20): when it was made, and until when
/// tokens from before it (without `kid`) may be accepted.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "keyring")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub created_at: TimeUnixTimestamp,
    /// Set when sessions existed as the keyring was made: sessions that
    /// began before this may present tokens without `kid`.
    pub legacy_sessions_before: Option<TimeUnixTimestamp>,
    pub changed_at: TimeUnixTimestamp,
}

impl ActiveModelBehavior for ActiveModel {}
