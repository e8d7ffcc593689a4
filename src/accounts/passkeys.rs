//! Passkeys (SPEC.md §2, §4): added and removed on `/me/security`, used to
//! sign in without a password (a passkey is both factors), or as the
//! second step of a password login.
//!
//! Every ceremony has two halves. `begin_*` asks `webauthn-rs` for options
//! and stores its state in `passkey_ceremonies` under the SHA-256 of a
//! random token, which goes to the browser with the options; `finish_*`
//! takes that row (deleting it: single use, on any instance) and lets
//! `webauthn-rs` check the browser's answer against it: challenge, origin,
//! relying party, signature, user verification. A ceremony lasts five
//! minutes.
//!
//! The sign-in's ceremony is anyone's to begin, so it writes nothing: its
//! state (which names no user) goes to the browser sealed
//! (`crypto::sealed`), and only a finish whose signature verified writes,
//! recording the sealed token as spent so that it is used once.
//!
//! The signature counter is checked where the authenticator keeps one: a
//! counter that does not go up means a copy of the key exists somewhere;
//! the sign-in is refused and recorded (`passkey_clone_suspected`).

use sea_orm::TransactionTrait;
use serde::Serialize;
use sha2::{Digest, Sha256};
use uuid::Uuid;
use webauthn_rs::prelude::{
    CreationChallengeResponse, DiscoverableAuthentication, Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, RequestChallengeResponse, WebauthnError,
};
use webauthn_rs::Webauthn;

use super::two_factor::{self, Via};
use super::{link_token, notices, token_hash};
use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::auth::{Authenticated, ClientInfo};
use crate::domain::{AuditKind, FieldErrors};
use crate::entities::{passkey, user};
use crate::error::AppError;
use crate::store;

/// How long a begun ceremony can be finished.
const CEREMONY_SECONDS: i64 = 300;
/// The longest passkey name.
pub const NAME_CHARS: usize = 64;

const REGISTER: &str = "register";
/// A sign-in's sealed ceremony, spent.
const LOGIN_SPENT: &str = "login_spent";
const SECOND_STEP: &str = "second_step";

/// What a browser needs to run a ceremony: the options for
/// `navigator.credentials`, and the token that names the server's half.
#[derive(Serialize)]
pub struct Begun<T> {
    pub ceremony: String,
    #[serde(flatten)]
    pub options: T,
}

fn relying_party(app: &App) -> Result<&Webauthn, AppError> {
    app.passkeys.as_ref().map_err(|why| AppError::BadRequest(format!("Passkeys are off on this site: {why}")))
}

fn expired() -> AppError {
    AppError::BadRequest("This passkey request has expired or was used already. Try again.".into())
}

fn internal(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(anyhow::anyhow!("passkey state: {e}"))
}

fn credential_key(id: &[u8]) -> String {
    format!("{:x}", Sha256::digest(id))
}

async fn store_ceremony(app: &App, kind: &str, user_id: Option<i64>, state: &impl Serialize) -> Result<String, AppError> {
    let (token, hash) = link_token();
    let state = serde_json::to_string(state).map_err(internal)?;
    let expires_at = store::now().unix_timestamp() + CEREMONY_SECONDS;
    store::passkeys::begin(&app.db, kind, user_id, hash, state, expires_at).await?;
    Ok(token)
}

async fn take_ceremony<T: serde::de::DeserializeOwned>(app: &App, kind: &str, token: &str) -> Result<(Option<i64>, T), AppError> {
    let row = store::passkeys::take(&app.db, kind, &token_hash(token)).await?.ok_or_else(expired)?;
    let state = serde_json::from_str(&row.state).map_err(internal)?;
    Ok((row.user_id, state))
}

fn passkeys_of(rows: &[passkey::Model]) -> Result<Vec<Passkey>, AppError> {
    rows.iter().map(|row| serde_json::from_str::<Passkey>(&row.credential).map_err(internal)).collect()
}

// --- Adding and removing --------------------------------------------------

/// Begins adding a passkey to the caller's account.
pub async fn begin_registration(app: &App, user: &Authenticated) -> Result<Begun<CreationChallengeResponse>, AppError> {
    let webauthn = relying_party(app)?;
    let existing = passkeys_of(&store::passkeys::of_user(&app.db, user.id).await?)?;
    let exclude = existing.iter().map(|key| key.cred_id().clone()).collect();
    let (options, state) =
        webauthn.start_passkey_registration(user.public_id, &user.email, &user.username, Some(exclude)).map_err(internal)?;
    let ceremony = store_ceremony(app, REGISTER, Some(user.id), &state).await?;
    Ok(Begun { ceremony, options: crate::crypto::passkeys::discoverable(options) })
}

/// The name a passkey gets: as typed (trimmed, at most [`NAME_CHARS`]), or
/// the device it was added on.
fn passkey_name(typed: &str, client: &ClientInfo) -> String {
    let typed = typed.trim();
    let name = if typed.is_empty() { crate::client::device::describe(client.user_agent.as_deref()) } else { typed.to_owned() };
    name.chars().filter(|c| !c.is_control()).take(NAME_CHARS).collect()
}

