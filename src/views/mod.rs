//! What clients see: `Serialize`-only structs for JSON bodies and page
//! contexts. Entities never reach a template or a JSON body directly, so a
//! password hash or an internal user id cannot leak by accident.


pub mod export;

use rocket::serde::json::Json;
use serde::Serialize;
use utoipa::ToSchema;
use time::format_description::well_known::Rfc3339;
use time::macros::format_description;
use time::OffsetDateTime;
use uuid::Uuid;

use crate::auth::{ApiCaller, Authenticated, TokenPair};
use crate::client::device;
use crate::domain::{AuditKind, CookTime, Role, Visibility};
use crate::entities::{session, user};
use crate::store::audit::EventRow;
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

/// A span of time in the largest whole unit it fills: "30 days", "2 hours".
pub fn span(seconds: i64) -> String {
    let (count, unit) = match seconds {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3_600 => (s / 3_600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{count} {unit}{}", if count == 1 { "" } else { "s" })
}

/// SPEC §5's user object: no hash, no internal id.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    pub public_id: Uuid,
    #[schema(format = Email)]
    pub email: String,
    pub username: String,
    pub role: Role,
    #[schema(format = DateTime)]
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

/// An API caller, from what the request guard already read: no query.
impl From<&ApiCaller> for UserView {
    fn from(caller: &ApiCaller) -> Self {
        match caller {
            ApiCaller::Session(user) => user.into(),
            ApiCaller::Token(holder) => Self {
                public_id: holder.public_id,
                email: holder.email.clone(),
                username: holder.username.clone(),
                role: holder.role,
                created_at: rfc3339(holder.created_at),
            },
        }
    }
}

/// The caller, from what the request guard already read: no query.
impl From<&Authenticated> for UserView {
    fn from(user: &Authenticated) -> Self {
        Self {
            public_id: user.public_id,
            email: user.email.clone(),
            username: user.username.clone(),
            role: user.role,
            created_at: rfc3339(user.created_at),
        }
    }
}

/// The body of every response that issues tokens.
#[derive(Serialize, ToSchema)]
pub struct TokenResponse {
    pub user: UserView,
    pub access_token: String,
    pub refresh_token: String,
    /// Always `Bearer`.
    #[schema(value_type = String, example = "Bearer")]
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

#[derive(Debug, Serialize, ToSchema)]
pub struct AuthorView {
    pub username: String,
    pub public_id: Uuid,
}

/// A recipe for the API and the pages alike.
#[derive(Debug, Serialize, ToSchema)]
pub struct RecipeView {
    pub id: i64,
    pub name: String,
    pub description: String,
    /// Minutes.
    pub cook_time: i32,
    pub directions: String,
    pub visibility: Visibility,
    pub author: AuthorView,
    #[schema(format = DateTime)]
    pub created_at: String,
    #[schema(format = DateTime)]
    pub updated_at: String,
}

impl From<RecipeRow> for RecipeView {
    fn from(row: RecipeRow) -> Self {
        Self {
            id: row.id,
            name: row.name,
            description: row.description,
            cook_time: row.cook_time,
            directions: row.directions.unwrap_or_default(),
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
#[derive(Debug, Serialize, ToSchema)]
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
    pub ip: String,
    pub created: String,
    pub last_used: String,
    /// When it ends at the latest (`session_max_age` after its login),
    /// however much it is used.
    pub ends: String,
    pub current: bool,
}

impl SessionView {
    pub fn new(session: &session::Model, current_sid: Uuid, ends_at: i64) -> Self {
        let ends = time::OffsetDateTime::from_unix_timestamp(ends_at).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        Self {
            ends: human(ends),
            sid: session.sid,
            device: device::describe(session.user_agent.as_deref()),
            ip: session.ip_address.clone().unwrap_or_else(|| "—".into()),
            created: human(session.created_at.0),
            last_used: human(session.last_used_at.0),
            current: session.sid == current_sid,
        }
    }
}

/// One audit event on a page.
#[derive(Debug, Serialize)]
pub struct EventView {
    pub kind: AuditKind,
    pub when: String,
    pub label: &'static str,
    pub summary: Option<String>,
    /// Who did it: a username, "—" when nobody known, or "deleted account".
    pub actor: String,
    /// Whom it was about, and the `public_id` to link to while they exist.
    pub subject: String,
    pub subject_link: Option<Uuid>,
    pub device: String,
    pub ip: String,
}

impl From<EventRow> for EventView {
    fn from(row: EventRow) -> Self {
        let name = |id: Option<Uuid>, username: Option<String>| match (id, username) {
            (Some(_), Some(username)) => username,
            (Some(_), None) => "deleted account".to_owned(),
            (None, _) => "—".to_owned(),
        };
        Self {
            kind: row.kind,
            when: human(row.created_at.0),
            label: row.kind.label(),
            summary: crate::audit::describe(row.kind, &row.detail),
            actor: name(row.actor_public_id, row.actor_username),
            subject_link: row.subject_public_id.filter(|_| row.subject_username.is_some()),
            subject: name(row.subject_public_id, row.subject_username),
            device: device::describe(row.user_agent.as_deref()),
            ip: row.ip_address.unwrap_or_else(|| "—".into()),
        }
    }
}

/// A user in the admin's table.
#[derive(Debug, Serialize)]
pub struct AdminUserView {
    pub public_id: Uuid,
    pub username: String,
    pub email: String,
    pub role: Role,
    pub disabled: bool,
    pub verified: bool,
    pub status: &'static str,
    pub created: String,
    pub last_login: String,
    /// Two-step login is on.
    pub two_factor: bool,
}

impl AdminUserView {
    pub fn with_two_factor(mut self, on: bool) -> Self {
        self.two_factor = on;
        self
    }
}

impl From<&user::Model> for AdminUserView {
    fn from(user: &user::Model) -> Self {
        Self {
            public_id: user.public_id,
            username: user.username.clone(),
            email: user.email.clone(),
            role: user.role,
            disabled: user.disabled_at.is_some(),
            verified: user.email_verified_at.is_some(),
            status: if user.disabled_at.is_some() { "disabled" } else { "active" },
            created: human(user.created_at.0),
            last_login: user.last_login_at.map_or_else(|| "never".to_owned(), |at| human(at.0)),
            two_factor: false,
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn spans_are_told_in_their_largest_whole_unit() {
        for (seconds, told) in [(2_592_000, "30 days"), (86_400, "1 day"), (7_200, "2 hours"), (90, "1 minute"), (1, "1 second"), (59, "59 seconds")] {
            assert_eq!(super::span(seconds), told, "{seconds} s");
        }
    }
}
