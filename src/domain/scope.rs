//! What a personal access token may do (SPEC.md §5): `crate::pat`'s
//! scopes, here so that errors and views can name them.

use std::fmt;

/// One right a token may hold.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize)]
pub enum Scope {
    /// The owner's private recipes (public ones need no token).
    #[serde(rename = "recipes:read")]
    RecipesRead,
    /// Create, edit and delete the owner's recipes.
    #[serde(rename = "recipes:write")]
    RecipesWrite,
    /// `/api/v1/me` and the export.
    #[serde(rename = "account:read")]
    AccountRead,
    /// The admin API, while the owner is an admin.
    #[serde(rename = "admin")]
    Admin,
}

impl Scope {
    pub const ALL: [Scope; 4] = [Scope::RecipesRead, Scope::RecipesWrite, Scope::AccountRead, Scope::Admin];

    pub fn as_str(self) -> &'static str {
        match self {
            Scope::RecipesRead => "recipes:read",
            Scope::RecipesWrite => "recipes:write",
            Scope::AccountRead => "account:read",
            Scope::Admin => "admin",
        }
    }

    /// What it allows, in words, for the form.
    pub fn description(self) -> &'static str {
        match self {
            Scope::RecipesRead => "read your private recipes",
            Scope::RecipesWrite => "write, edit and delete your recipes",
            Scope::AccountRead => "read your account and export your data",
            Scope::Admin => "use the admin API (only while you are an admin)",
        }
    }

    pub fn parse(raw: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == raw)
    }

    fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A set of scopes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Scopes(u8);

impl Scopes {
    pub fn contains(self, scope: Scope) -> bool {
        self.0 & scope.bit() != 0
    }

    pub fn insert(&mut self, scope: Scope) {
        self.0 |= scope.bit();
    }

    pub fn is_empty(self) -> bool {
        self.0 == 0
    }

    pub fn iter(self) -> impl Iterator<Item = Scope> {
        Scope::ALL.into_iter().filter(move |scope| self.contains(*scope))
    }

    /// As stored: the names, separated by spaces, in a fixed order.
    pub fn to_stored(self) -> String {
        self.iter().map(Scope::as_str).collect::<Vec<_>>().join(" ")
    }

    /// From the stored column; a name this build does not know is left out
    /// (it grants nothing).
    pub fn parse_stored(raw: &str) -> Scopes {
        let mut scopes = Scopes::default();
        for scope in raw.split(' ').filter_map(Scope::parse) {
            scopes.insert(scope);
        }
        scopes
    }
}

impl FromIterator<Scope> for Scopes {
    fn from_iter<I: IntoIterator<Item = Scope>>(iter: I) -> Self {
        let mut scopes = Scopes::default();
        for scope in iter {
            scopes.insert(scope);
        }
        scopes
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scopes_round_trip_through_the_stored_column() {
        let scopes: Scopes = [Scope::Admin, Scope::RecipesRead].into_iter().collect();
        assert_eq!(scopes.to_stored(), "recipes:read admin");
        assert_eq!(Scopes::parse_stored("recipes:read admin"), scopes);
        assert!(!scopes.contains(Scope::RecipesWrite));
        assert_eq!(Scopes::parse_stored("recipes:read everything"), [Scope::RecipesRead].into_iter().collect());
        assert!(Scopes::parse_stored("").is_empty());
        for scope in Scope::ALL {
            assert_eq!(Scope::parse(scope.as_str()), Some(scope));
        }
    }
}
