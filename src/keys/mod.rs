//! The keyring's life (SPEC.md §2, §3): the first key, rotation, the
//! `next` key's turn to sign, retirement, revocation and deletion, and the
//! one rule that lets an instance keep the keyring in memory.
//!
//! The rule: the keyring held in memory (`crypto::jwt::JwtKeys`) is the
//! database's as of its `keys` version, which triggers change in the same
//! transaction as every write to `signing_keys` (migration 20). The
//! guard's row brings the version now in the request's one round trip
//! ([`admit`]); when it differs, the keyring is read again before the token
//! is accepted. So a key revoked on one instance, by the command line, or
//! by hand is refused by every instance from its next request on, through a
//! crash at any instant. Before an instance signs, it reads the version
//! ([`current`]), so it does not sign with a key it does not know was
//! revoked or retired.
//!
//! Rotation: a new key is made `next` (every instance reads it with the
//! version it moved), and becomes `active` a minute later, when the old one
//! is `retired` ([`tick`], on every instance; the keyring row makes them
//! take turns, so it happens once). `--now` skips the minute. A retired key
//! verifies what it signed until all of that has expired, then is deleted:
//! nobody is logged out. Revoking the active key makes a new active key in
//! the same transaction (a leaked key must stop at once; signing must go
//! on). Each change is an audit event.

use std::sync::Arc;
use std::time::{Duration, Instant};

use jsonwebtoken::jwk::{
    AlgorithmParameters, CommonParameters, EllipticCurve, Jwk, JwkSet, KeyAlgorithm, OctetKeyPairParameters, OctetKeyPairType, PublicKeyUse,
};
use jsonwebtoken::Algorithm;
use sea_orm::{DatabaseConnection, TransactionTrait};

use crate::app::App;
use crate::audit::{self, Detail, Event};
use crate::client::ClientInfo;
use crate::config::{jwt_algorithm_name, AppConfig};
use crate::crypto::jwt::{Claims, JwtKeys, Refused, TokenType, LEEWAY_SECONDS};
use crate::crypto::keyring::{self, Keyring, State};
use crate::domain::AuditKind;
use crate::error::{AppError, AuthError};
use crate::store::{self, keys::NewKey, tokens::AuthRow};

/// How long a `next` key waits before it signs: every instance reads the
/// keyring well within it (each reads it when its version moves, at its
/// next request or [`TICK`]).
pub const NEXT_KEY_WAITS: i64 = 60;
/// How often each instance looks after the keyring.
pub const TICK: Duration = Duration::from_secs(10);

fn now() -> i64 {
    store::now().unix_timestamp()
}

/// What the keyring's life needs of the application: borrowed from `App`
/// in a request, owned by the task that looks after it ([`look_after`]).
#[derive(Clone, Copy)]
pub struct Ring<'a> {
    pub db: &'a DatabaseConnection,
    pub keys: &'a JwtKeys,
    pub config: &'a AppConfig,
}

impl<'a> From<&'a App> for Ring<'a> {
    fn from(app: &'a App) -> Self {
        Ring { db: &app.db, keys: &app.keys, config: &app.config }
    }
}

/// Reads the keyring and puts it in use. Of several requests that ask at
/// once, one reads; the others use what it read.
pub async fn read(r: Ring<'_>) -> Result<(), AppError> {
    let asked_at = Instant::now();
    let _turn = r.keys.reading.lock().await;
    if r.keys.ring().read_at > asked_at {
        return Ok(());
    }
    let read_at = Instant::now();
    // The version first: keys read after it are at least as new, so a
    // change made in between is read again at the next request.
    let version = store::keys::version(r.db).await?;
    let ring = store::keys::ring(r.db).await?;
    let rows = store::keys::all(r.db).await?;
    let ring = Keyring::open(version, read_at, &ring, &rows, &r.keys.cipher, r.config.refresh_token_ttl)
        .map_err(|e| AppError::Internal(e.into()))?;
    r.keys.install(ring);
    Ok(())
}

/// Reads the keyring again if its version moved: before signing.
pub async fn current(r: Ring<'_>) -> Result<(), AppError> {
    if store::keys::version(r.db).await? != r.keys.ring().version {
        read(r).await?;
    }
    Ok(())
}

