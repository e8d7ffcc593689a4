use sea_orm::entity::prelude::*;

/// One failed password check, counted per `scope` and `key` over the login
/// window: `account` (a hash of the email typed, never the email itself)
/// or `address` (the client address).
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "login_failures")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub scope: String,
    pub key: String,
    pub created_at: TimeUnixTimestamp,
}

impl ActiveModelBehavior for ActiveModel {}
