//! recipebox: a recipe-sharing website with JWT authentication.
//!
//! Reading order:
//! 1. [`config`]: SPEC.md §1's keys, checked at start; the generated secret.
//! 2. [`domain`]: input parsed into valid values (email, password, recipe …).
//! 3. [`entities`] and [`store`]: the schema, and every query.
//! 4. [`crypto`]: the JWT keys and bcrypt, plain parts of the state;
//!    [`keys`]: the signing keys' life (rotation, revocation), kept the
//!    database's; [`auth`]: sessions, the request guards, CSRF; [`client`]:
//!    who asks.
//! 5. [`accounts`]: what people and admins do with accounts, shared by every
//!    front end; [`audit`]: the trail those actions leave.
//! 6. [`routes`]: pages, the JSON API, catchers; [`views`]: what clients see.
//! 7. [`error`]: one error type, rendered as a page or as JSON.
//! 8. [`security`], [`telemetry`], [`send`]: headers, the origin check,
//!    request logs, bodies sent whole; [`kept`]: what is kept in memory
//!    between requests, and the rule that makes it safe.
//! 9. [`assets`]: the templates and static files built into the binary;
//!    [`mail`]: outgoing mail, queued and retried.
//!
//! [`rocket`] builds the whole application from a figment; `main` and the
//! tests call it alike.

pub mod accounts;
pub mod app;
pub mod assets;
pub mod audit;
pub mod auth;
pub mod catalog;
pub mod cli;
pub mod client;
pub mod config;
pub mod crypto;
pub mod db;
pub mod domain;
pub mod entities;
pub mod error;
pub mod kept;
pub mod keys;
pub mod mail;
pub mod oidc;
pub mod pat;
pub mod routes;
pub mod security;
pub mod send;
pub mod store;
pub mod telemetry;
pub mod views;

use std::io::Write as _;
use std::sync::{Mutex, MutexGuard, RwLock, RwLockReadGuard, RwLockWriteGuard};
use std::time::Duration;

use rocket::fairing::AdHoc;
use rocket::figment::Figment;
use rocket::{Build, Rocket};
use rocket_dyn_templates::Template;

use crate::app::App;
use crate::config::SecretSource;

/// How often every table is purged (`store::purge`).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// The value behind `mutex`, also after a thread panicked while holding it:
/// every value kept behind a mutex here is whole between statements.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`lock`] for reading behind a `RwLock`.
pub(crate) fn lock_read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// [`lock`] for writing behind a `RwLock`.
pub(crate) fn lock_write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// One line for a purge that removed rows or failed; none when idle.
fn log_purge(what: &str, result: Result<u64, sea_orm::DbErr>) {
    match result {
        Ok(0) => {}
        Ok(rows) => tracing::info!(rows, "purged {what}"),
        Err(e) => tracing::warn!(error = %e, "purging {what} failed"),
    }
}

/// The whole application, ready to launch or to test.
pub fn rocket(figment: Figment) -> Rocket<Build> {
    let (figment, extracted_templates) = match assets::templates(figment.clone()) {
        Ok(prepared) => prepared,
        Err(e) => {
            // The Template fairing then reports the missing folder and the
            // start fails there.
            tracing::error!(error = %e, "cannot write the built-in templates out");
            (figment, None)
        }
    };
    // Rocket believes an `X-Real-IP` header from any client by default, so a
    // client could claim any address (and step around the per-address login
    // limit, or write a false one into the audit trail). The socket's peer
    // address is the default here; behind a reverse proxy the operator names
    // the proxy's header (`ip_header = "X-Real-IP"`), see docs/operations.md.
    let ip_header_chosen = figment
        .find_metadata("ip_header")
        .is_some_and(|source| source.name != "rocket::Config::default()");
    let figment = if ip_header_chosen { figment } else { figment.merge(("ip_header", false)) };
    let static_files = assets::static_files(&figment);

    let rocket = rocket::custom(figment);
    let rocket = match extracted_templates {
        Some(dir) => rocket.manage(dir),
        None => rocket,
    };
    rocket
        .attach(security::shield())
        .attach(security::Headers::default())
        .attach(security::OriginCheck)
        .attach(send::WholeBodies)
        .attach(telemetry::RequestLog)
        .attach(AdHoc::try_on_ignite("recipebox state", |rocket| async move {
            let config = match config::load(rocket.figment()) {
                Ok(config) => config,
                Err(e) => {
                    tracing::error!("{e}");
                    eprintln!("recipebox: {e}");
                    return Err(rocket);
                }
            };
            match &config.secret_source {
                SecretSource::Configured => {}
                SecretSource::File(path) | SecretSource::Generated(path) => tracing::warn!(
                    path = %path.display(),
                    "no jwt_secret configured: using the generated secret stored in this file \
                     (tokens survive restarts; set ROCKET_JWT_SECRET to share one secret between instances)"
                ),
            }
            match App::start(config).await {
                Ok(app) => Ok(rocket.manage(app)),
                Err(e) => {
                    tracing::error!(error = format!("{e:#}"), "start-up failed");
                    eprintln!("recipebox: {e:#}");
                    Err(rocket)
                }
            }
        }))
        .attach(Template::fairing())
        .attach(AdHoc::on_liftoff("announce, deliver mail and purge", |rocket| {
            Box::pin(async move {
                let config = rocket.config();
                // Tests that start the binary on port 0 read this line.
                let app = rocket.state::<App>().expect("BUG: App is managed at ignite");
                // Passkeys work only at `public_url`'s host name. A reader
                // that stops reading (a test that got its line) is no
                // reason to stop: write errors are ignored.
                let mut out = std::io::stdout();
                let _ = writeln!(out, "recipebox listening on http://{}:{}", config.address, config.port);
                let _ = writeln!(out, "open {} in a browser", app.config.mail.public_url);
                tracing::info!(address = %config.address, port = config.port, "listening");
                // Only a server delivers mail and looks after the keyring,
                // not a command-line run.
                app.mailer.deliver(app.db.clone());
                keys::look_after(app.db.clone(), app.keys.clone(), app.config.clone());
                let (db, mailer) = (app.db.clone(), app.mailer.clone());
                let keep = store::purge::Keep { audit_days: app.config.audit_retention_days, login_window: app.config.throttle.window };
                rocket::tokio::spawn(async move {
                    let mut every = rocket::tokio::time::interval(PURGE_EVERY);
                    loop {
                        every.tick().await;
                        for (what, result) in store::purge::run(&db, keep).await {
                            log_purge(what, result);
                        }
                        // And once an hour, the notices of tokens about to expire.
                        if let Err(e) = accounts::tokens::notify_expiring(&db, &mailer).await {
                            tracing::warn!(error = %e, "could not queue the notices of expiring tokens");
                        }
                    }
                });
            })
        }))
        .mount("/", routes::pages())
        .mount("/api/v1", routes::api())
        .mount("/api/docs", routes::api::openapi::docs_routes())
        .mount("/static", static_files)
        .register("/", routes::page_catchers())
        .register("/api", routes::api_catchers())
        .register("/passkeys", routes::api_catchers())
        .register("/login/two-factor/passkey", routes::api_catchers())
}