/// Verifies `token` with the key its `kid` names. A `kid` this keyring
/// does not know may be a key made since it was read: it is read again,
/// at most once a second, whatever clients send.
pub async fn verify(app: &App, token: &str, expected: TokenType) -> Result<Claims, AppError> {
    match app.keys.verify(&app.kept, token, expected) {
        Ok(claims) => Ok(claims),
        Err(Refused::UnknownKey) if app.keys.may_read_for_unknown_kid(now()) => {
            read(app.into()).await?;
            app.keys.verify(&app.kept, token, expected).map_err(|refused| AppError::Unauthenticated(refused.into()))
        }
        Err(refused) => Err(AppError::Unauthenticated(refused.into())),
    }
}

/// Whether the key that signed a verified token may still be used, as of
/// `row` (the guard's, answered at `answered_at`): the keyring is read
/// again first when the row's version is newer than the keyring's. A
/// token without `kid` passes only for a session from before the keyring,
/// within its window.
pub async fn admit(app: &App, claims: &Claims, row: &AuthRow, answered_at: Instant) -> Result<(), AppError> {
    let mut ring = app.keys.ring();
    if ring.version != row.keys_version && ring.read_at < answered_at {
        read(app.into()).await?;
        ring = app.keys.ring();
    }
    let admitted = match claims.kid.as_deref() {
        Some(kid) => match ring.keys.get(kid) {
            Some(key) if key.state == State::Revoked => Err(AuthError::Revoked),
            Some(_) => Ok(()),
            // Deleted: revoked long ago, or retired with all it signed expired.
            None => Err(AuthError::Revoked),
        },
        None => match ring.legacy {
            Some(legacy) if row.session_created_at.0.unix_timestamp() < legacy.sessions_before && now() < legacy.until => Ok(()),
            _ => Err(AuthError::Invalid),
        },
    };
    admitted.map_err(AppError::Unauthenticated)
}

/// Who changed the keyring, for its audit event.
#[derive(Debug, Clone, Copy)]
pub enum Why {
    Operator,
    Timer,
    FirstKey,
    Algorithm,
}

impl Why {
    fn as_str(self) -> &'static str {
        match self {
            Why::Operator => "operator",
            Why::Timer => "timer",
            Why::FirstKey => "first key",
            Why::Algorithm => "algorithm",
        }
    }
}

async fn record(db: &DatabaseConnection, client: &ClientInfo, kind: AuditKind, kid: &str, why: &'static str) {
    audit::record_to(db, client, Event::about(kind, None).with(Detail::Key { kid: kid.to_owned(), by: why })).await;
}

/// A new key of the configured algorithm, sealed.
fn new_key(r: Ring<'_>, state: &'static str, activates_at: Option<i64>) -> NewKey {
    let algorithm = r.config.jwt_algorithm;
    NewKey {
        kid: keyring::new_kid(),
        algorithm: jwt_algorithm_name(algorithm),
        state,
        material: r.keys.cipher.seal(&keyring::new_material(algorithm)),
        activates_at,
    }
}

/// At start: reads the keyring (an instance whose `jwt_secret` cannot open
/// it refuses to start), and makes the first key, or a key of a newly
/// configured `jwt_algorithm` (the old one retires), when there is none.
pub async fn open(r: Ring<'_>) -> anyhow::Result<()> {
    read(r).await.map_err(|e| match e {
        AppError::Internal(e) => e,
        other => anyhow::anyhow!("the keyring could not be read: {other}"),
    })?;
    let wanted = r.config.jwt_algorithm;
    let signs_as_configured = |ring: &Keyring| ring.active().is_some_and(|key| key.algorithm == wanted);
    if signs_as_configured(&r.keys.ring()) {
        return Ok(());
    }
    let txn = r.db.begin().await?;
    store::keys::take_turn(&txn).await?;
    let rows = store::keys::all(&txn).await?;
    let active = rows.iter().find(|row| row.state == State::Active.as_str());
    if active.is_some_and(|row| row.algorithm == jwt_algorithm_name(wanted)) {
        // Another instance made it meanwhile.
        txn.rollback().await?;
        return Ok(read(r).await?);
    }
    let why = if active.is_some() { Why::Algorithm } else { Why::FirstKey };
    let kid = replace_active(r, &txn, active.map(|row| row.kid.as_str())).await?;
    txn.commit().await?;
    record(r.db, &ClientInfo::default(), AuditKind::KeyRotated, &kid, why.as_str()).await;
    tracing::info!(%kid, algorithm = jwt_algorithm_name(wanted), "made a signing key");
    Ok(read(r).await?)
}

/// What a rotation did.
#[derive(Debug)]
pub enum Rotated {
    /// A `next` key, active from `at` (Unix seconds).
    Next { kid: String, at: i64 },
    /// A key active now; `retired` signed until now.
    Now { kid: String, retired: Option<String> },
}

