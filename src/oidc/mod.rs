//! Signing in with an OpenID Connect provider (SPEC §4): the relying
//! party, beside [`crate::auth`] and [`crate::pat`]. It turns a browser's
//! return from a provider into the person the provider vouches for (an
//! [`Identity`]); what that person may do here is `accounts::identities`'.
//!
//! - **The flow.** [`Providers::begin`] sends the browser to the provider
//!   with the authorization code flow, PKCE S256, a `state` and a `nonce`.
//!   The browser keeps a sealed [`Flow`] in a cookie for [`FLOW_SECONDS`]:
//!   a random seed, the provider, where to go after. `state`, `nonce` and
//!   the PKCE verifier are derived from the seed under a key of the
//!   server's, so the cookie binds them to the browser that began without
//!   carrying them (an anonymous visitor writes no row), and the seed
//!   alone derives nothing.
//! - **The return.** [`Providers::finish`] takes the provider's answer
//!   only with that cookie and its `state`; checks the response's `iss`
//!   (RFC 9207) when there is one, and requires it when the provider says
//!   it sends one; exchanges the code with the verifier; checks the ID
//!   token (signature against the provider's keys, fetched again once when
//!   an unknown `kid` appears; issuer; audience; expiry; nonce); reads
//!   userinfo when the ID token has no email. The flow is then spent
//!   (`store::passkeys::spend`, whose unique hash decides on any
//!   instance), so a replayed answer is refused.
//! - **What is kept in memory** is each configured provider's discovery
//!   document and keys, for [`DISCOVERY_SECONDS`]: the provider's answer,
//!   not the database's, bounded by the providers configured. Nothing
//!   about a link is kept: every login reads it from the database, so an
//!   unlink is seen by every instance at its next request.
//! - **The HTTP client** never follows a redirect and gives up after
//!   [`REQUEST_TIMEOUT`]; a provider that is down or slow is
//!   [`OidcRefusal::Unreachable`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use hkdf::Hkdf;
use openidconnect::core::{
    CoreAuthDisplay, CoreAuthenticationFlow, CoreClaimName, CoreClaimType, CoreClient, CoreClientAuthMethod, CoreGrantType,
    CoreJsonWebKey, CoreJsonWebKeySet, CoreJweContentEncryptionAlgorithm, CoreJweKeyManagementAlgorithm, CoreResponseMode,
    CoreResponseType, CoreSubjectIdentifierType, CoreUserInfoClaims,
};
use openidconnect::{
    reqwest, AdditionalProviderMetadata, AuthorizationCode, ClaimsVerificationError, ClientId, ClientSecret, CsrfToken, EndpointMaybeSet,
    EndpointNotSet, EndpointSet, IssuerUrl, Nonce, OAuth2TokenResponse, PkceCodeChallenge, PkceCodeVerifier, ProviderMetadata,
    RedirectUrl, RequestTokenError, Scope, SignatureVerificationError, TokenResponse,
};
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;
use uuid::Uuid;

use crate::config::{AppConfig, OidcProvider};
use crate::crypto::sealed::Sealer;
use crate::error::{AppError, OidcRefusal};

/// How long a begun sign-in waits for the browser's return.
pub const FLOW_SECONDS: i64 = 600;
/// How long a provider's discovery document and keys are used before they
/// are fetched again.
const DISCOVERY_SECONDS: u64 = 3600;
/// How long a failed discovery is answered again without asking.
const FAILED_SECONDS: u64 = 5;
/// The least time between two fetches of a provider's keys for an unknown
/// `kid`: one visitor cannot make the server fetch them on every request.
const KEYS_REFETCH_SECONDS: u64 = 10;
/// How long one request to a provider may take, all told.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// The `kind` of a spent flow in `passkey_ceremonies` (which keeps spent
/// single-use values until they expire).
const FLOW_SPENT: &str = "oidc_flow";

/// RFC 9207's discovery flag, which openidconnect does not read.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
struct IssParameter {
    #[serde(default)]
    authorization_response_iss_parameter_supported: bool,
}

impl AdditionalProviderMetadata for IssParameter {}

type Metadata = ProviderMetadata<
    IssParameter,
    CoreAuthDisplay,
    CoreClientAuthMethod,
    CoreClaimName,
    CoreClaimType,
    CoreGrantType,
    CoreJweContentEncryptionAlgorithm,
    CoreJweKeyManagementAlgorithm,
    CoreJsonWebKey,
    CoreResponseMode,
    CoreResponseType,
    CoreSubjectIdentifierType,
>;

