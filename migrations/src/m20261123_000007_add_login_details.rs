use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `users.last_login_at` for the admin's user list, and `sessions.ip_address`
/// (the client address of the login) for the session lists. One column per
/// `ALTER TABLE`: SQLite takes no more.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Users::Table).add_column(big_integer_null(Users::LastLoginAt)).to_owned())
            .await?;
        manager
            .alter_table(
                Table::alter().table(Sessions::Table).add_column(string_len_null(Sessions::IpAddress, 45)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Sessions::Table).drop_column(Sessions::IpAddress).to_owned())
            .await?;
        manager
            .alter_table(Table::alter().table(Users::Table).drop_column(Users::LastLoginAt).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Users {
    Table,
    LastLoginAt,
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    IpAddress,
}