/// `keys rotate [--now]` (and the timer, without `now`): a new key. Without
/// `now` it is `next` for a minute; refused while a `next` key waits (its
/// kid and time are in the message), which `--now` activates instead.
pub async fn rotate(r: Ring<'_>, at_once: bool, why: Why, client: &ClientInfo) -> Result<Rotated, AppError> {
    let txn = r.db.begin().await?;
    store::keys::take_turn(&txn).await?;
    let rows = store::keys::all(&txn).await?;
    let active = rows.iter().find(|row| row.state == State::Active.as_str()).map(|row| row.kid.clone());
    let waiting = rows.iter().find(|row| row.state == State::Next.as_str());
    let rotated = match (waiting, at_once) {
        (Some(next), false) => {
            let at = next.activates_at.map_or(0, |at| at.0.unix_timestamp());
            return Err(AppError::BadRequest(format!(
                "key {} is next already and signs from {}; `keys rotate --now` makes it sign now",
                next.kid,
                crate::views::human(store::ts(at).0)
            )));
        }
        (Some(next), true) => {
            let kid = next.kid.clone();
            activate(&txn, &kid, active.as_deref()).await?;
            Rotated::Now { kid, retired: active }
        }
        (None, false) => {
            let at = now() + NEXT_KEY_WAITS;
            let key = new_key(r, State::Next.as_str(), Some(at));
            let kid = key.kid.clone();
            store::keys::insert(&txn, key).await?;
            Rotated::Next { kid, at }
        }
        (None, true) => {
            let kid = replace_active(r, &txn, active.as_deref()).await?;
            Rotated::Now { kid, retired: active }
        }
    };
    txn.commit().await?;
    let kid = match &rotated {
        Rotated::Next { kid, .. } | Rotated::Now { kid, .. } => kid,
    };
    record(r.db, client, AuditKind::KeyRotated, kid, why.as_str()).await;
    read(r).await?;
    Ok(rotated)
}

/// A new key signs from now; `old` (the active key) retires. Its kid.
async fn replace_active<C: sea_orm::ConnectionTrait>(r: Ring<'_>, db: &C, old: Option<&str>) -> Result<String, AppError> {
    if let Some(old) = old {
        store::keys::set_state(db, old, State::Active.as_str(), State::Retired.as_str()).await?;
    }
    let key = new_key(r, State::Active.as_str(), None);
    let kid = key.kid.clone();
    store::keys::insert(db, key).await?;
    Ok(kid)
}

/// The `next` key `kid` signs from now; `old` (the active key) retires.
async fn activate<C: sea_orm::ConnectionTrait>(db: &C, kid: &str, old: Option<&str>) -> Result<(), AppError> {
    if let Some(old) = old {
        store::keys::set_state(db, old, State::Active.as_str(), State::Retired.as_str()).await?;
    }
    store::keys::set_state(db, kid, State::Next.as_str(), State::Active.as_str()).await?;
    Ok(())
}

/// What a revocation did.
#[derive(Debug)]
pub struct Revoked {
    /// The key made to sign in place of a revoked active key.
    pub replaced_by: Option<String>,
}

/// `keys revoke KID`: every instance refuses the key's tokens from its
/// next request on (their users log in again). The active key is replaced
/// by a new one in the same transaction.
pub async fn revoke(r: Ring<'_>, kid: &str, client: &ClientInfo) -> Result<Revoked, AppError> {
    let txn = r.db.begin().await?;
    store::keys::take_turn(&txn).await?;
    let rows = store::keys::all(&txn).await?;
    let Some(row) = rows.iter().find(|row| row.kid == kid) else {
        return Err(AppError::BadRequest(format!("no signing key has the kid {kid}: `keys list` shows them")));
    };
    let state = State::parse(&row.state);
    if state == Some(State::Revoked) {
        return Err(AppError::BadRequest(format!("key {kid} is revoked already")));
    }
    store::keys::set_state(&txn, kid, &row.state, State::Revoked.as_str()).await?;
    let replaced_by = if state == Some(State::Active) {
        let key = new_key(r, State::Active.as_str(), None);
        let new = key.kid.clone();
        store::keys::insert(&txn, key).await?;
        Some(new)
    } else {
        None
    };
    txn.commit().await?;
    record(r.db, client, AuditKind::KeyRevoked, kid, Why::Operator.as_str()).await;
    if let Some(new) = &replaced_by {
        record(r.db, client, AuditKind::KeyRotated, new, "replaces a revoked key").await;
    }
    read(r).await?;
    Ok(Revoked { replaced_by })
}

