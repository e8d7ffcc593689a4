use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Personal access tokens (SPEC.md §2, §5): one row per token, found by
/// the SHA-256 of the token (`token_hash`, unique; the token itself is
/// never stored). `scopes` holds the scope names separated by spaces.
/// `expires_at` is always set. `last_used_at` and `last_used_ip` are kept
/// to the minute. `expiry_noticed_at` is set when the notice that the
/// token expires within 7 days was queued, so it goes once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut create = Table::create();
        create
            .table(AccessTokens::Table)
            .col(big_pk_auto(AccessTokens::Id))
            .col(uuid_uniq(AccessTokens::PublicId))
            .col(big_integer(AccessTokens::UserId))
            .col(string_len(AccessTokens::Name, 100))
            .col(string_len(AccessTokens::Scopes, 100))
            .col(string_len_uniq(AccessTokens::TokenHash, 64))
            .col(big_integer(AccessTokens::CreatedAt))
            .col(big_integer(AccessTokens::ExpiresAt))
            .col(big_integer_null(AccessTokens::LastUsedAt))
            .col(string_len_null(AccessTokens::LastUsedIp, 45))
            .col(big_integer_null(AccessTokens::RevokedAt))
            .col(big_integer_null(AccessTokens::ExpiryNoticedAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_access_tokens_user")
                    .from(AccessTokens::Table, AccessTokens::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        if manager.get_database_backend() == DbBackend::MySql {
            // Byte for byte, as every table (migration 9).
            create.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(create.to_owned()).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_access_tokens_user")
                    .table(AccessTokens::Table)
                    .col(AccessTokens::UserId)
                    .col(AccessTokens::RevokedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_access_tokens_expires").table(AccessTokens::Table).col(AccessTokens::ExpiresAt).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(AccessTokens::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum AccessTokens {
    Table,
    Id,
    PublicId,
    UserId,
    Name,
    Scopes,
    TokenHash,
    CreatedAt,
    ExpiresAt,
    LastUsedAt,
    LastUsedIp,
    RevokedAt,
    ExpiryNoticedAt,
}
