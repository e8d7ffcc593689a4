use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Users::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Users::Id))
                    .col(uuid_uniq(Users::PublicId))
                    // Stored lower-case, so a plain unique index makes email
                    // unique case-insensitively on every backend.
                    .col(string_len_uniq(Users::Email, 254))
                    .col(string_len(Users::Username, 32))
                    // The username lower-cased: usernames keep the case they
                    // were typed in but are unique case-insensitively, and
                    // MySQL/MariaDB have no portable expression index.
                    .col(string_len_uniq(Users::UsernameKey, 32))
                    .col(string_len(Users::PasswordHash, 60))
                    .col(string_len(Users::Role, 16).default("user"))
                    .col(big_integer_null(Users::DisabledAt))
                    .col(big_integer(Users::TokensValidAfter))
                    .col(big_integer(Users::CreatedAt))
                    .col(big_integer(Users::UpdatedAt))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Users::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
pub enum Users {
    Table,
    Id,
    PublicId,
    Email,
    Username,
    UsernameKey,
    PasswordHash,
    Role,
    DisabledAt,
    TokensValidAfter,
    CreatedAt,
    UpdatedAt,
}