/// The client `from_provider_metadata` makes: the token and userinfo
/// endpoints are whatever discovery found.
type Client = CoreClient<EndpointSet, EndpointNotSet, EndpointNotSet, EndpointNotSet, EndpointMaybeSet, EndpointMaybeSet>;

/// A provider's discovery document and the client made from it.
struct Discovered {
    metadata: Metadata,
    client: Client,
    at: Instant,
    /// When the keys were last fetched again for an unknown `kid`.
    refetched_at: Option<Instant>,
}

/// One configured provider and what was last discovered about it.
struct Provider {
    config: OidcProvider,
    /// `config.issuer`, parsed once.
    issuer: IssuerUrl,
    redirect: RedirectUrl,
    discovered: rocket::tokio::sync::Mutex<Option<Arc<Discovered>>>,
    /// The last discovery that failed, and why: answered again for
    /// [`FAILED_SECONDS`], so that the visitors queued behind one slow
    /// attempt do not each wait for their own.
    failed: std::sync::Mutex<Option<(Instant, OidcRefusal)>>,
}

/// The configured providers (`oidc_providers`), in key order.
pub struct Providers {
    http: reqwest::Client,
    each: Vec<Provider>,
    flows: Sealer,
    /// Seals a first login's person for the sign-up page.
    signups: Sealer,
    /// Derives a flow's `state`, `nonce` and PKCE verifier from its seed.
    flow_key: [u8; 32],
    /// The issuers' origins, where the sign-in buttons' redirect may go
    /// (`crate::security` adds them to `form-action`).
    origins: Vec<String>,
}

/// What a browser keeps between leaving for the provider and coming back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Flow {
    /// The provider's key.
    pub provider: String,
    seed: String,
    /// Where the browser goes once logged in.
    pub next: Option<String>,
    /// The account that asked to link the provider (`None`: a login).
    pub link: Option<Uuid>,
}

/// The provider's answer, as the callback's query carries it.
#[derive(Debug, Default)]
pub struct Answer<'a> {
    pub code: Option<&'a str>,
    pub state: Option<&'a str>,
    pub iss: Option<&'a str>,
    pub error: Option<&'a str>,
}

/// The person a provider vouched for.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// The provider's key.
    pub provider: String,
    pub issuer: String,
    pub subject: String,
    pub email: Option<String>,
    pub email_verified: bool,
    /// The name the person goes by there, to suggest a username.
    pub preferred_username: Option<String>,
}

/// A provider as the pages show it.
#[derive(Debug, Clone, Serialize)]
pub struct Button {
    pub key: String,
    pub name: String,
}

fn unreachable(provider: &OidcProvider, why: impl std::fmt::Display) -> AppError {
    tracing::warn!(provider = %provider.key, error = %why, "an OpenID provider did not answer");
    AppError::Oidc(OidcRefusal::Unreachable(provider.name.clone()))
}

fn unverified(provider: &OidcProvider, why: impl std::fmt::Display) -> AppError {
    tracing::warn!(provider = %provider.key, error = %why, "an OpenID provider's answer was refused");
    AppError::Oidc(OidcRefusal::Unverified(provider.name.clone()))
}

fn expired(why: &str) -> AppError {
    tracing::info!(why, "a provider sign-in's return did not match a begun one");
    AppError::Oidc(OidcRefusal::Expired)
}

impl Providers {
    /// The providers of `config`; nothing is fetched until someone signs in.
    pub fn new(config: &AppConfig) -> anyhow::Result<Self> {
        let http = reqwest::ClientBuilder::new()
            .redirect(reqwest::redirect::Policy::none())
            .timeout(REQUEST_TIMEOUT)
            .connect_timeout(CONNECT_TIMEOUT)
            .build()?;
        let mut each = Vec::with_capacity(config.oidc_providers.len());
        let mut origins: Vec<String> = Vec::new();
        for provider in &config.oidc_providers {
            let issuer = IssuerUrl::new(provider.issuer.clone())?;
            let origin = issuer.url().origin().ascii_serialization();
            if !origins.contains(&origin) {
                origins.push(origin);
            }
            let redirect = format!("{}/login/oidc/{}/callback", config.mail.public_url, provider.key);
            each.push(Provider {
                config: provider.clone(),
                issuer,
                redirect: RedirectUrl::new(redirect)?,
                discovered: Default::default(),
                failed: Default::default(),
            });
        }
        let mut flow_key = [0u8; 32];
        Hkdf::<Sha256>::new(None, config.jwt_secret.bytes())
            .expand(b"recipebox oidc flow secrets", &mut flow_key)
            .expect("BUG: 32 bytes is a valid HKDF-SHA256 output length");
        Ok(Self {
            http,
            each,
            flows: Sealer::new(&config.jwt_secret, "recipebox oidc flow"),
            signups: Sealer::new(&config.jwt_secret, "recipebox oidc sign-up"),
            flow_key,
            origins,
        })
    }

