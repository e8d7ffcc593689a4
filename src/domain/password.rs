use std::collections::HashSet;
use std::fmt;
use std::sync::LazyLock;

use super::{char_len, Invalid};

/// bcrypt reads at most 72 bytes; SPEC.md §2 refuses longer passwords rather
/// than cutting them silently.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// The 10,000 most common passwords, most common first (from the ranked
/// list that zxcvbn ships, itself drawn from public password leaks).
static COMMON_PASSWORDS: LazyLock<HashSet<&'static str>> =
    LazyLock::new(|| include_str!("common_passwords.txt").lines().collect());

/// The configurable part of the password policy.
#[derive(Debug, Clone, Copy)]
pub struct PasswordRules {
    pub min_length: usize,
}

/// A new password that passed the policy of SPEC.md §2. Its `Debug` never
/// shows the text, so it cannot leak through a log line.
#[derive(Clone)]
pub struct Password(String);

impl Password {
    /// Checks a new password against the rules and the account it is for.
    /// The account's own email and username are refused (case-insensitively),
    /// and so is any of the common passwords: the list is lower-case, and
    /// "Password1" is no stronger than "password1".
    pub fn parse(raw: &str, rules: PasswordRules, email: &str, username: &str) -> Result<Self, Invalid> {
        if raw.is_empty() {
            return Err(Invalid::new("Choose a password."));
        }
        if char_len(raw) < rules.min_length {
            return Err(Invalid(format!(
                "A password needs at least {} characters.",
                rules.min_length
            )));
        }
        if raw.len() > MAX_PASSWORD_BYTES {
            return Err(Invalid::new(
                "A password can be at most 72 bytes long (bcrypt's limit); choose a shorter one.",
            ));
        }
        let lowered = raw.to_lowercase();
        if COMMON_PASSWORDS.contains(lowered.as_str()) {
            return Err(Invalid::new(
                "This password is one of the most common ones; choose another.",
            ));
        }
        let same_as = |other: &str| !other.trim().is_empty() && lowered == other.trim().to_lowercase();
        if same_as(email) || same_as(username) {
            return Err(Invalid::new("Your password must differ from your email and username."));
        }
        Ok(Self(raw.to_owned()))
    }

    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: PasswordRules = PasswordRules { min_length: 8 };

    fn parse(raw: &str) -> Result<Password, Invalid> {
        Password::parse(raw, RULES, "ann@example.com", "ann_lee")
    }

    #[test]
    fn the_common_list_holds_ten_thousand_lower_case_entries() {
        assert_eq!(COMMON_PASSWORDS.len(), 10_000);
        assert!(COMMON_PASSWORDS.contains("password"));
    }

    #[test]
    fn strong_passwords_are_accepted() {
        for raw in ["correct horse battery", "tR0ub4dor&3x", "ünïcödé-pässwörd", &"x1".repeat(36)] {
            assert!(parse(raw).is_ok(), "case {raw:?} should be accepted");
        }
    }

    #[test]
    fn weak_or_unfit_passwords_are_refused_with_a_reason() {
        for (raw, why) in [
            ("", "Choose"),
            ("short1!", "at least 8"),
            ("password", "common"),
            ("PassWord1", "common"),
            ("qwertyuiop", "common"),
            ("ANN@example.com", "differ"),
        ] {
            let err = parse(raw).expect_err(raw);
            assert!(err.0.contains(why), "case {raw:?}: {err:?} should mention {why:?}");
        }
        assert!(Password::parse("ann_lee_2", RULES, "a@b.co", "ann_lee_2").is_err(), "same as username");
    }

    #[test]
    fn a_password_over_72_bytes_is_refused_not_cut() {
        let exactly = "é".repeat(36); // 72 bytes
        assert!(parse(&exactly).is_ok());
        let err = parse(&format!("{exactly}x")).unwrap_err();
        assert!(err.0.contains("72 bytes"), "{err:?}");
    }

    #[test]
    fn debug_output_hides_the_password() {
        let password = parse("correct horse battery").unwrap();
        assert!(!format!("{password:?}").contains("horse"));
    }
}
