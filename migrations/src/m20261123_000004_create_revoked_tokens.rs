use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The blocklist: every revoked or already-used token id. The unique `jti`
/// index serves the per-request lookup and makes "use a refresh token once"
/// atomic: a second insert of the same `jti` fails.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(RevokedTokens::Table)
                    .if_not_exists()
                    .col(big_pk_auto(RevokedTokens::Id))
                    .col(uuid_uniq(RevokedTokens::Jti))
                    .col(string_len(RevokedTokens::TokenType, 16))
                    // The owner's public id: rows outlive nothing, but a
                    // purge or an audit should not need a join.
                    .col(uuid(RevokedTokens::UserPublicId))
                    .col(big_integer(RevokedTokens::ExpiresAt))
                    .col(big_integer(RevokedTokens::RevokedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_revoked_tokens_expires")
                    .table(RevokedTokens::Table)
                    .col(RevokedTokens::ExpiresAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table(RevokedTokens::Table).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum RevokedTokens {
    Table,
    Id,
    Jti,
    TokenType,
    UserPublicId,
    ExpiresAt,
    RevokedAt,
}
