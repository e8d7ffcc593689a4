//! The versions the database changes itself, by triggers in the same
//! transaction as every write they cover (migration 13): what a kept answer
//! is checked against (`crate::kept`).

use sea_orm::prelude::*;
use sea_orm::sea_query::Expr;
use sea_orm::{FromQueryResult, Statement};

use crate::kept::Version;

pub(super) const RECIPES: &str = "(SELECT value FROM versions WHERE name = 'recipes')";

/// The recipes' version as a column of a larger query (the guard's).
pub fn recipes_subquery() -> Expr {
    Expr::cust(RECIPES)
}

#[derive(FromQueryResult)]
struct Row {
    version: i64,
}

/// The recipes' version now: read before reading a list.
pub async fn recipes<C: ConnectionTrait>(db: &C) -> Result<Version, DbErr> {
    let statement = Statement::from_string(db.get_database_backend(), format!("SELECT {RECIPES} AS version"));
    let row = Row::find_by_statement(statement).one(db).await?;
    row.map(|row| Version(row.version)).ok_or_else(|| DbErr::RecordNotFound("the recipes' version".into()))
}
