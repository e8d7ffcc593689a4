use std::fmt;

use super::Invalid;

/// A syntactically valid email address, trimmed and lower-cased: the form in
/// which it is stored, compared and shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Email(String);

impl Email {
    /// RFC 5321's limit on a forward path.
    const MAX_LEN: usize = 254;

    pub fn parse(raw: &str) -> Result<Self, Invalid> {
        let email = raw.trim().to_lowercase();
        if email.is_empty() {
            return Err(Invalid::new("Enter your email address."));
        }
        if email.len() > Self::MAX_LEN {
            return Err(Invalid::new("An email address has at most 254 characters."));
        }
        // email_address follows RFC 5322; a dotless domain ("a@localhost") is
        // legal there but never what someone signing up to a website means.
        let domain_has_dot = email.rsplit_once('@').is_some_and(|(_, domain)| domain.contains('.'));
        if !email_address::EmailAddress::is_valid(&email) || !domain_has_dot {
            return Err(Invalid::new("Enter a valid email address, like name@example.com."));
        }
        Ok(Self(email))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn valid_addresses_are_trimmed_and_lower_cased() {
        for (raw, stored) in [
            ("ann@example.com", "ann@example.com"),
            ("  Ann.Lee@Example.COM ", "ann.lee@example.com"),
            ("a+tag@sub.example.org", "a+tag@sub.example.org"),
        ] {
            assert_eq!(Email::parse(raw).map(|e| e.0), Ok(stored.to_owned()), "case {raw:?}");
        }
    }

    #[test]
    fn invalid_addresses_are_refused() {
        let too_long = format!("{}@example.com", "a".repeat(250));
        for raw in ["", "   ", "ann", "ann@", "@example.com", "ann@@example.com", "ann@localhost", "a b@example.com", too_long.as_str()] {
            assert!(Email::parse(raw).is_err(), "case {raw:?} should be refused");
        }
    }
}
