use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Passkeys (SPEC.md §2):
///
/// - `passkeys`: a user's WebAuthn credentials. `credential` is the
///   credential as `webauthn-rs` keeps it (JSON: id, public key, sign
///   count); `credential_key` the SHA-256 of its id, unique, so one
///   authenticator's credential belongs to one account. A name, when it was
///   added and last used, and the last sign count seen.
/// - `passkey_ceremonies`: the server half of a registration or a sign-in
///   begun and not finished (5 minutes), so any instance can finish what
///   another began. The client holds a token whose SHA-256 is here; a
///   ceremony is taken by deleting its row, so its challenge works once.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mysql = manager.get_database_backend() == DbBackend::MySql;
        let mut passkeys = Table::create();
        passkeys
            .table(Passkeys::Table)
            .col(big_pk_auto(Passkeys::Id))
            .col(uuid_uniq(Passkeys::PublicId))
            .col(big_integer(Passkeys::UserId))
            .col(string_len_uniq(Passkeys::CredentialKey, 64))
            .col(text(Passkeys::Credential))
            .col(string_len(Passkeys::Name, 64))
            .col(big_integer(Passkeys::SignCount).default(0))
            .col(big_integer(Passkeys::CreatedAt))
            .col(big_integer_null(Passkeys::LastUsedAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_passkeys_user")
                    .from(Passkeys::Table, Passkeys::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        let mut ceremonies = Table::create();
        ceremonies
            .table(PasskeyCeremonies::Table)
            .col(big_pk_auto(PasskeyCeremonies::Id))
            .col(string_len_uniq(PasskeyCeremonies::TokenHash, 64))
            // `register`, `login` or `second_step`.
            .col(string_len(PasskeyCeremonies::Kind, 16))
            .col(big_integer_null(PasskeyCeremonies::UserId))
            .col(text(PasskeyCeremonies::State))
            .col(big_integer(PasskeyCeremonies::CreatedAt))
            .col(big_integer(PasskeyCeremonies::ExpiresAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_passkey_ceremonies_user")
                    .from(PasskeyCeremonies::Table, PasskeyCeremonies::UserId)
                    .to(Users::Table, Users::Id)
                    .on_delete(ForeignKeyAction::Cascade),
            );
        if mysql {
            // Byte for byte, as every table (migration 9).
            passkeys.character_set("utf8mb4").collate("utf8mb4_bin");
            ceremonies.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(passkeys.to_owned()).await?;
        manager
            .create_index(Index::create().name("idx_passkeys_user").table(Passkeys::Table).col(Passkeys::UserId).to_owned())
            .await?;
        manager.create_table(ceremonies.to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(PasskeyCeremonies::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(Passkeys::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Passkeys {
    Table,
    Id,
    PublicId,
    UserId,
    CredentialKey,
    Credential,
    Name,
    SignCount,
    CreatedAt,
    LastUsedAt,
}

#[derive(DeriveIden)]
enum PasskeyCeremonies {
    Table,
    Id,
    TokenHash,
    Kind,
    UserId,
    State,
    CreatedAt,
    ExpiresAt,
}
