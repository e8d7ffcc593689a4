use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// One row per login: the `sid` claim of every token issued for it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Sessions::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Sessions::Id))
                    .col(uuid_uniq(Sessions::Sid))
                    .col(big_integer(Sessions::UserId))
                    .col(string_len_null(Sessions::UserAgent, 255))
                    .col(big_integer(Sessions::CreatedAt))
                    .col(big_integer(Sessions::LastUsedAt))
                    // Until then the refresh token of this session may be used.
                    .col(big_integer(Sessions::ExpiresAt))
                    .col(big_integer_null(Sessions::RevokedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_sessions_user")
                            .from(Sessions::Table, Sessions::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Sessions::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    Id,
    Sid,
    UserId,
    UserAgent,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
    RevokedAt,
}
