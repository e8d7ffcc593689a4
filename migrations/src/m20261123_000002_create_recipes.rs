use sea_orm_migration::{prelude::*, schema::*};

use crate::m20261123_000001_create_users::Users;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table(Recipes::Table)
                    .if_not_exists()
                    .col(big_pk_auto(Recipes::Id))
                    .col(big_integer(Recipes::UserId))
                    .col(string_len(Recipes::Name, 100))
                    .col(text(Recipes::Description))
                    .col(integer(Recipes::CookTime))
                    .col(text(Recipes::Directions))
                    .col(string_len(Recipes::Visibility, 16).default("public"))
                    .col(big_integer(Recipes::CreatedAt))
                    .col(big_integer(Recipes::UpdatedAt))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_recipes_user")
                            .from(Recipes::Table, Recipes::UserId)
                            .to(Users::Table, Users::Id)
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await?;
        // The list pages read newest first, optionally one owner's recipes.
        manager
            .create_index(
                Index::create()
                    .name("idx_recipes_created")
                    .table(Recipes::Table)
                    .col(Recipes::CreatedAt)
                    .col(Recipes::Id)
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_recipes_user")
                    .table(Recipes::Table)
                    .col(Recipes::UserId)
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table(Recipes::Table).to_owned()).await
    }
}

#[derive(DeriveIden)]
enum Recipes {
    Table,
    Id,
    UserId,
    Name,
    Description,
    CookTime,
    Directions,
    Visibility,
    CreatedAt,
    UpdatedAt,
}
