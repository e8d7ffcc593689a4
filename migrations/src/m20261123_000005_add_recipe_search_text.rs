use sea_orm_migration::prelude::*;
use sea_orm_migration::sea_orm::{ConnectionTrait, FromQueryResult};

#[derive(DeriveMigrationName)]
pub struct Migration;

/// `recipes.search_text`: name and description lower-cased by the
/// application (Unicode-aware), because SQLite's `LOWER()` folds ASCII only
/// and search must be case-insensitive for every letter on every backend.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter()
                    .table(Recipes::Table)
                    .add_column(ColumnDef::new(Recipes::SearchText).text().not_null().default(""))
                    .to_owned(),
            )
            .await?;
        // Backfill with the same folding the application uses.
        #[derive(FromQueryResult)]
        struct Row {
            id: i64,
            name: String,
            description: String,
        }
        let db = manager.get_connection();
        let backend = manager.get_database_backend();
        let select = Query::select()
            .columns([Recipes::Id, Recipes::Name, Recipes::Description])
            .from(Recipes::Table)
            .to_owned();
        let rows = Row::find_by_statement(backend.build(&select)).all(db).await?;
        for row in rows {
            let text = format!("{}\u{1f}{}", row.name.to_lowercase(), row.description.to_lowercase());
            let update = Query::update()
                .table(Recipes::Table)
                .value(Recipes::SearchText, text)
                .and_where(Expr::col(Recipes::Id).eq(row.id))
                .to_owned();
            db.execute_raw(backend.build(&update)).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table(Recipes::Table).drop_column(Recipes::SearchText).to_owned())
            .await
    }
}

#[derive(DeriveIden)]
enum Recipes {
    Table,
    Id,
    Name,
    Description,
    SearchText,
}
