use sea_orm_migration::sea_orm::DbBackend;
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261204_000013_versions::random_value;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// The keyring (SPEC.md §2, §3): `signing_keys`, one row per key, its
/// material encrypted by the application (this migration makes no key: it
/// has no `jwt_secret`), and `keyring`, one row:
///
/// - `created_at`: when the keyring was made.
/// - `legacy_sessions_before`: set when sessions existed at that moment.
///   Their tokens carry no `kid` (they were signed with `jwt_secret`); the
///   application accepts such a token only for a session that began before
///   this instant, for `refresh_token_ttl` after it. A site born with the
///   keyring has none, and accepts no token without `kid`.
///
/// The row is also what serialises the keyring's changes: every change
/// (the first key, a rotation, an activation) writes it first.
///
/// A `keys` row in `versions` changes with every write to `signing_keys`,
/// by triggers as in migration 13, whoever writes (the application, the
/// command line, a hand-typed `UPDATE`): the guard reads it in the
/// request's one round trip, and an instance whose keyring is older reads
/// the keyring again before it accepts a token.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut keys = Table::create();
        keys.table(SigningKeys::Table)
            .col(big_pk_auto(SigningKeys::Id))
            .col(string_len_uniq(SigningKeys::Kid, 32))
            .col(string_len(SigningKeys::Algorithm, 8))
            // `next`, `active`, `retired` or `revoked`.
            .col(string_len(SigningKeys::State, 8))
            // Nonce (12 bytes), then the AES-256-GCM ciphertext and tag.
            .col(var_binary(SigningKeys::Material, 128))
            .col(big_integer(SigningKeys::CreatedAt))
            // For a `next` key: when it becomes `active`.
            .col(big_integer_null(SigningKeys::ActivatesAt))
            .col(big_integer_null(SigningKeys::ActivatedAt))
            .col(big_integer_null(SigningKeys::RetiredAt))
            .col(big_integer_null(SigningKeys::RevokedAt));
        let mut keyring = Table::create();
        keyring
            .table(Keyring::Table)
            .col(integer(Keyring::Id).primary_key())
            .col(big_integer(Keyring::CreatedAt))
            .col(big_integer_null(Keyring::LegacySessionsBefore))
            // Written by every change of the keyring, to take turns.
            .col(big_integer(Keyring::ChangedAt));
        if backend == DbBackend::MySql {
            // Byte for byte, as every table (migration 9).
            keys.character_set("utf8mb4").collate("utf8mb4_bin");
            keyring.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(keys.to_owned()).await?;
        manager.create_table(keyring.to_owned()).await?;
        let now = match backend {
            DbBackend::Sqlite => "CAST(strftime('%s', 'now') AS INTEGER)",
            DbBackend::Postgres => "CAST(extract(epoch FROM now()) AS BIGINT)",
            _ => "UNIX_TIMESTAMP()",
        };
        let db = manager.get_connection();
        db.execute_unprepared(&format!(
            "INSERT INTO keyring (id, created_at, legacy_sessions_before, changed_at) \
             SELECT 1, {now}, CASE WHEN EXISTS (SELECT 1 FROM sessions) THEN {now} END, {now}"
        ))
        .await?;
        let random = random_value(manager).await?;
        db.execute_unprepared(&format!("INSERT INTO versions (name, value) VALUES ('keys', {random})")).await?;
        for statement in create_triggers(backend, random) {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        for event in EVENTS {
            let name = trigger_name(event);
            if backend == DbBackend::Postgres {
                db.execute_unprepared(&format!("DROP TRIGGER {name} ON signing_keys")).await?;
                db.execute_unprepared(&format!("DROP FUNCTION {name}()")).await?;
            } else {
                db.execute_unprepared(&format!("DROP TRIGGER {name}")).await?;
            }
        }
        db.execute_unprepared("DELETE FROM versions WHERE name = 'keys'").await?;
        manager.drop_table(Table::drop().table(Keyring::Table).to_owned()).await?;
        manager.drop_table(Table::drop().table(SigningKeys::Table).to_owned()).await
    }
}

const EVENTS: [&str; 3] = ["INSERT", "UPDATE", "DELETE"];

fn trigger_name(event: &str) -> String {
    format!("versions_signing_keys_{}", event.to_lowercase())
}

/// A trigger per event that gives the `keys` version a new random value:
/// per row on SQLite and MySQL, per statement on PostgreSQL (migration 13
/// says why).
fn create_triggers(backend: DbBackend, random: &str) -> Vec<String> {
    let bump = format!("UPDATE versions SET value = {random} WHERE name = 'keys';");
    let mut statements = Vec::new();
    for event in EVENTS {
        let name = trigger_name(event);
        match backend {
            DbBackend::Sqlite => statements.push(format!("CREATE TRIGGER {name} AFTER {event} ON signing_keys BEGIN {bump} END")),
            DbBackend::Postgres => {
                statements.push(format!("CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN {bump} RETURN NULL; END\n$$"));
                statements.push(format!("CREATE TRIGGER {name} AFTER {event} ON signing_keys FOR EACH STATEMENT EXECUTE FUNCTION {name}()"));
            }
            _ => statements.push(format!("CREATE TRIGGER {name} AFTER {event} ON signing_keys FOR EACH ROW BEGIN {bump} END")),
        }
    }
    statements
}

#[derive(DeriveIden)]
enum SigningKeys {
    Table,
    Id,
    Kid,
    Algorithm,
    State,
    Material,
    CreatedAt,
    ActivatesAt,
    ActivatedAt,
    RetiredAt,
    RevokedAt,
}

#[derive(DeriveIden)]
enum Keyring {
    Table,
    Id,
    CreatedAt,
    LegacySessionsBefore,
    ChangedAt,
}
