use sea_orm::entity::prelude::*;

/// An account's link to a person at an OpenID Connect provider (SPEC §2):
/// (`issuer`, `subject`) names the person, never the email.
#[sea_orm::model]
#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "linked_identities")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    /// What pages and the export name it by.
    #[sea_orm(unique)]
    pub public_id: Uuid,
    pub user_id: i64,
    /// The provider's key in `oidc_providers`.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    /// The email the provider gave when the link was made.
    pub email: Option<String>,
    pub linked_at: TimeUnixTimestamp,
    pub last_used_at: Option<TimeUnixTimestamp>,
    #[sea_orm(belongs_to, from = "user_id", to = "id", on_delete = "Cascade")]
    pub user: BelongsTo<super::user::Entity>,
}

impl ActiveModelBehavior for ActiveModel {}
