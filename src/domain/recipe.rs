use std::fmt;
use std::str::FromStr;

use sea_orm::entity::prelude::*;
use serde::{Deserialize, Serialize};

use super::{char_len, FieldErrors, Invalid};

/// 1 to 100 characters, not all blank. Stored exactly as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecipeName(String);

/// 0 to 1000 characters. Stored exactly as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Description(String);

/// 1 to 20000 characters, not all blank. Stored exactly as written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Directions(String);

/// Whole minutes, 1 to 1440 (one day).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CookTime(i32);

/// Checks `raw` is 1..=max characters and not only white space.
fn required_text(raw: &str, what: &str, max: usize) -> Result<String, Invalid> {
    if raw.trim().is_empty() {
        return Err(Invalid(format!("Enter {what}.")));
    }
    if char_len(raw) > max {
        return Err(Invalid(format!("At most {max} characters (this has {}).", char_len(raw))));
    }
    Ok(raw.to_owned())
}

impl RecipeName {
    pub const MAX: usize = 100;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        required_text(raw, "a name", Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Description {
    pub const MAX: usize = 1000;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        if char_len(raw) > Self::MAX {
            return Err(Invalid(format!("At most {} characters (this has {}).", Self::MAX, char_len(raw))));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Directions {
    pub const MAX: usize = 20_000;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        required_text(raw, "the directions", Self::MAX).map(Self)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl CookTime {
    pub const MAX: i64 = 1440;

    pub fn new(minutes: i64) -> Result<Self, Invalid> {
        if !(1..=Self::MAX).contains(&minutes) {
            return Err(Invalid::new("Cook time is 1 to 1440 minutes."));
        }
        Ok(Self(minutes as i32))
    }

    /// From a form field: a whole number of minutes, surrounding blanks allowed.
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err(Invalid::new("Enter the cook time in minutes."));
        }
        match raw.parse::<i64>() {
            Ok(minutes) => Self::new(minutes),
            Err(_) if raw.bytes().all(|b| b.is_ascii_digit()) => Self::new(i64::MAX),
            Err(_) => Err(Invalid::new("Cook time is a whole number of minutes, like 45.")),
        }
    }

    pub fn minutes(self) -> i32 {
        self.0
    }

    /// "45 min", "2 h", "1 h 30 min".
    pub fn display(minutes: i32) -> String {
        match (minutes / 60, minutes % 60) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m} min"),
        }
    }
}

/// Who may see a recipe: everyone, or only its owner and admins.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, EnumIter, DeriveActiveEnum, Serialize, Deserialize, utoipa::ToSchema)]
#[sea_orm(rs_type = "String", db_type = "String(StringLen::N(16))")]
#[serde(rename_all = "lowercase")]
pub enum Visibility {
    #[default]
    #[sea_orm(string_value = "public")]
    Public,
    #[sea_orm(string_value = "private")]
    Private,
}

impl Visibility {
    pub fn as_str(self) -> &'static str {
        match self {
            Visibility::Public => "public",
            Visibility::Private => "private",
        }
    }
}

impl FromStr for Visibility {
    type Err = Invalid;

    fn from_str(raw: &str) -> Result<Self, Invalid> {
        match raw.trim() {
            "" | "public" => Ok(Visibility::Public),
            "private" => Ok(Visibility::Private),
            _ => Err(Invalid::new("Visibility is public or private.")),
        }
    }
}

impl fmt::Display for Visibility {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A recipe as typed into the form or sent to the API, before any check.
#[derive(Debug, Clone, Default)]
pub struct RecipeInput {
    pub name: String,
    pub description: String,
    pub cook_time: String,
    pub directions: String,
    pub visibility: String,
}

/// A recipe whose every field passed its rules: the only thing the store
/// accepts for a create or an update.
#[derive(Debug, Clone)]
pub struct NewRecipe {
    pub name: RecipeName,
    pub description: Description,
    pub cook_time: CookTime,
    pub directions: Directions,
    pub visibility: Visibility,
}

impl NewRecipe {
    /// Checks every field and reports every problem at once.
    pub fn parse(input: &RecipeInput) -> Result<Self, FieldErrors> {
        let mut errors = FieldErrors::new();
        let name = errors.check("name", RecipeName::parse(&input.name));
        let description = errors.check("description", Description::parse(&input.description));
        let cook_time = errors.check("cook_time", CookTime::parse(&input.cook_time));
        let directions = errors.check("directions", Directions::parse(&input.directions));
        let visibility = errors.check("visibility", input.visibility.parse());
        match (name, description, cook_time, directions, visibility) {
            (Some(name), Some(description), Some(cook_time), Some(directions), Some(visibility)) => {
                Ok(Self { name, description, cook_time, directions, visibility })
            }
            _ => Err(errors),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn input() -> RecipeInput {
        RecipeInput {
            name: "Kimchi stew".into(),
            description: "".into(),
            cook_time: "45".into(),
            directions: "Simmer.".into(),
            visibility: "".into(),
        }
    }

    #[test]
    fn a_complete_recipe_parses_and_defaults_to_public() {
        let recipe = NewRecipe::parse(&input()).unwrap();
        assert_eq!(recipe.cook_time.minutes(), 45);
        assert_eq!(recipe.visibility, Visibility::Public);
    }

    #[test]
    fn text_is_kept_exactly_as_written() {
        let mut raw = input();
        raw.name = " <script>alert(1)</script> '; DROP TABLE recipes; -- 🍲".into();
        assert_eq!(NewRecipe::parse(&raw).unwrap().name.as_str(), raw.name);
    }

    #[test]
    fn every_bad_field_is_reported_at_once() {
        let raw = RecipeInput {
            name: "   ".into(),
            description: "d".repeat(1001),
            cook_time: "abc".into(),
            directions: "".into(),
            visibility: "secret".into(),
        };
        let errors = NewRecipe::parse(&raw).unwrap_err();
        for field in ["name", "description", "cook_time", "directions", "visibility"] {
            assert!(errors.get(field).is_some(), "{field} should have an error: {errors:?}");
        }
    }

    #[test]
    fn cook_time_bounds_and_forms() {
        for (raw, ok) in [
            ("1", true), ("1440", true), (" 30 ", true), ("0", false), ("1441", false), ("-5", false),
            ("2.5", false), ("abc", false), ("", false), ("99999999999999999999999", false),
        ] {
            assert_eq!(CookTime::parse(raw).is_ok(), ok, "case {raw:?}");
        }
    }

    #[test]
    fn names_and_directions_are_measured_in_characters() {
        assert!(RecipeName::parse(&"🍲".repeat(100)).is_ok());
        assert!(RecipeName::parse(&"🍲".repeat(101)).is_err());
        assert!(Directions::parse(&"x".repeat(20_000)).is_ok());
        assert!(Directions::parse(&"x".repeat(20_001)).is_err());
    }

    #[test]
    fn cook_time_reads_as_hours_and_minutes() {
        for (minutes, shown) in [(45, "45 min"), (60, "1 h"), (90, "1 h 30 min"), (1440, "24 h")] {
            assert_eq!(CookTime::display(minutes), shown);
        }
    }
}
