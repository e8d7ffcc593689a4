use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, DbBackend};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// Indexes for the recipe lists.
///
/// `idx_recipes_visibility` (visibility, user_id) holds everything a list's
/// count filters on, so counting what a visitor or a user may see reads
/// that small index instead of every recipe row.
///
/// For search (a literal substring of `search_text`), an index where the
/// backend has one that answers exactly that question:
///
/// - SQLite: an FTS5 table with the trigram tokenizer over
///   `recipes.search_text` (external content, kept in step by triggers).
///   `search_text` is already folded, so the tokenizer is case-sensitive:
///   it matches the very bytes `LIKE` would.
/// - PostgreSQL: a `pg_trgm` GIN index, which `LIKE '%…%'` uses by itself;
///   skipped where the extension is not available (search then scans).
/// - MySQL/MariaDB: none (its full-text indexes match words, not
///   substrings); search scans.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("idx_recipes_visibility")
                    .table(Recipes::Table)
                    .col(Recipes::Visibility)
                    .col(Recipes::UserId)
                    .to_owned(),
            )
            .await?;
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for statement in [
                    "CREATE VIRTUAL TABLE recipes_search USING fts5(search_text, content='recipes', content_rowid='id', tokenize='trigram case_sensitive 1')",
                    "INSERT INTO recipes_search(recipes_search) VALUES ('rebuild')",
                    "CREATE TRIGGER recipes_search_insert AFTER INSERT ON recipes BEGIN
                         INSERT INTO recipes_search(rowid, search_text) VALUES (new.id, new.search_text);
                     END",
                    "CREATE TRIGGER recipes_search_delete AFTER DELETE ON recipes BEGIN
                         INSERT INTO recipes_search(recipes_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
                     END",
                    "CREATE TRIGGER recipes_search_update AFTER UPDATE OF search_text ON recipes BEGIN
                         INSERT INTO recipes_search(recipes_search, rowid, search_text) VALUES ('delete', old.id, old.search_text);
                         INSERT INTO recipes_search(rowid, search_text) VALUES (new.id, new.search_text);
                     END",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            DbBackend::Postgres => {
                let available = db
                    .query_one_raw(sea_orm_migration::sea_orm::Statement::from_string(
                        DbBackend::Postgres,
                        "SELECT 1 FROM pg_available_extensions WHERE name = 'pg_trgm'",
                    ))
                    .await?
                    .is_some();
                if available {
                    db.execute_unprepared("CREATE EXTENSION IF NOT EXISTS pg_trgm").await?;
                    db.execute_unprepared("CREATE INDEX recipes_search_text_trgm ON recipes USING gin (search_text gin_trgm_ops)")
                        .await?;
                }
            }
            _ => {}
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        let db = manager.get_connection();
        match manager.get_database_backend() {
            DbBackend::Sqlite => {
                for statement in [
                    "DROP TRIGGER recipes_search_update",
                    "DROP TRIGGER recipes_search_delete",
                    "DROP TRIGGER recipes_search_insert",
                    "DROP TABLE recipes_search",
                ] {
                    db.execute_unprepared(statement).await?;
                }
            }
            // The extension may serve others; only the index is ours.
            DbBackend::Postgres => db.execute_unprepared("DROP INDEX IF EXISTS recipes_search_text_trgm").await.map(drop)?,
            _ => {}
        }
        manager.drop_index(Index::drop().name("idx_recipes_visibility").table(Recipes::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Recipes {
    Table,
    Visibility,
    UserId,
}
