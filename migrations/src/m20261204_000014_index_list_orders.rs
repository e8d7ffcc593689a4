use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

/// An index for the order of every list, so that a page is an index range
/// whatever the number of rows: newest first, then by id.
///
/// - `idx_recipes_public_newest` (visibility, created_at, id): a visitor's
///   list, public recipes only.
/// - `idx_recipes_owner_newest` (user_id, created_at, id): one owner's
///   list (`/me`, an author's list, an admin's page of a user).
/// - `idx_users_newest` (created_at, id): the admins' list of users.
///
/// Every recipe, newest first (an admin's list, and a user's, which adds
/// their own private recipes to the public ones), already has
/// `idx_recipes_created` (migration 2). The counts the lists show come
/// from the tallies of migration 13, not from these.
///
/// `idx_recipes_user` (user_id) goes: the owner's index begins with the
/// same column, so it serves the foreign key as well, and with both
/// PostgreSQL read an owner's every recipe through the narrow one and
/// sorted them.
#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for (name, table, columns) in indexes() {
            let mut index = Index::create();
            index.name(name).table(table);
            for column in columns {
                index.col(column);
            }
            manager.create_index(index.to_owned()).await?;
        }
        manager.drop_index(Index::drop().name("idx_recipes_user").table(Recipes::Table).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.create_index(Index::create().name("idx_recipes_user").table(Recipes::Table).col(Recipes::UserId).to_owned()).await?;
        for (name, table, _) in indexes() {
            manager.drop_index(Index::drop().name(name).table(table).to_owned()).await?;
        }
        Ok(())
    }
}

fn indexes() -> [(&'static str, DynIden, Vec<DynIden>); 3] {
    [
        (
            "idx_recipes_public_newest",
            Recipes::Table.into_iden(),
            vec![Recipes::Visibility.into_iden(), Recipes::CreatedAt.into_iden(), Recipes::Id.into_iden()],
        ),
        (
            "idx_recipes_owner_newest",
            Recipes::Table.into_iden(),
            vec![Recipes::UserId.into_iden(), Recipes::CreatedAt.into_iden(), Recipes::Id.into_iden()],
        ),
        ("idx_users_newest", Users::Table.into_iden(), vec![Users::CreatedAt.into_iden(), Users::Id.into_iden()]),
    ]
}

#[derive(DeriveIden)]
enum Recipes {
    Table,
    Id,
    UserId,
    Visibility,
    CreatedAt,
}

#[derive(DeriveIden)]
enum Users {
    Table,
    Id,
    CreatedAt,
}
