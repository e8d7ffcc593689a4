use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Second factors (SPEC.md §2), each table keyed to its user and deleted
/// with them:
///
/// - `totp_secrets`: one per user. `enabled_at` is null while the user is
///   still enrolling (the secret is shown, no code has confirmed it yet).
///   `last_step` is the last RFC 6238 time step accepted: a code is taken
///   by a conditional `UPDATE` that only matches a later step, so a code is
///   accepted once on every instance.
/// - `recovery_codes`: ten per user, stored as a SHA-256; `used_at` is set
///   by a conditional `UPDATE`, so each works once.
/// - `remembered_browsers`: "remember this browser" for 30 days; the cookie
///   holds a token, the row its SHA-256.
/// - `login_tickets`: a login whose password was right and whose second
///   step is still to come (5 minutes, single use, for the pages or for
///   the API), its token stored as a SHA-256.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == DbBackend::MySql;
        let owned = |table: TableCreateStatement, name: &str, from: (DynIden, DynIden)| {
            let mut table = table;
            table.foreign_key(
                ForeignKey::create().name(name).from(from.0, from.1).to(Users::Table, Users::Id).on_delete(ForeignKeyAction::Cascade),
            );
            if mysql {
                // Byte for byte, as every table (migration 9).
                table.character_set("utf8mb4").collate("utf8mb4_bin");
            }
            table
        };

        let totp = Table::create()
            .table(TotpSecrets::Table)
            .col(big_integer(TotpSecrets::UserId).primary_key())
            .col(string_len(TotpSecrets::Secret, 64))
            .col(big_integer_null(TotpSecrets::LastStep))
            .col(big_integer(TotpSecrets::CreatedAt))
            .col(big_integer_null(TotpSecrets::EnabledAt))
            .to_owned();
        let totp = owned(totp, "fk_totp_secrets_user", (TotpSecrets::Table.into_iden(), TotpSecrets::UserId.into_iden()));
        manager.create_table(totp).await?;

        let codes = Table::create()
            .table(RecoveryCodes::Table)
            .col(big_pk_auto(RecoveryCodes::Id))
            .col(big_integer(RecoveryCodes::UserId))
            .col(string_len(RecoveryCodes::CodeHash, 64))
            .col(big_integer(RecoveryCodes::CreatedAt))
            .col(big_integer_null(RecoveryCodes::UsedAt))
            .to_owned();
        let codes = owned(codes, "fk_recovery_codes_user", (RecoveryCodes::Table.into_iden(), RecoveryCodes::UserId.into_iden()));
        manager.create_table(codes).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recovery_codes_user")
                    .table(RecoveryCodes::Table)
                    .col(RecoveryCodes::UserId)
                    .col(RecoveryCodes::CodeHash)
                    .to_owned(),
            )
            .await?;

        let browsers = Table::create()
            .table(RememberedBrowsers::Table)
            .col(big_pk_auto(RememberedBrowsers::Id))
            .col(uuid_uniq(RememberedBrowsers::PublicId))
            .col(big_integer(RememberedBrowsers::UserId))
            .col(string_len_uniq(RememberedBrowsers::TokenHash, 64))
            .col(string_len(RememberedBrowsers::Device, 160))
            .col(string_len_null(RememberedBrowsers::IpAddress, 64))
            .col(big_integer(RememberedBrowsers::CreatedAt))
            .col(big_integer_null(RememberedBrowsers::LastUsedAt))
            .col(big_integer(RememberedBrowsers::ExpiresAt))
            .to_owned();
        let browsers =
            owned(browsers, "fk_remembered_browsers_user", (RememberedBrowsers::Table.into_iden(), RememberedBrowsers::UserId.into_iden()));
        manager.create_table(browsers).await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_remembered_browsers_user")
                    .table(RememberedBrowsers::Table)
                    .col(RememberedBrowsers::UserId)
                    .to_owned(),
            )
            .await?;

        let tickets = Table::create()
            .table(LoginTickets::Table)
            .col(big_pk_auto(LoginTickets::Id))
            .col(string_len_uniq(LoginTickets::TokenHash, 64))
            .col(big_integer(LoginTickets::UserId))
            // `page` or `api`: a ticket works only where it was issued.
            .col(string_len(LoginTickets::Purpose, 8))
            // Where the browser goes once logged in (pages only).
            .col(string_len_null(LoginTickets::NextPath, 2048))
            .col(big_integer(LoginTickets::CreatedAt))
            .col(big_integer(LoginTickets::ExpiresAt))
            .to_owned();
        let tickets = owned(tickets, "fk_login_tickets_user", (LoginTickets::Table.into_iden(), LoginTickets::UserId.into_iden()));
        manager.create_table(tickets).await?;
        manager
            .create_index(
                Index::create().name("idx_login_tickets_user").table(LoginTickets::Table).col(LoginTickets::UserId).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for table in [
            LoginTickets::Table.into_iden(),
            RememberedBrowsers::Table.into_iden(),
            RecoveryCodes::Table.into_iden(),
            TotpSecrets::Table.into_iden(),
        ] {
            manager.drop_table(Table::drop().table(table).to_owned()).await?;
        }
        Ok(())
    }
}

#[derive(DeriveIden)]
enum TotpSecrets {
    Table,
    UserId,
    Secret,
    LastStep,
    CreatedAt,
    EnabledAt,
}

#[derive(DeriveIden)]
enum RecoveryCodes {
    Table,
    Id,
    UserId,
    CodeHash,
    CreatedAt,
    UsedAt,
}

#[derive(DeriveIden)]
enum RememberedBrowsers {
    Table,
    Id,
    PublicId,
    UserId,
    TokenHash,
    Device,
    IpAddress,
    CreatedAt,
    LastUsedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum LoginTickets {
    Table,
    Id,
    TokenHash,
    UserId,
    Purpose,
    NextPath,
    CreatedAt,
    ExpiresAt,
}
