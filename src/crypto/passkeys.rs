//! The WebAuthn relying party (SPEC.md §4 passkeys), through `webauthn-rs`:
//! its id is `public_url`'s host and the only origin it accepts is
//! `public_url`'s. Browsers refuse an IP address as relying party, so on
//! such an address passkeys are off (and the pages say so).

use webauthn_rs::prelude::{CreationChallengeResponse, Url};
use webauthn_rs_proto::ResidentKeyRequirement;
use webauthn_rs::{Webauthn, WebauthnBuilder};

const RP_NAME: &str = "recipebox";

/// The relying party of `public_url`, or why passkeys are off there.
pub fn relying_party(public_url: &str) -> Result<Webauthn, String> {
    let origin = Url::parse(public_url).map_err(|e| format!("public_url is not a URL: {e}"))?;
    let host = origin.host_str().ok_or_else(|| format!("{public_url} has no host"))?.to_owned();
    if host.starts_with('[') || host.parse::<std::net::IpAddr>().is_ok() {
        return Err(format!("{public_url} names an IP address, which browsers refuse for passkeys: use a host name such as localhost"));
    }
    WebauthnBuilder::new(&host, &origin)
        .and_then(|builder| builder.rp_name(RP_NAME).build())
        .map_err(|e| format!("no WebAuthn relying party for {public_url}: {e}"))
}

/// Registration options that ask for a discoverable credential (a
/// passkey proper): one that can sign in with no user name typed, and that
/// the browser offers in the login form's autofill. `webauthn-rs` leaves
/// that to the authenticator; the server-side state does not depend on it.
pub fn discoverable(mut options: CreationChallengeResponse) -> CreationChallengeResponse {
    if let Some(selection) = options.public_key.authenticator_selection.as_mut() {
        selection.resident_key = Some(ResidentKeyRequirement::Required);
        selection.require_resident_key = true;
    }
    options
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_public_urls_host_and_never_an_ip_address() {
        assert!(relying_party("http://localhost:8000").is_ok());
        assert!(relying_party("https://recipes.example.com").is_ok());
        let refused = relying_party("http://127.0.0.1:8000").err().unwrap();
        assert!(refused.contains("IP address"), "{refused}");
        assert!(relying_party("http://[::1]:8000").is_err());
    }

    #[test]
    fn registration_asks_for_a_discoverable_credential() {
        let webauthn = relying_party("http://localhost:8000").unwrap();
        let (options, _state) = webauthn.start_passkey_registration(uuid::Uuid::new_v4(), "ann@example.com", "ann", None).unwrap();
        let options = discoverable(options);
        let selection = options.public_key.authenticator_selection.unwrap();
        assert_eq!(selection.resident_key, Some(ResidentKeyRequirement::Required));
        assert!(selection.require_resident_key);
        assert_eq!(options.public_key.rp.id, "localhost");
    }
}