    /// The providers' origins (their issuers'), each once.
    pub fn origins(&self) -> &[String] {
        &self.origins
    }

    /// The providers for the login and sign-up buttons.
    pub fn buttons(&self) -> Vec<Button> {
        self.each.iter().map(|p| Button { key: p.config.key.clone(), name: p.config.name.clone() }).collect()
    }

    /// The configured provider `key`; unknown is `NotFound`.
    pub fn config(&self, key: &str) -> Result<&OidcProvider, AppError> {
        self.provider(key).map(|p| &p.config)
    }

    fn provider(&self, key: &str) -> Result<&Provider, AppError> {
        self.each.iter().find(|p| p.config.key == key).ok_or(AppError::NotFound)
    }

    /// One of a flow's secrets, derived from its seed.
    fn secret(&self, seed: &str, what: &str) -> String {
        let mut out = [0u8; 32];
        Hkdf::<Sha256>::new(Some(seed.as_bytes()), &self.flow_key)
            .expand(what.as_bytes(), &mut out)
            .expect("BUG: 32 bytes is a valid HKDF-SHA256 output length");
        base64::Engine::encode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, out)
    }

    /// The provider's discovery document and client, fetched when none is
    /// kept or the kept one is older than [`DISCOVERY_SECONDS`].
    async fn discovered(&self, provider: &Provider) -> Result<Arc<Discovered>, AppError> {
        let mut slot = provider.discovered.lock().await;
        if let Some(kept) = slot.as_ref().filter(|d| d.at.elapsed() < Duration::from_secs(DISCOVERY_SECONDS)) {
            return Ok(kept.clone());
        }
        if let Some((_, refusal)) = crate::lock(&provider.failed).as_ref().filter(|(at, _)| at.elapsed() < Duration::from_secs(FAILED_SECONDS)) {
            return Err(AppError::Oidc(refusal.clone()));
        }
        let config = &provider.config;
        let discovery = Metadata::discover_async(provider.issuer.clone(), &self.http).await.map_err(|e| match e {
            openidconnect::DiscoveryError::Validation(why) => unverified(config, why),
            other => unreachable(config, other),
        });
        let metadata = match discovery {
            Ok(metadata) => metadata,
            Err(error) => {
                if let AppError::Oidc(refusal) = &error {
                    *crate::lock(&provider.failed) = Some((Instant::now(), refusal.clone()));
                }
                return Err(error);
            }
        };
        let fresh = Arc::new(Discovered {
            client: self.client(provider, &metadata),
            metadata,
            at: Instant::now(),
            refetched_at: None,
        });
        *slot = Some(fresh.clone());
        Ok(fresh)
    }

    fn client(&self, provider: &Provider, metadata: &Metadata) -> Client {
        CoreClient::from_provider_metadata(
            metadata.clone(),
            ClientId::new(provider.config.client_id.clone()),
            Some(ClientSecret::new(provider.config.client_secret.clone())),
        )
        .set_redirect_uri(provider.redirect.clone())
    }

    /// The provider's keys fetched again (an ID token named a `kid` the
    /// kept ones lack), at most once per [`KEYS_REFETCH_SECONDS`].
    async fn refetch_keys(&self, provider: &Provider, seen: &Arc<Discovered>) -> Result<Option<Arc<Discovered>>, AppError> {
        let mut slot = provider.discovered.lock().await;
        if let Some(kept) = slot.as_ref() {
            if !Arc::ptr_eq(kept, seen) {
                return Ok(Some(kept.clone()));
            }
            if kept.refetched_at.is_some_and(|at| at.elapsed() < Duration::from_secs(KEYS_REFETCH_SECONDS)) {
                return Ok(None);
            }
        }
        let keys = CoreJsonWebKeySet::fetch_async(seen.metadata.jwks_uri(), &self.http)
            .await
            .map_err(|e| unreachable(&provider.config, e))?;
        let metadata = seen.metadata.clone().set_jwks(keys);
        let fresh =
            Arc::new(Discovered { client: self.client(provider, &metadata), metadata, at: seen.at, refetched_at: Some(Instant::now()) });
        *slot = Some(fresh.clone());
        Ok(Some(fresh))
    }

    /// Begins a sign-in (or, with `link`, linking that account) through
    /// the provider `key`: the provider's URL to send the browser to, and
    /// the sealed [`Flow`] for the browser's cookie.
    pub async fn begin(&self, key: &str, next: Option<String>, link: Option<Uuid>) -> Result<(String, String), AppError> {
        let provider = self.provider(key)?;
        let discovered = self.discovered(provider).await?;
        let flow = Flow { provider: key.to_owned(), seed: crate::crypto::random_token(), next, link };
        let verifier = PkceCodeVerifier::new(self.secret(&flow.seed, "pkce"));
        let challenge = PkceCodeChallenge::from_code_verifier_sha256(&verifier);
        let state = self.secret(&flow.seed, "state");
        let nonce = self.secret(&flow.seed, "nonce");
        let mut request = discovered
            .client
            .authorize_url(CoreAuthenticationFlow::AuthorizationCode, move || CsrfToken::new(state), move || Nonce::new(nonce))
            .set_pkce_challenge(challenge);
        // `email` for the address; `profile` (a name to suggest) where offered.
        let offered = discovered.metadata.scopes_supported();
        for scope in ["email", "profile"] {
            if scope == "email" || offered.is_some_and(|offered| offered.iter().any(|s| s.as_str() == scope)) {
                request = request.add_scope(Scope::new(scope.into()));
            }
        }
        let (url, _, _) = request.url();
        if !self.origins.contains(&url.origin().ascii_serialization()) {
            tracing::warn!(provider = %key, "the provider's authorization endpoint is on another origin than its issuer: browsers will refuse the redirect (form-action)");
        }
        let expires_at = crate::store::now().unix_timestamp() + FLOW_SECONDS;
        let sealed = self.flows.seal(&flow, expires_at).map_err(AppError::Internal)?;
        Ok((url.to_string(), sealed))
    }

    /// The flow the browser's cookie holds, if it is one of ours, unexpired.
    pub fn flow(&self, cookie: Option<&str>) -> Option<(Flow, i64)> {
        self.flows.open(cookie?)
    }

    /// The person the provider vouches for in `answer`, which must match
    /// the browser's begun `flow` for provider `key` (see the module's
    /// documentation for every check). The flow is spent here.
    pub async fn finish(&self, db: &sea_orm::DatabaseConnection, key: &str, answer: Answer<'_>, flow: Option<(Flow, i64)>) -> Result<Identity, AppError> {
        let provider = self.provider(key)?;
        let config = &provider.config;
        let Some((flow, expires_at)) = flow.filter(|(flow, _)| flow.provider == key) else {
            return Err(expired("no begun sign-in for this provider in this browser"));
        };
        let state = self.secret(&flow.seed, "state");
        let state_matches = answer.state.is_some_and(|sent| bool::from(sent.as_bytes().ct_eq(state.as_bytes())));
        if !state_matches {
            return Err(expired("state does not match"));
        }
        if let Some(error) = answer.error {
            tracing::info!(provider = %config.key, error, "a provider answered a sign-in with an error");
            return Err(AppError::Oidc(OidcRefusal::Declined(config.name.clone())));
        }
        let discovered = self.discovered(provider).await?;
        let issuer = discovered.metadata.issuer().as_str().to_owned();
        match answer.iss {
            Some(iss) if iss == issuer => {}
            None if !discovered.metadata.additional_metadata().authorization_response_iss_parameter_supported => {}
            _ => return Err(unverified(config, "the answer's iss is not the provider's issuer")),
        }
        let code = answer.code.filter(|code| !code.is_empty()).ok_or_else(|| unverified(config, "no code"))?;
        let exchange = discovered.client.exchange_code(AuthorizationCode::new(code.to_owned())).map_err(|e| unverified(config, e))?;
        let token = exchange
            .set_pkce_verifier(PkceCodeVerifier::new(self.secret(&flow.seed, "pkce")))
            .request_async(&self.http)
            .await
            .map_err(|e| match e {
                // A code used already, expired, or not this flow's.
                RequestTokenError::ServerResponse(response) => {
                    tracing::info!(provider = %config.key, error = %response.error(), "a provider refused a code");
                    AppError::Oidc(OidcRefusal::Expired)
                }
                RequestTokenError::Request(e) => unreachable(config, e),
                other => unverified(config, other),
            })?;
        let id_token = token.id_token().ok_or_else(|| unverified(config, "no ID token"))?;
        let nonce = Nonce::new(self.secret(&flow.seed, "nonce"));
        let mut discovered = discovered;
        let claims = loop {
            let checked = id_token.claims(&discovered.client.id_token_verifier(), &nonce).cloned();
            match checked {
                Ok(claims) => break claims,
                Err(ClaimsVerificationError::SignatureVerification(SignatureVerificationError::NoMatchingKey)) => {
                    match self.refetch_keys(provider, &discovered).await? {
                        Some(fresh) if !Arc::ptr_eq(&fresh, &discovered) => discovered = fresh,
                        _ => return Err(unverified(config, "the ID token's key is not among the provider's")),
                    }
                }
                Err(e) => return Err(unverified(config, e)),
            }
        };
        let mut email = claims.email().map(|e| e.as_str().to_owned());
        let mut email_verified = claims.email_verified().unwrap_or(false);
        if email.is_none() {
            if let Ok(request) = discovered.client.user_info(token.access_token().to_owned(), Some(claims.subject().clone())) {
                let info: CoreUserInfoClaims = request.request_async(&self.http).await.map_err(|e| match e {
                    openidconnect::UserInfoError::Request(e) => unreachable(config, e),
                    other => unverified(config, other),
                })?;
                email = info.email().map(|e| e.as_str().to_owned());
                email_verified = info.email_verified().unwrap_or(false);
            }
        }
        // Spent once every check passed: a replayed answer stops here.
        let spent = format!("{:x}", Sha256::digest(format!("{key}:{state}")));
        if !crate::store::passkeys::spend(db, FLOW_SPENT, spent, expires_at).await? {
            return Err(expired("the flow was spent already"));
        }
        Ok(Identity {
            provider: key.to_owned(),
            issuer,
            subject: claims.subject().as_str().to_owned(),
            email,
            email_verified,
            preferred_username: claims.preferred_username().map(|name| name.as_str().to_owned()),
        })
    }

    /// Seals a provider's person for the sign-up page that follows a first
    /// login, with `next`, for [`FLOW_SECONDS`].
    pub fn seal_pending(&self, pending: &Pending) -> Result<String, AppError> {
        let expires_at = crate::store::now().unix_timestamp() + FLOW_SECONDS;
        self.signups.seal(pending, expires_at).map_err(AppError::Internal)
    }

    /// The pending sign-up the browser's cookie holds, if any.
    pub fn pending(&self, cookie: Option<&str>) -> Option<Pending> {
        self.signups.open::<Pending>(cookie?).map(|(pending, _)| pending)
    }
}

