use sea_orm::entity::prelude::*;

/// A device (browser and system, `client::device::family`) an account has
/// logged in from. An empty `family` marks an account whose devices are
/// still to be read from its older sessions (migration 19).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "known_devices")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub family: String,
    pub first_seen_at: TimeUnixTimestamp,
}

impl ActiveModelBehavior for ActiveModel {}
