//! What clients see: `Serialize`-only structs for JSON bodies and page
//! contexts. Entities never reach a template or a JSON body directly, so a
//! password hash or an internal user id cannot leak by accident.

use rocket::serde::json::Json;
use serde::Serialize;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{Authenticated, TokenPair};
use crate::domain::{CookTime, Role, Visibility};
use crate::entities::{session, user};
use crate::store::recipes::RecipeRow;
use crate::store::Page;

pub fn rfc3339(at: OffsetDateTime) -> String {
    at.format(&Rfc3339).unwrap_or_default()
}

/// "23 Nov 2026, 14:05 UTC", for pages.
pub fn human(at: OffsetDateTime) -> String {
    at.format(format_description!("[day padding:none] [month repr:short] [year], [hour]:[minute] UTC"))
        .unwrap_or_default()
}

/// SPEC §5's user object: no hash, no internal id.
#[derive(Debug, Serialize)]
pub struct UserView {
    pub public_id: Uuid,
    pub email: String,
    pub username: String,
    pub role: Role,
    pub created_at: String,
}

impl From<&user::Model> for UserView {
    fn from(user: &user::Model) -> Self {
        Self {
            public_id: user.public_id,
            email: user.email.clone(),
            username: user.username.clone(),
            role: user.role,
            created_at: rfc3339(user.created_at.0),
        }
    }
}

/// The body of every response that issues tokens.
#[derive(Serialize)]
pub struct TokenResponse {
    pub user: UserView,
    pub access_token: String,
    pub refresh_token: String,
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: i64,
}

impl TokenResponse {
    pub fn new(user: UserView, pair: TokenPair, expires_in: i64) -> Json<Self> {
        Json(Self {
            user,
            access_token: pair.access_token,
            refresh_token: pair.refresh_token,
            token_type: "Bearer",
            expires_in,
        })
    }
}

#[derive(Debug, Serialize)]
pub struct AuthorView {
    pub username: String,
    pub public_id: Uuid,
}

/// A recipe for the API and the pages alike.
#[derive(Debug, Serialize)]
pub struct RecipeView {
    pub id: i64,
    pub name: String,
    pub description: String,
    pub cook_time: i32,
    pub directions: String,
    pub visibility: Visibility,
    pub author: AuthorView,
    pub created_at: String,
    pub updated_at: String,
}

impl From<RecipeRow> for RecipeView {
    fn from(row: RecipeRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            cook_time: row.cook_time,
            directions: row.directions,
            visibility: row.visibility,
            author: AuthorView { username: row.author_username, public_id: row.author_public_id },
            created_at: rfc3339(row.created_at.0),
            updated_at: rfc3339(row.updated_at.0),
        }
    }
}

/// A recipe as a page shows it, with what the viewer may do to it.
#[derive(Debug, Serialize)]
pub struct RecipeCard {
    #[serde(flatten)]
    pub recipe: RecipeView,
    pub cook_time_display: String,
    pub created_display: String,
    pub can_edit: bool,
    pub can_delete: bool,
}

impl RecipeCard {
    pub fn new(row: RecipeRow, viewer: Option<&Authenticated>) -> Self {
        let owner = viewer.is_some_and(|v| v.id == row.user_id);
        let admin = viewer.is_some_and(Authenticated::is_admin);
        Self {
            cook_time_display: CookTime::display(row.cook_time),
            created_display: human(row.created_at.0),
            can_edit: owner,
            can_delete: owner || admin,
            recipe: row.into(),
        }
    }
}

/// SPEC §5's list shape.
#[derive(Debug, Serialize)]
pub struct PageView<T> {
    pub items: Vec<T>,
    pub page: u64,
    pub per_page: u64,
    pub total: u64,
}

impl<T> PageView<T> {
    pub fn map<R>(page: Page<R>, f: impl FnMut(R) -> T) -> Self {
        Self { items: page.items.into_iter().map(f).collect(), page: page.page, per_page: page.per_page, total: page.total }
    }
}

/// The layout's header: who is logged in, and the CSRF value for its
/// log-out button.
#[derive(Debug, Serialize)]
pub struct Nav {
    pub username: Option<String>,
    pub is_admin: bool,
    pub csrf: Option<String>,
}

impl Nav {
    pub fn new(user: Option<&Authenticated>) -> Self {
        Self {
            username: user.map(|u| u.username.clone()),
            is_admin: user.is_some_and(Authenticated::is_admin),
            csrf: user.map(|u| u.csrf.clone()),
        }
    }
}

/// One login session on `/me`.
#[derive(Debug, Serialize)]
pub struct SessionView {
    pub sid: Uuid,
    pub device: String,
    pub created: String,
    pub last_used: String,
    pub current: bool,
}

impl SessionView {
    pub fn new(session: &session::Model, current_sid: Uuid) -> Self {
        Self {
            sid: session.sid,
            device: session.user_agent.clone().filter(|ua| !ua.is_empty()).unwrap_or_else(|| "Unknown device".into()),
            created: human(session.created_at.0),
            last_used: human(session.last_used_at.0),
            current: session.sid == current_sid,
        }
    }
}