/// A first login through a provider, waiting for its username.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Pending {
    pub identity: Identity,
    pub next: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn providers(secret: &str) -> Providers {
        let figment = rocket::figment::Figment::new().merge(("jwt_secret", secret)).merge((
            "oidc_providers",
            serde_json::json!({ "staff": { "issuer": "http://127.0.0.1:9", "client_id": "c", "client_secret": "s", "name": "Staff" } }),
        ));
        Providers::new(&crate::config::load(&figment).unwrap()).unwrap()
    }

    #[test]
    fn a_flows_secrets_differ_by_seed_and_purpose_and_need_the_servers_key() {
        let one = providers("a secret of at least thirty-two bytes, for tests");
        let seed = crate::crypto::random_token();
        assert_ne!(seed, crate::crypto::random_token());
        let state = one.secret(&seed, "state");
        assert_eq!(state, one.secret(&seed, "state"), "derived again alike at the return");
        assert_ne!(state, one.secret(&seed, "nonce"));
        assert_ne!(state, one.secret(&crate::crypto::random_token(), "state"));
        assert!(!state.contains(&seed) && state.len() >= 43, "32 bytes, not the seed");
        let other = providers("another secret of at least thirty-two bytes, too");
        assert_ne!(state, other.secret(&seed, "state"), "the seed alone derives nothing");
    }

    #[test]
    fn a_flow_opens_only_where_it_was_sealed_and_is_not_a_pending_sign_up() {
        let one = providers("a secret of at least thirty-two bytes, for tests");
        let flow = Flow { provider: "staff".into(), seed: crate::crypto::random_token(), next: Some("/me".into()), link: None };
        let sealed = one.flows.seal(&flow, crate::store::now().unix_timestamp() + 60).unwrap();
        let (opened, _) = one.flow(Some(&sealed)).expect("it opens");
        assert_eq!((opened.provider.as_str(), opened.next.as_deref()), ("staff", Some("/me")));
        assert!(one.pending(Some(&sealed)).is_none(), "another purpose");
        assert!(providers("another secret of at least thirty-two bytes, too").flow(Some(&sealed)).is_none());
        assert!(one.flow(None).is_none() && one.flow(Some("forged")).is_none());
        assert_eq!(one.buttons()[0].name, "Staff");
        assert_eq!(one.each[0].redirect.as_str(), "http://localhost:8000/login/oidc/staff/callback");
        assert!(matches!(one.config("nowhere"), Err(AppError::NotFound)));
    }
}
