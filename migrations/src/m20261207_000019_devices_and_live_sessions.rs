use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `known_devices`: the devices (browser and system, without versions)
/// each account has logged in from, one row each, so that a login decides
/// the notice of a new device from one indexed row, however many sessions
/// the account has had (it read every session's user agent before).
///
/// Accounts with sessions from before this table get one row with an
/// empty `family`: their devices are read from their sessions once, at
/// their next login (the app names devices; SQL cannot).
///
/// And an index of each account's live sessions, `(user_id, revoked_at,
/// expires_at)`: a login, the session cap and `/me` ask for the sessions
/// that are neither revoked nor expired, which `idx_sessions_user` could
/// find only by reading every session the account ever had.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let mut create = Table::create();
        create
            .table(KnownDevices::Table)
            .col(big_pk_auto(KnownDevices::Id))
            .col(big_integer(KnownDevices::UserId))
            .col(string_len(KnownDevices::Family, 100))
            .col(big_integer(KnownDevices::FirstSeenAt))
            .foreign_key(
                ForeignKey::create()
                    .name("fk_known_devices_user")
                    .from(KnownDevices::Table, KnownDevices::UserId)
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
                    .name("idx_known_devices_user_family")
                    .table(KnownDevices::Table)
                    .col(KnownDevices::UserId)
                    .col(KnownDevices::Family)
                    .unique()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_sessions_user_live")
                    .table(Sessions::Table)
                    .col(Sessions::UserId)
                    .col(Sessions::RevokedAt)
                    .col(Sessions::ExpiresAt)
                    .to_owned(),
            )
            .await?;
        manager
            .get_connection()
            .execute_unprepared("INSERT INTO known_devices (user_id, family, first_seen_at) SELECT DISTINCT user_id, '', 0 FROM sessions")
            .await
            .map(drop)
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("idx_sessions_user_live").table(Sessions::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(KnownDevices::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Sessions {
    Table,
    UserId,
    RevokedAt,
    ExpiresAt,
}

#[derive(DeriveIden)]
enum KnownDevices {
    Table,
    Id,
    UserId,
    Family,
    FirstSeenAt,
}
