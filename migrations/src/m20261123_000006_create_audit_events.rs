use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `audit_events`: the security trail (sign-ups, logins, logouts, password
/// changes, admin actions). Users are named by `public_id` and not by a
/// foreign key, so the trail outlives a deleted account. `detail` is a small
/// JSON object; it never holds a token, a password or a hash.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(AuditEvents::Table)
                    .if_not_exists()
                    .col(big_pk_auto(AuditEvents::Id))
                    .col(big_integer(AuditEvents::CreatedAt))
                    .col(string_len(AuditEvents::Kind, 32))
                    .col(uuid_null(AuditEvents::ActorPublicId))
                    .col(uuid_null(AuditEvents::SubjectPublicId))
                    .col(string_len_null(AuditEvents::IpAddress, 45))
                    .col(string_len_null(AuditEvents::UserAgent, 255))
                    .col(text(AuditEvents::Detail))
                    .to_owned(),
            )
            .await?;
        // A user's own trail (`/me`, the admin's user page), the whole list
        // newest first, and the list filtered by kind.
        for (name, columns) in [
            ("idx_audit_events_subject", vec![AuditEvents::SubjectPublicId, AuditEvents::CreatedAt]),
            ("idx_audit_events_created", vec![AuditEvents::CreatedAt]),
            ("idx_audit_events_kind", vec![AuditEvents::Kind, AuditEvents::CreatedAt]),
        ] {
            let mut index = Index::create();
            index.name(name).table(AuditEvents::Table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AuditEvents::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AuditEvents {
    Table,
    Id,
    CreatedAt,
    Kind,
    ActorPublicId,
    SubjectPublicId,
    IpAddress,
    UserAgent,
    Detail,
}
