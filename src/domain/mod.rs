//! Domain types: input parsed once at the edge into values that are valid by
//! construction ("parse, don't validate").
//!
//! Every type keeps its field private and is built only through `parse`, so a
//! function that takes an `Email` or a `CookTime` needs no check of its own.
//! Forms and JSON bodies both arrive as plain strings and go through the same
//! constructors, so the pages and the API cannot disagree about what is valid.
//! A parse failure is an [`Invalid`] message; callers file it under the field
//! name in a [`FieldErrors`].

mod audit;
mod email;
mod password;
mod recipe;
mod role;
mod scope;
mod username;

pub use audit::AuditKind;
pub use email::Email;
pub use password::{Password, PasswordRules, MAX_PASSWORD_BYTES};
pub use recipe::{CookTime, Description, Directions, NewRecipe, RecipeInput, RecipeName, Visibility};
pub use role::Role;
pub use scope::{Scope, Scopes};
pub use username::Username;

use std::collections::BTreeMap;

/// Why one value was refused, in words fit to show beside the field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Invalid(pub String);

impl Invalid {
    pub fn new(message: impl Into<String>) -> Self {
        Self(message.into())
    }
}

/// Messages keyed by field name, in a stable order. Rendered beside each form
/// field and as the API error's `fields` object.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
#[serde(transparent)]
pub struct FieldErrors(BTreeMap<String, String>);

impl FieldErrors {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn single(field: &str, message: impl Into<String>) -> Self {
        let mut errors = Self::new();
        errors.add(field, message);
        errors
    }

    /// Keeps the first message for a field: the most basic problem wins.
    pub fn add(&mut self, field: &str, message: impl Into<String>) {
        self.0.entry(field.to_owned()).or_insert_with(|| message.into());
    }

    /// Files the error of `result` under `field`, returning the value if any.
    pub fn check<T>(&mut self, field: &str, result: Result<T, Invalid>) -> Option<T> {
        result.map_err(|Invalid(message)| self.add(field, message)).ok()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, field: &str) -> Option<&str> {
        self.0.get(field).map(String::as_str)
    }

    /// One of the messages (the first field's, by name), if any.
    pub fn first_message(&self) -> Option<&str> {
        self.0.values().next().map(String::as_str)
    }

    /// `Ok(value)` when nothing was filed, else these errors.
    pub fn into_result<T>(self, value: impl FnOnce() -> T) -> Result<T, FieldErrors> {
        if self.is_empty() {
            Ok(value())
        } else {
            Err(self)
        }
    }
}

/// The length of user text in characters (Unicode scalar values), the unit
/// SPEC.md's limits are written in.
fn char_len(text: &str) -> usize {
    text.chars().count()
}
