use sea_orm::entity::prelude::*;

use crate::domain::AuditKind;

/// One security event. Users are named by `public_id`, not by a foreign key,
/// so the trail outlives a deleted account. `detail` is JSON text written
/// from `audit::Detail` only, which has no field that could hold a secret.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "audit_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub created_at: TimeUnixTimestamp,
    pub kind: AuditKind,
    pub actor_public_id: Option<Uuid>,
    pub subject_public_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

impl ActiveModelBehavior for ActiveModel {}
