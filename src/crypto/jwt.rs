//! JWT claims and their verification (SPEC.md §3).
//!
//! One `Validation`, built once: HS256 only (`none`, HS512 and every other
//! algorithm are refused before the signature is even computed), signature,
//! `exp` and `nbf` with 30 s of leeway, `iss` = `recipebox`, and the presence
//! of `exp`, `nbf`, `iss` and `sub`. jsonwebtoken's defaults (60 s leeway, no
//! `nbf` check) do not meet SPEC.md, hence every field is set here. The other
//! claims are required by `Claims` having no optional field, and the token's
//! `type` is checked against what the route expects.
//!
//! Every request of a session presents the same access token, so the claims
//! of an access token that verified are kept under the whole token
//! (`crate::kept`, no version: what the token's bytes say never changes):
//! the same bytes again skip the signature, base64 and JSON
//! (bench/RESULTS.md), and only `exp` is checked again. Revocation is not
//! decided here, so keeping a verified token's claims lets no revoked token
//! through; only tokens this server signed are ever kept.

use std::fmt;

use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::config::JwtSecret;
use crate::domain::Role;
use crate::error::AuthError;
use crate::kept::{Kept, Weigh};

pub const ISSUER: &str = "recipebox";
pub const LEEWAY_SECONDS: u64 = 30;
/// The kind of kept answer: the claims of a verified access token.
const VERIFIED: &str = "verified access token";

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TokenType {
    Access,
    Refresh,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::Access => "access",
            TokenType::Refresh => "refresh",
        }
    }
}

/// Every claim of SPEC.md §3; all required when decoding.
#[derive(Clone, Serialize, Deserialize)]
pub struct Claims {
    pub iss: String,
    pub sub: Uuid,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
    pub jti: Uuid,
    #[serde(rename = "type")]
    pub token_type: TokenType,
    pub role: Role,
    pub csrf: String,
    pub sid: Uuid,
    pub fresh: bool,
}

impl fmt::Debug for Claims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Claims")
            .field("sub", &self.sub)
            .field("type", &self.token_type)
            .field("sid", &self.sid)
            .field("exp", &self.exp)
            .finish_non_exhaustive()
    }
}

impl Weigh for Claims {
    fn heap_bytes(&self) -> usize {
        self.iss.heap_bytes() + self.csrf.heap_bytes()
    }
}

/// Signing and verification keys plus the pinned validation rules.
pub struct JwtKeys {
    encoding: EncodingKey,
    decoding: DecodingKey,
    validation: Validation,
}

impl fmt::Debug for JwtKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("JwtKeys(<redacted>)")
    }
}

impl JwtKeys {
    pub fn new(secret: &JwtSecret) -> Self {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.algorithms = vec![Algorithm::HS256];
        validation.leeway = LEEWAY_SECONDS;
        validation.validate_exp = true;
        validation.validate_nbf = true;
        validation.validate_aud = false;
        validation.set_issuer(&[ISSUER]);
        validation.set_required_spec_claims(&["exp", "nbf", "iss", "sub"]);
        Self {
            encoding: EncodingKey::from_secret(secret.bytes()),
            decoding: DecodingKey::from_secret(secret.bytes()),
            validation,
        }
    }

