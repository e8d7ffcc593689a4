use std::fmt;

use super::Invalid;

/// 3 to 32 of `A-Z a-z 0-9 _ . -`, kept in the case it was typed in.
/// Uniqueness is case-insensitive and goes through [`Username::key`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Username(String);

impl Username {
    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let name = raw.trim();
        if name.is_empty() {
            return Err(Invalid::new("Choose a username."));
        }
        if !(3..=32).contains(&name.len()) {
            return Err(Invalid::new("A username has 3 to 32 characters."));
        }
        if !name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-')) {
            return Err(Invalid::new(
                "A username may use only letters, digits, and _ . - (no spaces).",
            ));
        }
        Ok(Self(name.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The lower-cased form that the unique index holds.
    pub fn key(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl AsRef<str> for Username {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_within_the_rules_are_accepted_as_typed() {
        for raw in ["ann", "Ann_Lee", "a.b-c", "x".repeat(32).as_str(), "007"] {
            assert_eq!(Username::parse(raw).map(|u| u.0), Ok(raw.to_owned()), "case {raw:?}");
        }
        assert_eq!(Username::parse("MiXeD").unwrap().key(), "mixed");
    }

    #[test]
    fn usernames_outside_the_rules_are_refused() {
        for raw in ["", "ab", "x".repeat(33).as_str(), "ann lee", "ann@lee", "<script>", "josé"] {
            assert!(Username::parse(raw).is_err(), "case {raw:?} should be refused");
        }
    }
}
