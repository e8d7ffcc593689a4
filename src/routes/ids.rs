//! SPEC.md §4: a path id that is not a valid id (`/recipes/abc`,
//! `/admin/users/not-a-uuid`) is an unknown path, a 404 for everyone.
//!
//! Rocket 0.5 runs a route's request guards before it parses the path
//! parameters, so on its own a visitor at `/recipes/abc/edit` would first be
//! sent to log in and a plain user would get 403. [`ValidIds`], the first
//! argument of every route with an id in its path, checks the ids first and
//! forwards when one does not parse; the catch-all routes then answer 404.
//! The route's parameter name says what an id is, by the convention of this
//! code base: `<id>` a recipe's integer id, `<public_id>`, `<sid>` and
//! `<token_id>` (a personal access token's public id) UUIDs,
//! `<action>` one of the admin actions (`/admin/users/<public_id>/<action>`),
//! so that `/admin/users/{id}/explode` is a 404 for everyone too.

use std::convert::Infallible;

use rocket::http::Status;
use rocket::request::{FromParam, FromRequest, Outcome, Request};
use uuid::Uuid;

/// `<action>`: the admin's actions on a user that take nothing but a
/// confirmation (`crate::routes::pages::admin`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdminAction {
    Disable,
    Enable,
    Logout,
    Delete,
}

impl<'a> FromParam<'a> for AdminAction {
    type Error = &'a str;

    fn from_param(param: &'a str) -> Result<Self, &'a str> {
        match param {
            "disable" => Ok(AdminAction::Disable),
            "enable" => Ok(AdminAction::Enable),
            "logout" => Ok(AdminAction::Logout),
            "delete" => Ok(AdminAction::Delete),
            other => Err(other),
        }
    }
}

impl AdminAction {
    pub fn path(self) -> &'static str {
        match self {
            AdminAction::Disable => "disable",
            AdminAction::Enable => "enable",
            AdminAction::Logout => "logout",
            AdminAction::Delete => "delete",
        }
    }
}

/// Proof that every id in the request's path parses.
pub struct ValidIds;

fn valid(name: &str, value: &str) -> bool {
    match name {
        "id" => value.parse::<i64>().is_ok(),
        "public_id" | "sid" | "token_id" => Uuid::parse_str(value).is_ok(),
        "action" => <AdminAction as FromParam>::from_param(value).is_ok(),
        _ => true,
    }
}

/// Pairs each `<name>` segment of `route` with the request's segment there.
fn ids_valid(route: &str, path: &str) -> bool {
    route
        .split('/')
        .zip(path.split('/'))
        .filter_map(|(pattern, value)| Some((pattern.strip_prefix('<')?.strip_suffix('>')?, value)))
        .all(|(name, value)| valid(name, value))
}

#[rocket::async_trait]
impl<'r> FromRequest<'r> for ValidIds {
    type Error = Infallible;

    async fn from_request(req: &'r Request<'_>) -> Outcome<Self, Infallible> {
        let Some(route) = req.route() else {
            return Outcome::Success(ValidIds);
        };
        if ids_valid(route.uri.path(), req.uri().path().as_str()) {
            Outcome::Success(ValidIds)
        } else {
            Outcome::Forward(Status::NotFound)
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_checked_by_the_name_of_their_segment() {
        let uuid = "4f1c2a9e-8d7b-4c3a-9f2e-1a2b3c4d5e6f";
        for (route, path, expected) in [
            ("/recipes/<id>/edit", "/recipes/12/edit", true),
            ("/recipes/<id>/edit", "/recipes/abc/edit", false),
            ("/admin/users/<public_id>", &format!("/admin/users/{uuid}") as &str, true),
            ("/admin/users/<public_id>", "/admin/users/not-a-uuid", false),
            ("/admin/users/<public_id>/<action>", &format!("/admin/users/{uuid}/disable"), true),
            ("/admin/users/<public_id>/<action>", &format!("/admin/users/{uuid}/explode"), false),
            ("/me/sessions/<sid>/revoke", "/me/sessions/x/revoke", false),
            ("/me/tokens/<token_id>/revoke", &format!("/me/tokens/{uuid}/revoke"), true),
            ("/me/tokens/<token_id>/revoke", "/me/tokens/12/revoke", false),
            ("/admin/users/<public_id>/tokens/<token_id>/revoke", &format!("/admin/users/{uuid}/tokens/nope/revoke"), false),
            ("/recipes", "/recipes", true),
        ] {
            assert_eq!(super::ids_valid(route, path), expected, "case {path}");
        }
    }
}
