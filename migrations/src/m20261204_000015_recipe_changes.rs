use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};
use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261204_000013_versions::random_value;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `recipe_changes`: every recipe write, in the order of the commits, so a
/// kept search can be brought up to date from the writes since it was
/// counted instead of counting its matches again (`crate::catalog` in the
/// application).
///
/// A write adds a row per recipe image: `sign` +1 for the recipe as it now
/// is (an insert, or an update's new row) and -1 for what it was (a delete,
/// or an update's old row), with the columns a search filters on. A change
/// that no such row describes, a user deleted or renamed (lists show the
/// author's name and public id; a search by author names a user), adds one
/// row of `sign` 0, and whoever kept a search across it counts again.
///
/// Each row has a random `tag`: a reader names the last row it has seen by
/// `(id, tag)`, and a database restored from a backup that lacks that row,
/// or has another in its place, no longer holds it.
///
/// The ids follow the commits. Every trigger here runs after the trigger of
/// migration 13 for the same write, which has locked the `versions` row
/// until the commit: a write takes its ids only once every write before it
/// has committed. PostgreSQL fires the triggers of one event in the order
/// of their names (`…_log` after its namesake); MySQL and MariaDB follow
/// `FOLLOWS`; SQLite has one writer at a time. Ids are not reused (SQLite's
/// `AUTOINCREMENT`; the purge keeps the newest rows).
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let mut create = Table::create();
        create
            .table(RecipeChanges::Table)
            .col(big_pk_auto(RecipeChanges::Id))
            .col(big_integer(RecipeChanges::Tag))
            .col(integer(RecipeChanges::Sign))
            .col(big_integer_null(RecipeChanges::UserId))
            .col(string_len_null(RecipeChanges::Visibility, 16))
            .col(text_null(RecipeChanges::SearchText));
        if backend == DbBackend::MySql {
            // Byte for byte, as `recipes.search_text` (migration 9).
            create.character_set("utf8mb4").collate("utf8mb4_bin");
        }
        manager.create_table(create.to_owned()).await?;
        let random = random_value(manager).await?;
        let db = manager.get_connection();
        for statement in create_triggers(backend, random)? {
            db.execute_unprepared(&statement).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let backend = manager.get_database_backend();
        let db = manager.get_connection();
        for (name, table, _, _) in TRIGGERS {
            if backend == DbBackend::Postgres {
                db.execute_unprepared(&format!("DROP TRIGGER {name} ON {table}")).await?;
                db.execute_unprepared(&format!("DROP FUNCTION {name}()")).await?;
            } else {
                db.execute_unprepared(&format!("DROP TRIGGER {name}")).await?;
            }
        }
        manager.drop_table(Table::drop().table(RecipeChanges::Table).to_owned()).await
    }
}

/// Each trigger: its name, its table, its event, and the trigger of
/// migration 13 it follows.
const TRIGGERS: [(&str, &str, &str, &str); 5] = [
    ("versions_recipes_insert_log", "recipes", "INSERT", "versions_recipes_insert"),
    ("versions_recipes_update_log", "recipes", "UPDATE", "versions_recipes_update"),
    ("versions_recipes_delete_log", "recipes", "DELETE", "versions_recipes_delete"),
    ("versions_users_delete_log", "users", "DELETE", "versions_users_delete"),
    ("versions_users_update_log", "users", "UPDATE", "versions_users_update"),
];

const COLUMNS: &str = "recipe_changes (tag, sign, user_id, visibility, search_text)";

/// The rows a trigger adds, as `SELECT`s over `{rows}` (a row's values:
/// `NEW`/`OLD` in a row trigger, the transition tables in PostgreSQL's
/// statement triggers), and the condition of a `sign` 0 row.
fn images(name: &str) -> (&'static [(&'static str, &'static str)], Option<&'static str>) {
    match name {
        "versions_recipes_insert_log" => (&[("1", "NEW")], None),
        "versions_recipes_update_log" => (&[("-1", "OLD"), ("1", "NEW")], None),
        "versions_recipes_delete_log" => (&[("-1", "OLD")], None),
        "versions_users_delete_log" => (&[], Some("TRUE")),
        _ => (&[], Some("NEW.username <> OLD.username OR NEW.public_id <> OLD.public_id")),
    }
}

fn create_triggers(backend: DbBackend, random: &str) -> Result<Vec<String>, DbErr> {
    let mut statements = Vec::new();
    for (name, table, event, follows) in TRIGGERS {
        let (images, reset) = images(name);
        match backend {
            DbBackend::Sqlite | DbBackend::MySql => {
                let mut body = String::new();
                for (sign, row) in images {
                    body.push_str(&format!(
                        "\n    INSERT INTO {COLUMNS} VALUES ({random}, {sign}, {row}.user_id, {row}.visibility, {row}.search_text);"
                    ));
                }
                if let Some(condition) = reset {
                    body.push_str(&format!("\n    INSERT INTO {COLUMNS} SELECT {random}, 0, NULL, NULL, NULL FROM versions WHERE name = 'recipes' AND ({condition});"));
                }
                statements.push(if backend == DbBackend::Sqlite {
                    format!("CREATE TRIGGER {name} AFTER {event} ON {table} BEGIN{body}\nEND")
                } else {
                    format!("CREATE TRIGGER {name} AFTER {event} ON {table} FOR EACH ROW FOLLOWS {follows} BEGIN{body}\nEND")
                });
            }
            DbBackend::Postgres => {
                let (referencing, rows) = match event {
                    "INSERT" => ("NEW TABLE AS new_rows", "new_rows"),
                    "DELETE" => ("OLD TABLE AS old_rows", "old_rows"),
                    _ => ("OLD TABLE AS old_rows NEW TABLE AS new_rows", ""),
                };
                let body = match reset {
                    None => {
                        let selects: Vec<String> = images
                            .iter()
                            .map(|(sign, row)| {
                                let from = if rows.is_empty() { if *row == "NEW" { "new_rows" } else { "old_rows" } } else { rows };
                                format!("SELECT {random}, {sign}, user_id, visibility, search_text FROM {from}")
                            })
                            .collect();
                        format!("INSERT INTO {COLUMNS} {};", selects.join(" UNION ALL "))
                    }
                    Some("TRUE") => format!("INSERT INTO {COLUMNS} SELECT {random}, 0, NULL, NULL, NULL WHERE EXISTS (SELECT 1 FROM old_rows);"),
                    Some(_) => format!(
                        "INSERT INTO {COLUMNS} SELECT {random}, 0, NULL, NULL, NULL WHERE EXISTS (
        SELECT 1 FROM old_rows JOIN new_rows ON new_rows.id = old_rows.id
        WHERE new_rows.username <> old_rows.username OR new_rows.public_id <> old_rows.public_id);"
                    ),
                };
                statements.push(format!("CREATE FUNCTION {name}() RETURNS trigger LANGUAGE plpgsql AS $$\nBEGIN\n    {body}\nRETURN NULL;\nEND\n$$"));
                statements.push(format!(
                    "CREATE TRIGGER {name} AFTER {event} ON {table} REFERENCING {referencing} FOR EACH STATEMENT EXECUTE FUNCTION {name}()"
                ));
            }
            other => return Err(DbErr::Migration(format!("migration 15 does not know {other:?}"))),
        }
    }
    Ok(statements)
}

#[derive(DeriveIden)]
enum RecipeChanges {
    Table,
    Id,
    Tag,
    Sign,
    UserId,
    Visibility,
    SearchText,
}