/// Finishes adding a passkey: the account's factors change, so every
/// remembered browser is forgotten, and a notice is mailed.
pub async fn finish_registration(
    app: &App,
    user: &Authenticated,
    ceremony: &str,
    name: &str,
    credential: &RegisterPublicKeyCredential,
    client: &ClientInfo,
) -> Result<Uuid, AppError> {
    let webauthn = relying_party(app)?;
    let (owner, state): (_, PasskeyRegistration) = take_ceremony(app, REGISTER, ceremony).await?;
    if owner != Some(user.id) {
        return Err(expired());
    }
    let key = webauthn.finish_passkey_registration(credential, &state).map_err(|e| rejected(&e))?;
    let name = passkey_name(name, client);
    let account = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    let what = format!("A passkey named \"{name}\" was added to your recipebox account: it now logs in without a password");
    let advice = "If this was not you, remove the passkey on your account's security page at once and reset your password \
                  with the link below.";
    let text = notices::text(app, &account.username, &what, client, notices::Advice::Then(advice))?;
    let new = store::passkeys::NewPasskey {
        credential_key: credential_key(key.cred_id().as_ref()),
        credential: serde_json::to_string(&key).map_err(internal)?,
        name,
    };
    let txn = app.db.begin().await?;
    let Some(id) = store::passkeys::add(&txn, account.id, new).await? else {
        return Err(AppError::Conflict(FieldErrors::single("credential", "This passkey is registered already.")));
    };
    store::factors::forget_browsers(&txn, account.id).await?;
    app.mailer.commit_with(txn, &account.email, notices::PASSKEY_ADDED, text).await?;
    audit::record(app, client, Event::own(AuditKind::PasskeyAdded, user.public_id)).await;
    Ok(id)
}

/// Removes one of the caller's passkeys; someone else's (or an unknown)
/// id is `NotFound`.
pub async fn remove(app: &App, user: &Authenticated, id: Uuid, client: &ClientInfo) -> Result<(), AppError> {
    let account = store::users::find_by_public_id(&app.db, user.public_id).await?.ok_or(AppError::NotFound)?;
    let what = "A passkey was removed from your recipebox account";
    let text = notices::text(app, &account.username, what, client, notices::Advice::NewPassword)?;
    let txn = app.db.begin().await?;
    if !store::passkeys::remove(&txn, account.id, id).await? {
        return Err(AppError::NotFound);
    }
    store::factors::forget_browsers(&txn, account.id).await?;
    app.mailer.commit_with(txn, &account.email, notices::PASSKEY_REMOVED, text).await?;
    audit::record(app, client, Event::own(AuditKind::PasskeyRemoved, user.public_id)).await;
    Ok(())
}

/// A passkey as `/me/security` lists it.
pub async fn list(app: &App, user: &Authenticated) -> Result<Vec<passkey::Model>, AppError> {
    Ok(store::passkeys::of_user(&app.db, user.id).await?)
}

// --- Signing in -------------------------------------------------------------

/// Why `webauthn-rs` refused an answer, for the log; the client hears only
/// that the passkey was not accepted.
fn rejected(e: &WebauthnError) -> AppError {
    tracing::info!(error = %e, "passkey answer refused");
    AppError::PasskeyRejected
}

/// Begins a sign-in with any passkey of this site (discoverable
/// credentials: the browser asks which).
pub async fn begin_login(app: &App) -> Result<Begun<RequestChallengeResponse>, AppError> {
    let webauthn = relying_party(app)?;
    let (mut options, state) = webauthn.start_discoverable_authentication().map_err(internal)?;
    // The page chooses: autofill (conditional) or a button (modal).
    options.mediation = None;
    let expires_at = store::now().unix_timestamp() + CEREMONY_SECONDS;
    let ceremony = app.passkey_sign_ins.seal(&state, expires_at).map_err(internal)?;
    Ok(Begun { ceremony, options })
}

/// Checks a signature by `row`'s passkey, spends a sealed ceremony
/// (`sealed`: its token and expiry) once the signature verified, records
/// the key's use, and catches a counter that did not go up.
async fn verify_and_record(
    app: &App,
    row: &passkey::Model,
    subject: Uuid,
    client: &ClientInfo,
    sealed: Option<(&str, i64)>,
    check: impl FnOnce(&Passkey) -> Result<webauthn_rs::prelude::AuthenticationResult, WebauthnError>,
) -> Result<(), AppError> {
    let clone_suspected = || async {
        audit::record(app, client, Event::about(AuditKind::PasskeyCloneSuspected, Some(subject))).await;
        tracing::warn!(user = %subject, "a passkey's signature counter did not go up: a copy may exist");
        AppError::PasskeyRejected
    };
    let mut key: Passkey = serde_json::from_str(&row.credential).map_err(internal)?;
    let result = match check(&key) {
        Ok(result) => result,
        Err(WebauthnError::CredentialPossibleCompromise) => return Err(clone_suspected().await),
        Err(e) => return Err(rejected(&e)),
    };
    if let Some((token, expires_at)) = sealed {
        if !store::passkeys::spend(&app.db, LOGIN_SPENT, token_hash(token), expires_at).await? {
            return Err(expired());
        }
    }
    let changed = key.update_credential(&result).unwrap_or(false);
    let credential = if changed { Some(serde_json::to_string(&key).map_err(internal)?) } else { None };
    // The check above read the counter before another instance may have
    // recorded the same one: the conditional write decides.
    if !store::passkeys::used(&app.db, row.id, credential, i64::from(result.counter())).await? {
        return Err(clone_suspected().await);
    }
    Ok(())
}

