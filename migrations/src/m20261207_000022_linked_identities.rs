use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Accounts linked to a person at an OpenID Connect provider (SPEC.md §2,
/// §4): the pair (`issuer`, `subject`) names the person and is unique; an
/// account links at most one person per provider (`user_id`, `provider`).
/// `email` is what the provider said when the link was made. And
/// `login_tickets.provider`: the provider of a login whose second step is
/// to come, so that the login's audit event names it.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut create = Table::create();
        create
            .table(LinkedIdentities::Table)
            .col(big_pk_auto(LinkedIdentities::Id))
            .col(uuid_uniq(LinkedIdentities::PublicId))
            .col(big_integer(LinkedIdentities::UserId))
            .col(string_len(LinkedIdentities::Provider, 64))
            .col(string_len(LinkedIdentities::Issuer, 255))
            .col(string_len(LinkedIdentities::Subject, 255))
            .col(string_len_null(LinkedIdentities::Email, 254))
            .col(big_integer(LinkedIdentities::LinkedAt))
            .col(big_integer_null(LinkedIdentities::LastUsedAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_linked_identities_user")
                    .from(LinkedIdentities::Table, LinkedIdentities::UserId)
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
                    .name("idx_linked_identities_person")
                    .table(LinkedIdentities::Table)
                    .col(LinkedIdentities::Issuer)
                    .col(LinkedIdentities::Subject)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_linked_identities_user_provider")
                    .table(LinkedIdentities::Table)
                    .col(LinkedIdentities::UserId)
                    .col(LinkedIdentities::Provider)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .alter_table(Table::alter().table(LoginTickets::Table).add_column(string_len_null(LoginTickets::Provider, 64)).to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table(LoginTickets::Table).drop_column(LoginTickets::Provider).to_owned()).await?;
        manager.drop_table(Table::drop().table(LinkedIdentities::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum LinkedIdentities {
    Table,
    Id,
    PublicId,
    UserId,
    Provider,
    Issuer,
    Subject,
    Email,
    LinkedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum LoginTickets {
    Table,
    Provider,
}
