use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `login_failures`: one row per failed password check, counted per account
/// and per client address over a sliding window (SPEC.md §6). In the
/// database, so every instance sharing it sees the same counts. Rows older
/// than the window are purged.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(LoginFailures::Table)
                    .if_not_exists()
                    .col(big_pk_auto(LoginFailures::Id))
                    // `account` (the key is a hash of the email typed) or
                    // `address` (the key is the client address).
                    .col(string_len(LoginFailures::Scope, 8))
                    .col(string_len(LoginFailures::Key, 64))
                    .col(big_integer(LoginFailures::CreatedAt))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failures_key")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::Scope)
                    .col(LoginFailures::Key)
                    .col(LoginFailures::CreatedAt)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_login_failures_created")
                    .table(LoginFailures::Table)
                    .col(LoginFailures::CreatedAt)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(LoginFailures::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum LoginFailures {
    Table,
    Id,
    Scope,
    Key,
    CreatedAt,
}