/// How long after it stopped signing a key may still have a live token:
/// the longest a token lives, its leeway, and a minute for an instance
/// that signed with it before it read that it stopped.
fn tokens_outlive_a_key(config: &AppConfig) -> i64 {
    config.access_token_ttl.max(config.refresh_token_ttl) + LEEWAY_SECONDS as i64 + NEXT_KEY_WAITS
}

/// Every [`TICK`], on every instance: reads the keyring if it moved; lets
/// a `next` key whose minute is up sign; makes a `next` key when the
/// active one is `jwt_key_rotation_days` old; deletes keys whose tokens
/// have all expired. Decided from the keyring in memory; each change is
/// decided again in a transaction that takes its turn, so it happens once.
pub async fn tick(r: Ring<'_>) -> Result<(), AppError> {
    current(r).await?;
    let ring = r.keys.ring();
    let now = now();
    if ring.next().is_some_and(|next| next.activates_at.is_some_and(|at| at <= now)) {
        let txn = r.db.begin().await?;
        store::keys::take_turn(&txn).await?;
        let rows = store::keys::all(&txn).await?;
        let due = rows.iter().find(|row| row.state == State::Next.as_str() && row.activates_at.is_some_and(|at| at.0.unix_timestamp() <= now));
        if let Some(due) = due {
            let active = rows.iter().find(|row| row.state == State::Active.as_str()).map(|row| row.kid.as_str());
            activate(&txn, &due.kid, active).await?;
            tracing::info!(kid = %due.kid, "the next signing key signs from now on");
        }
        txn.commit().await?;
        read(r).await?;
    }
    let days = i64::from(r.config.jwt_key_rotation_days);
    let ring = r.keys.ring();
    let due_for_rotation = ring.active().and_then(|key| key.activated_at).is_some_and(|at| days > 0 && at + days * 86_400 <= now);
    if due_for_rotation && ring.next().is_none() {
        match rotate(r, false, Why::Timer, &ClientInfo::default()).await {
            // Another instance's timer was first.
            Ok(_) | Err(AppError::BadRequest(_)) => {}
            Err(e) => return Err(e),
        }
    }
    // Only when the keyring in memory shows such a key: a delete that finds
    // nothing still costs every instance a statement every tick.
    let gone_before = now - tokens_outlive_a_key(r.config);
    let ring = r.keys.ring();
    for state in [State::Retired, State::Revoked] {
        if ring.keys.values().any(|key| key.state == state && key.stopped_at().is_some_and(|at| at < gone_before)) {
            let deleted = store::keys::delete_stopped(r.db, state.as_str(), gone_before).await?;
            tracing::info!(deleted, state = state.as_str(), "deleted signing keys whose tokens have all expired");
        }
    }
    Ok(())
}

/// Runs [`tick`] every [`TICK`] on parts of the application the task
/// owns (needs a runtime).
pub fn look_after(db: DatabaseConnection, keys: Arc<JwtKeys>, config: AppConfig) {
    rocket::tokio::spawn(async move {
        loop {
            rocket::tokio::time::sleep(TICK).await;
            if let Err(e) = tick(Ring { db: &db, keys: &keys, config: &config }).await {
                tracing::warn!(error = %e, "looking after the keyring failed; trying again soon");
            }
        }
    });
}

/// `/.well-known/jwks.json` (SPEC §3): the public keys of the Ed25519 keys
/// that are next, active or retired; `None` unless `jwt_algorithm` is
/// EdDSA (a secret key is never published).
pub async fn jwks(r: Ring<'_>) -> Result<Option<JwkSet>, AppError> {
    if r.config.jwt_algorithm != Algorithm::EdDSA {
        return Ok(None);
    }
    current(r).await?;
    let ring = r.keys.ring();
    let keys = ring
        .by_age()
        .into_iter()
        .filter(|key| key.state != State::Revoked && key.algorithm == Algorithm::EdDSA)
        .filter_map(|key| {
            use base64::Engine as _;
            let x = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(key.public?);
            Some(Jwk {
                common: CommonParameters {
                    public_key_use: Some(PublicKeyUse::Signature),
                    key_algorithm: Some(KeyAlgorithm::EdDSA),
                    key_id: Some(key.kid.clone()),
                    ..Default::default()
                },
                algorithm: AlgorithmParameters::OctetKeyPair(OctetKeyPairParameters {
                    key_type: OctetKeyPairType::OctetKeyPair,
                    curve: EllipticCurve::Ed25519,
                    x,
                }),
            })
        })
        .collect();
    Ok(Some(JwkSet { keys }))
}
