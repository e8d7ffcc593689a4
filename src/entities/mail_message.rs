use sea_orm::entity::prelude::*;

/// A message in the outbox (migration 16), until it is delivered or fails.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "mail_outbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub recipient: String,
    pub subject: String,
    /// Deleted once the message is sent or has failed: it may hold a link.
    pub body: Option<String>,
    /// `queued`, `sent` or `failed`.
    pub status: String,
    pub attempts: i32,
    pub created_at: TimeUnixTimestamp,
    pub next_attempt_at: TimeUnixTimestamp,
    /// The claim of the deliverer sending it now, until `lease_until`.
    pub lease_owner: Option<String>,
    pub lease_until: Option<TimeUnixTimestamp>,
    pub sent_at: Option<TimeUnixTimestamp>,
    /// What the last failed try said (never a body or a link).
    pub last_error: Option<String>,
    pub last_error_at: Option<TimeUnixTimestamp>,
}

impl ActiveModelBehavior for ActiveModel {}
