//! Time-based one-time passwords (RFC 6238: SHA-1, 6 digits, 30 s steps),
//! through `totp-rs`, and the rules of which step a code may be accepted
//! for. Pure: the database keeps the last accepted step and takes a code
//! with a conditional write (`store::factors::take_step`), so a code is
//! accepted once across instances.
//!
//! A code is good for the current step and one step on either side (at
//! most 30 s of clock drift, SPEC §3's leeway), and only for a step after
//! the last one accepted: replaying a code, or an older one, fails.

use rand::RngCore;
use totp_rs::{Algorithm, Builder, Secret, Totp};

/// Seconds per step.
pub const STEP_SECONDS: u64 = 30;
/// Steps accepted on either side of the current one.
const SKEW: u16 = 1;
/// 160 random bits, as RFC 4226 recommends.
const SECRET_BYTES: usize = 20;
const ISSUER: &str = "recipebox";

/// A new random secret, in the base32 that apps take and the database keeps.
pub fn new_secret() -> String {
    let mut bytes = [0u8; SECRET_BYTES];
    rand::rng().fill_bytes(&mut bytes);
    Secret::from(bytes.to_vec()).to_base32()
}

fn totp(secret: &str, account: &str) -> anyhow::Result<Totp> {
    let secret = Secret::try_from_base32(secret).map_err(|e| anyhow::anyhow!("a stored TOTP secret is not base32: {e}"))?;
    // The `otpauth` label may not hold a colon.
    let account = account.replace(':', " ");
    Builder::new()
        .with_algorithm(Algorithm::SHA1)
        .with_digits(6)
        .with_skew(SKEW)
        .with_step_duration(STEP_SECONDS)
        .with_secret(secret)
        .with_issuer(Some(ISSUER))
        .with_account_name(account)
        .build()
        .map_err(|e| anyhow::anyhow!("TOTP parameters refused: {e}"))
}

/// The time step a code matches at `now` (Unix seconds), if any: the
/// current one or a neighbour. The comparison is constant-time (`totp-rs`'s
/// `Token` equality).
pub fn matching_step(secret: &str, code: &str, now: u64) -> anyhow::Result<Option<u64>> {
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return Ok(None);
    }
    Ok(totp(secret, "")?.check(code, now))
}

/// Whether a code of `step` may be accepted after `last` was: only a later
/// step (a replay, or a code older than one already used, is refused).
pub fn is_new_step(step: u64, last: Option<i64>) -> bool {
    last.is_none_or(|last| i64::try_from(step).is_ok_and(|step| step > last))
}

/// The `otpauth://` address an authenticator app reads from the QR code.
pub fn setup_url(secret: &str, account: &str) -> anyhow::Result<String> {
    totp(secret, account)?.to_url().map_err(|e| anyhow::anyhow!("no otpauth address: {e}"))
}

/// `text` as a QR code in an inline SVG: drawn here, no request leaves the
/// page and no script runs.
pub fn qr_svg(text: &str) -> anyhow::Result<String> {
    let code = qrcode::QrCode::with_error_correction_level(text, qrcode::EcLevel::M)?;
    let svg = code.render::<qrcode::render::svg::Color<'_>>().min_dimensions(200, 200).quiet_zone(true).build();
    // Inline in HTML: no XML declaration, and a name for screen readers.
    let start = svg.find("<svg").ok_or_else(|| anyhow::anyhow!("the QR renderer made no <svg>"))?;
    Ok(svg[start..].replacen("<svg ", r#"<svg role="img" aria-label="QR code of the setup key" class="qr" "#, 1))
}

/// A code for `now` (the tests' authenticator app).
#[cfg(test)]
pub fn code_at(secret: &str, now: u64) -> String {
    totp(secret, "").map(|t| t.generate(now).to_string()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 6238 appendix B's SHA-1 key, "12345678901234567890".
    const RFC_SECRET: &str = "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ";

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 B: 94287082 at 59 s, 07081804 at 1111111109 s (8 digits;
        // the 6-digit code is their last six).
        assert_eq!(code_at(RFC_SECRET, 59), "287082");
        assert_eq!(code_at(RFC_SECRET, 1_111_111_109), "081804");
    }

    #[test]
    fn a_code_is_good_one_step_either_side_and_no_further() {
        let secret = new_secret();
        let now = 1_800_000_015; // mid-step
        let step = now / STEP_SECONDS;
        let code = code_at(&secret, now);
        assert_eq!(matching_step(&secret, &code, now).unwrap(), Some(step));
        assert_eq!(matching_step(&secret, &code, now + 30).unwrap(), Some(step), "the next step still takes it");
        assert_eq!(matching_step(&secret, &code, now - 30).unwrap(), Some(step), "a clock 30 s behind");
        assert_eq!(matching_step(&secret, &code, now + 60).unwrap(), None, "two steps on");
        assert_eq!(matching_step(&secret, &code, now - 60).unwrap(), None, "two steps back");
    }

    #[test]
    fn the_step_changes_exactly_on_the_30_second_edge() {
        let secret = new_secret();
        let edge = 1_800_000_030; // a multiple of 30
        let before = code_at(&secret, edge - 1);
        let after = code_at(&secret, edge);
        assert_eq!(matching_step(&secret, &before, edge - 1).unwrap(), Some(edge / 30 - 1));
        assert_eq!(matching_step(&secret, &after, edge).unwrap(), Some(edge / 30));
        assert_eq!(code_at(&secret, edge - 30), before, "the same step, the same code");
        // Code of the step before last: refused right on the edge.
        let old = code_at(&secret, edge - 31);
        assert_eq!(matching_step(&secret, &old, edge).unwrap(), None);
    }

    #[test]
    fn a_step_is_accepted_once_and_never_an_earlier_one() {
        assert!(is_new_step(100, None), "the first code");
        assert!(is_new_step(101, Some(100)));
        assert!(!is_new_step(100, Some(100)), "a replay");
        assert!(!is_new_step(99, Some(100)), "an older code after a newer one");
    }

    #[test]
    fn anything_but_six_digits_matches_nothing() {
        let secret = new_secret();
        for code in ["", "12345", "1234567", "12 456", "abcdef", "１２３４５６"] {
            assert_eq!(matching_step(&secret, code, 1_800_000_000).unwrap(), None, "case {code:?}");
        }
    }

    #[test]
    fn the_setup_url_and_qr_code_carry_the_secret_and_nothing_from_outside() {
        let secret = new_secret();
        let url = setup_url(&secret, "ann@example.com").unwrap();
        assert!(url.starts_with("otpauth://totp/recipebox:ann%40example.com?"), "{url}");
        assert!(url.contains(&format!("secret={secret}")));
        let svg = qr_svg(&url).unwrap();
        assert!(svg.starts_with("<svg role=\"img\""));
        assert!(!svg.contains("<?xml") && !svg.contains("href") && !svg.contains("<script"));
    }
}
