//! Queries on `audit_events`: append, list, purge.

use sea_orm::prelude::*;
use sea_orm::sea_query::{Alias, Expr};
use sea_orm::{ActiveValue::Set, Condition, FromQueryResult, JoinType, QueryOrder, QuerySelect};

use super::{now_ts, ts, Page};
use crate::domain::AuditKind;
use crate::entities::{audit_event, user};

/// Longest user agent kept; the column is `VARCHAR(255)`.
const USER_AGENT_MAX: usize = 255;

/// An event to append; `detail` is JSON text made by `audit::Detail`.
pub struct NewEvent {
    pub kind: AuditKind,
    pub actor: Option<Uuid>,
    pub subject: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
}

pub async fn insert<C: ConnectionTrait>(db: &C, event: NewEvent) -> Result<(), DbErr> {
    audit_event::ActiveModel {
        created_at: Set(now_ts()),
        kind: Set(event.kind),
        actor_public_id: Set(event.actor),
        subject_public_id: Set(event.subject),
        ip_address: Set(event.ip_address),
        user_agent: Set(event.user_agent.map(|ua| ua.chars().take(USER_AGENT_MAX).collect())),
        detail: Set(event.detail),
        ..Default::default()
    }
    .insert(db)
    .await
    .map(drop)
}

/// An event with the current usernames of its actor and subject (`None`
/// once an account is deleted).
#[derive(Debug, Clone, FromQueryResult)]
pub struct EventRow {
    pub id: i64,
    pub created_at: TimeUnixTimestamp,
    pub kind: AuditKind,
    pub actor_public_id: Option<Uuid>,
    pub subject_public_id: Option<Uuid>,
    pub ip_address: Option<String>,
    pub user_agent: Option<String>,
    pub detail: String,
    pub actor_username: Option<String>,
    pub subject_username: Option<String>,
}

/// Which events to list.
#[derive(Debug, Clone, Copy, Default)]
pub struct EventFilter {
    pub kind: Option<AuditKind>,
    /// Events about this user.
    pub subject: Option<Uuid>,
}

impl EventFilter {
    fn condition(&self) -> Condition {
        let mut condition = Condition::all();
        if let Some(kind) = self.kind {
            condition = condition.add(audit_event::Column::Kind.eq(kind));
        }
        if let Some(subject) = self.subject {
            condition = condition.add(audit_event::Column::SubjectPublicId.eq(subject));
        }
        condition
    }
}

pub async fn list<C: ConnectionTrait>(
    db: &C,
    filter: EventFilter,
    page: u64,
    per_page: u64,
) -> Result<Page<EventRow>, DbErr> {
    let total = audit_event::Entity::find().filter(filter.condition()).count(db).await?;
    let items = rows(db, &filter, page.saturating_sub(1).saturating_mul(per_page), per_page).await?;
    Ok(Page { items, page, per_page, total })
}

/// The newest `limit` events matching `filter`, without counting them all.
pub async fn newest<C: ConnectionTrait>(db: &C, filter: EventFilter, limit: u64) -> Result<Vec<EventRow>, DbErr> {
    rows(db, &filter, 0, limit).await
}

async fn rows<C: ConnectionTrait>(db: &C, filter: &EventFilter, offset: u64, limit: u64) -> Result<Vec<EventRow>, DbErr> {
    let (actor, subject) = (Alias::new("actor"), Alias::new("subject"));
    audit_event::Entity::find()
        .filter(filter.condition())
        .join_as(
            JoinType::LeftJoin,
            audit_event::Entity::belongs_to(user::Entity)
                .from(audit_event::Column::ActorPublicId)
                .to(user::Column::PublicId)
                .into(),
            actor.clone(),
        )
        .join_as(
            JoinType::LeftJoin,
            audit_event::Entity::belongs_to(user::Entity)
                .from(audit_event::Column::SubjectPublicId)
                .to(user::Column::PublicId)
                .into(),
            subject.clone(),
        )
        .column_as(Expr::col((actor, user::Column::Username)), "actor_username")
        .column_as(Expr::col((subject, user::Column::Username)), "subject_username")
        .order_by_desc(audit_event::Column::CreatedAt)
        .order_by_desc(audit_event::Column::Id)
        .offset(offset)
        .limit(limit)
        .into_model::<EventRow>()
        .all(db)
        .await
}

/// Deletes events older than `days` days.
pub async fn purge_older_than<C: ConnectionTrait>(db: &C, days: u32) -> Result<u64, DbErr> {
    let cutoff = now_ts().0.unix_timestamp() - i64::from(days) * 86_400;
    let old = sea_orm::Condition::all().add(audit_event::Column::CreatedAt.lt(ts(cutoff)));
    super::delete_in_batches::<audit_event::Entity, _>(db, audit_event::Column::Id, old).await
}