/// Finishes a sign-in by passkey: the account whose passkey signed. A
/// disabled account is refused (403) after the signature proved right.
pub async fn finish_login(app: &App, ceremony: &str, credential: &PublicKeyCredential, client: &ClientInfo) -> Result<user::Model, AppError> {
    let webauthn = relying_party(app)?;
    let (state, expires_at): (DiscoverableAuthentication, i64) = app.passkey_sign_ins.open(ceremony).ok_or_else(expired)?;
    let (handle, credential_id) = webauthn.identify_discoverable_authentication(credential).map_err(|e| rejected(&e))?;
    let row = store::passkeys::by_credential(&app.db, &credential_key(credential_id)).await?.ok_or(AppError::PasskeyRejected)?;
    let user = store::users::find_by_id(&app.db, row.user_id).await?.ok_or(AppError::PasskeyRejected)?;
    if user.public_id != handle {
        return Err(AppError::PasskeyRejected);
    }
    verify_and_record(app, &row, user.public_id, client, Some((ceremony, expires_at)), |key| {
        webauthn.finish_discoverable_authentication_v2(credential, state, key)
    })
    .await?;
    if user.disabled_at.is_some() {
        let event = Event::about(AuditKind::LoginFailed, Some(user.public_id)).with(Detail::LoginFailed { reason: "disabled" });
        audit::record(app, client, event).await;
        return Err(AppError::Forbidden);
    }
    Ok(user)
}

/// Begins a passkey second step for the half-done login of `ticket`.
pub async fn begin_second_step(app: &App, ticket: &str) -> Result<Begun<RequestChallengeResponse>, AppError> {
    let webauthn = relying_party(app)?;
    let (user, _) = two_factor::ticket_holder(app, Via::Page, ticket).await?.ok_or(AppError::SecondFactorInvalid)?;
    let keys = passkeys_of(&store::passkeys::of_user(&app.db, user.id).await?)?;
    if keys.is_empty() {
        return Err(AppError::BadRequest("This account has no passkey.".into()));
    }
    let (options, state) = webauthn.start_passkey_authentication(&keys).map_err(internal)?;
    let ceremony = store_ceremony(app, SECOND_STEP, Some(user.id), &state).await?;
    Ok(Begun { ceremony, options })
}

/// Finishes a passkey second step: the ticket is used up and its account
/// and `next` come back, as with a code.
pub async fn finish_second_step(
    app: &App,
    ticket: &str,
    ceremony: &str,
    credential: &PublicKeyCredential,
    client: &ClientInfo,
) -> Result<(user::Model, two_factor::Resume), AppError> {
    let webauthn = relying_party(app)?;
    let (owner, state): (_, PasskeyAuthentication) = take_ceremony(app, SECOND_STEP, ceremony).await?;
    // The half-done login first: a dead one records no use of the key.
    let holder = two_factor::ticket_holder(app, Via::Page, ticket).await?.map(|(user, _)| user.id);
    if holder.is_none() || holder != owner {
        return Err(AppError::SecondFactorInvalid);
    }
    let row = store::passkeys::by_credential(&app.db, &credential_key(credential.get_credential_id())).await?;
    let row = row.filter(|row| Some(row.user_id) == owner).ok_or(AppError::PasskeyRejected)?;
    let user = store::users::find_by_id(&app.db, row.user_id).await?.ok_or(AppError::PasskeyRejected)?;
    verify_and_record(app, &row, user.public_id, client, None, |_| webauthn.finish_passkey_authentication(credential, &state)).await?;
    two_factor::spend(app, Via::Page, ticket, user.id).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_passkey_is_named_as_typed_or_after_its_device() {
        let client = ClientInfo {
            ip: None,
            user_agent: Some("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36".into()),
        };
        assert_eq!(passkey_name("  Phone  ", &client), "Phone");
        assert!(passkey_name("", &client).contains("Chrome"), "{}", passkey_name("", &client));
        assert_eq!(passkey_name(&"x".repeat(200), &client).chars().count(), NAME_CHARS);
        assert_eq!(passkey_name("a\u{7}b", &client), "ab");
    }
}