    pub fn sign(&self, claims: &Claims) -> anyhow::Result<String> {
        Ok(jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)?)
    }

    /// Checks signature, time and shape, then that the token is of `expected`
    /// type. What the database knows (revocation) is `session`'s job.
    pub fn verify(&self, kept: &Kept, token: &str, expected: TokenType) -> Result<Claims, AuthError> {
        let claims = match kept.get::<Claims>(VERIFIED, &token, &[]) {
            Some(claims) if claims.exp < jsonwebtoken::get_current_timestamp() as i64 - LEEWAY_SECONDS as i64 => {
                return Err(AuthError::Expired);
            }
            Some(claims) => Claims::clone(&claims),
            None => self.verify_in_full(kept, token)?,
        };
        if claims.token_type != expected {
            return Err(AuthError::WrongType);
        }
        Ok(claims)
    }

    /// jsonwebtoken's whole check; keeps the claims of an access token.
    fn verify_in_full(&self, kept: &Kept, token: &str) -> Result<Claims, AuthError> {
        let claims = jsonwebtoken::decode::<Claims>(token, &self.decoding, &self.validation)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => AuthError::Expired,
                _ => AuthError::Invalid,
            })?
            .claims;
        if claims.token_type == TokenType::Access {
            kept.put(VERIFIED, &token, &[], claims.clone());
        }
        Ok(claims)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use base64::Engine as _;
    use serde_json::json;

    const SECRET: &str = "unit-test-secret-unit-test-secret-0123456789";

    fn keys() -> JwtKeys {
        JwtKeys::new(&crate::config::tests_support::secret(SECRET))
    }

    fn now() -> i64 {
        time::OffsetDateTime::now_utc().unix_timestamp()
    }

    fn claims_json(token_type: &str) -> serde_json::Value {
        let now = now();
        json!({
            "iss": ISSUER, "sub": Uuid::new_v4(), "iat": now, "nbf": now, "exp": now + 60,
            "jti": Uuid::new_v4(), "type": token_type, "role": "user", "csrf": "c", "sid": Uuid::new_v4(), "fresh": true,
        })
    }

    fn sign_raw(claims: &serde_json::Value, alg: Algorithm, secret: &str) -> String {
        jsonwebtoken::encode(&Header::new(alg), claims, &EncodingKey::from_secret(secret.as_bytes())).unwrap()
    }

    #[test]
    fn a_well_formed_token_of_the_right_type_verifies() {
        let token = sign_raw(&claims_json("access"), Algorithm::HS256, SECRET);
        assert!(keys().verify(&Kept::new(1 << 20), &token, TokenType::Access).is_ok());
        assert_eq!(keys().verify(&Kept::new(1 << 20), &token, TokenType::Refresh).unwrap_err(), AuthError::WrongType);
    }

    #[test]
    fn a_kept_token_is_checked_again_for_type_and_expiry_and_only_its_own_bytes_match() {
        let (keys, kept) = (keys(), Kept::new(1 << 20));
        let token = sign_raw(&claims_json("access"), Algorithm::HS256, SECRET);
        let claims = keys.verify(&kept, &token, TokenType::Access).unwrap();
        assert!(kept.get::<Claims>(VERIFIED, &token, &[]).is_some(), "an access token that verified is kept");
        assert_eq!(keys.verify(&kept, &token, TokenType::Refresh).unwrap_err(), AuthError::WrongType, "kept, and still the wrong type");

        let (body, signature) = token.rsplit_once('.').unwrap();
        let flipped = if signature.starts_with('A') { 'B' } else { 'A' };
        let tampered = format!("{body}.{flipped}{}", &signature[1..]);
        assert_eq!(keys.verify(&kept, &tampered, TokenType::Access).unwrap_err(), AuthError::Invalid, "other bytes are verified in full");

        kept.put(VERIFIED, &token, &[], Claims { exp: now() - 31, ..claims });
        assert_eq!(keys.verify(&kept, &token, TokenType::Access).unwrap_err(), AuthError::Expired, "exp is checked on every use");

        let refresh = sign_raw(&claims_json("refresh"), Algorithm::HS256, SECRET);
        keys.verify(&kept, &refresh, TokenType::Refresh).unwrap();
        assert!(kept.get::<Claims>(VERIFIED, &refresh, &[]).is_none(), "a refresh token, used once, is not kept");
    }

    #[test]
    fn tokens_that_are_wrong_in_any_way_are_refused() {
        let base = claims_json("access");
        let with = |key: &str, value: serde_json::Value| {
            let mut c = base.clone();
            c[key] = value;
            c
        };
        let without = |key: &str| {
            let mut c = base.clone();
            c.as_object_mut().unwrap().remove(key);
            c
        };
        let cases = [
            ("another key", sign_raw(&base, Algorithm::HS256, "another-secret-another-secret-0123456789"), AuthError::Invalid),
            ("HS512", sign_raw(&base, Algorithm::HS512, SECRET), AuthError::Invalid),
            ("wrong iss", sign_raw(&with("iss", json!("evil")), Algorithm::HS256, SECRET), AuthError::Invalid),
            ("expired", sign_raw(&with("exp", json!(now() - 31)), Algorithm::HS256, SECRET), AuthError::Expired),
            ("nbf ahead", sign_raw(&with("nbf", json!(now() + 45)), Algorithm::HS256, SECRET), AuthError::Invalid),
            ("no csrf", sign_raw(&without("csrf"), Algorithm::HS256, SECRET), AuthError::Invalid),
            ("no nbf", sign_raw(&without("nbf"), Algorithm::HS256, SECRET), AuthError::Invalid),
            ("no sid", sign_raw(&without("sid"), Algorithm::HS256, SECRET), AuthError::Invalid),
            ("garbage", "not.a.token".to_owned(), AuthError::Invalid),
        ];
        for (case, token, expected) in cases {
            assert_eq!(keys().verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap_err(), expected, "case {case}");
        }
    }

    #[test]
    fn alg_none_is_refused() {
        let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let header = engine.encode(br#"{"alg":"none","typ":"JWT"}"#);
        let payload = engine.encode(claims_json("access").to_string());
        for token in [format!("{header}.{payload}."), format!("{header}.{payload}")] {
            assert_eq!(keys().verify(&Kept::new(1 << 20), &token, TokenType::Access).unwrap_err(), AuthError::Invalid);
        }
    }

    #[test]
    fn leeway_is_thirty_seconds_not_sixty() {
        let expired_recently = claims_json("access");
        let mut c = expired_recently.clone();
        c["exp"] = json!(now() - 20);
        assert!(keys().verify(&Kept::new(1 << 20), &sign_raw(&c, Algorithm::HS256, SECRET), TokenType::Access).is_ok());
        c["exp"] = json!(now() - 45);
        assert_eq!(
            keys().verify(&Kept::new(1 << 20), &sign_raw(&c, Algorithm::HS256, SECRET), TokenType::Access).unwrap_err(),
            AuthError::Expired
        );
    }
}
