use sea_orm::entity::prelude::*;

use crate::domain::Visibility;

#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "recipes")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub user_id: i64,
    pub name: String,
    pub description: String,
    pub cook_time: i32,
    pub directions: String,
    pub visibility: Visibility,
    /// Name and description lower-cased in Rust (Unicode-aware), for search.
    pub search_text: String,
    pub created_at: TimeUnixTimestamp,
    pub updated_at: TimeUnixTimestamp,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
