//! Subcommands (SPEC.md §1): `serve` (default), `migrate`,
//! `user create [--admin]`, `user promote EMAIL`,
//! `user disable|enable|delete EMAIL`, `blocklist purge`, `sessions end
//! EMAIL`, and `sessions end-all` for an operator (after restoring a
//! backup, say). The account commands go through the admin pages' own
//! actions (`accounts::admin`): the same audit events, the same last-admin
//! rule. Each writes to the database alone; running instances see it on
//! their next request, since nothing they keep outlives a write
//! (`crate::kept`, `crate::keys`). `keys list|rotate|revoke` manage the
//! signing keys.
//!
//! Passwords never come from the command line (it is visible to every user of
//! the machine through `ps`): they are read from `RECIPEBOX_PASSWORD` or
//! prompted for without echo.

use anyhow::{bail, Context as _};
use clap::{Parser, Subcommand};

use crate::accounts::admin::By;
use crate::accounts::{self, SignupInput};
use crate::app::App;
use crate::client::ClientInfo;
use crate::config;
use crate::domain::Role;
use crate::error::AppError;
use crate::store;

#[derive(Debug, Parser)]
#[command(name = "recipebox", version, about = "A recipe-sharing website with JWT authentication")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the website and the API (the default).
    Serve,
    /// Apply pending database migrations, then exit.
    Migrate,
    /// Manage users.
    #[command(subcommand)]
    User(UserCommand),
    /// Manage the token blocklist.
    #[command(subcommand)]
    Blocklist(BlocklistCommand),
    /// Manage login sessions.
    #[command(subcommand)]
    Sessions(SessionsCommand),
    /// Manage the keys that sign tokens.
    #[command(subcommand)]
    Keys(KeysCommand),
}

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// List the signing keys: kid, algorithm, state and dates (never a key).
    List,
    /// Make a new signing key. It is `next` for a minute (every running
    /// instance learns it), then signs; the old key retires and verifies
    /// what it signed until that expires. Nobody is logged out.
    Rotate {
        /// Sign with the new key at once.
        #[arg(long)]
        now: bool,
    },
    /// Revoke a key: every token it signed is refused by every instance from
    /// its next request on, and their users log in again. Revoking the
    /// active key makes a new one at once.
    Revoke { kid: String },
}

#[derive(Debug, Subcommand)]
pub enum SessionsCommand {
    /// End every session of one user, as an admin's "force logout" does:
    /// every token of theirs stops working at once.
    End { email: String },
    /// End every session of every user: every token issued until now stops
    /// working at once, on every running instance; everyone logs in again.
    EndAll,
}

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user; the password comes from RECIPEBOX_PASSWORD or a prompt.
    Create {
        #[arg(long)]
        email: String,
        #[arg(long)]
        username: String,
        /// Give the new user the admin role.
        #[arg(long)]
        admin: bool,
    },
    /// Give an existing user the admin role.
    Promote { email: String },
    /// Disable an account: every session of theirs ends, and they cannot
    /// log in until it is enabled (not the last active admin).
    Disable { email: String },
    /// Enable a disabled account.
    Enable { email: String },
    /// Delete an account and its recipes (not the last active admin).
    Delete { email: String },
}

#[derive(Debug, Subcommand)]
pub enum BlocklistCommand {
    /// Delete blocklist rows whose tokens have expired.
    Purge,
}

/// The application, and the account with `email` (an error that names the
/// email when there is none).
async fn app_and_user(email: &str) -> anyhow::Result<(App, crate::entities::user::Model)> {
    let app = app().await?;
    match store::users::find_by_email(&app.db, email).await? {
        Some(user) => Ok((app, user)),
        None => bail!("no user has the email {email}"),
    }
}

/// A refusal in words for the terminal: the last admin's rule, or what a
/// command asked that cannot be (an unknown kid).
fn refused(e: AppError) -> anyhow::Error {
    match e {
        AppError::LastAdmin | AppError::BadRequest(_) => anyhow::anyhow!("refused: {}", e.public_message()),
        other => other.into(),
    }
}

fn human(unix_seconds: i64) -> String {
    crate::views::human(crate::store::ts(unix_seconds).0)
}

/// `keys list`: one line a key, oldest first.
fn keys_table(app: &App) -> String {
    let ring = app.keys.ring();
    let mut table = format!("{:<24} {:<6} {:<8} {:<22} {:<22} {}\n", "KID", "ALG", "STATE", "CREATED", "SIGNS FROM", "RETIRED");
    for key in ring.by_age() {
        let signs_from = key.activated_at.or(key.activates_at).map(human).unwrap_or_default();
        table.push_str(&format!(
            "{:<24} {:<6} {:<8} {:<22} {:<22} {}\n",
            key.kid,
            crate::config::jwt_algorithm_name(key.algorithm),
            key.state.as_str(),
            human(key.created_at),
            signs_from,
            key.retired_at.map(human).unwrap_or_default(),
        ));
    }
    if let Some(legacy) = ring.legacy {
        table.push_str(&format!("tokens without kid (from before the keyring) are taken until {}\n", human(legacy.until)));
    }
    table
}

async fn app() -> anyhow::Result<App> {
    let config = config::load(&config::figment())?;
    App::start(config).await
}

fn password_from_env_or_prompt() -> anyhow::Result<String> {
    if let Ok(password) = std::env::var("RECIPEBOX_PASSWORD") {
        return Ok(password);
    }
    let password = rpassword::prompt_password("Password: ").context("cannot read the password")?;
    let again = rpassword::prompt_password("Password again: ").context("cannot read the password")?;
    if password != again {
        bail!("the two passwords differ");
    }
    Ok(password)
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command.unwrap_or(Command::Serve) {
        Command::Serve => {
            crate::rocket(config::figment()).launch().await.map_err(|e| anyhow::anyhow!("{e}"))?;
        }
        Command::Migrate => {
            let config = config::load(&config::figment())?;
            let db = crate::db::connect(&config.database_url, &config.pool).await?;
            crate::db::migrate(&db).await?;
            println!("migrations applied");
        }
        Command::User(UserCommand::Create { email, username, admin }) => {
            let app = app().await?;
            let password = password_from_env_or_prompt()?;
            let role = if admin { Role::Admin } else { Role::User };
            let input = SignupInput { email: &email, username: &username, password: &password, password_confirm: None };
            match accounts::register(&app, input, role).await {
                Ok(user) => println!("created {} {} ({})", user.role, user.username, user.public_id),
                Err(AppError::Validation(fields) | AppError::Conflict(fields)) => {
                    bail!("not created: {}", serde_json::to_string(&fields)?)
                }
                Err(e) => return Err(e.into()),
            }
        }
        Command::User(UserCommand::Promote { email }) => {
            let (app, user) = app_and_user(&email).await?;
            accounts::admin::promote(&app, &user).await?;
            println!("{} is now an admin", user.username);
        }
        Command::User(UserCommand::Disable { email }) => {
            let (app, user) = app_and_user(&email).await?;
            accounts::admin::set_disabled(&app, By::Operator, &user, true, &ClientInfo::command_line()).await.map_err(refused)?;
            println!("{} is disabled; every session of theirs has ended", user.username);
        }
        Command::User(UserCommand::Enable { email }) => {
            let (app, user) = app_and_user(&email).await?;
            accounts::admin::set_disabled(&app, By::Operator, &user, false, &ClientInfo::command_line()).await.map_err(refused)?;
            println!("{} is enabled", user.username);
        }
        Command::User(UserCommand::Delete { email }) => {
            let (app, user) = app_and_user(&email).await?;
            accounts::admin::delete(&app, By::Operator, &user, &ClientInfo::command_line()).await.map_err(refused)?;
            println!("{} and their recipes are deleted", user.username);
        }
        Command::Blocklist(BlocklistCommand::Purge) => {
            let app = app().await?;
            let purged = store::tokens::purge_expired(&app.db).await?;
            println!("purged {purged} expired blocklist rows");
        }
        Command::Sessions(SessionsCommand::End { email }) => {
            let (app, user) = app_and_user(&email).await?;
            let ended = accounts::admin::force_logout(&app, By::Operator, &user, &ClientInfo::command_line()).await?;
            let sessions = if ended == 1 { "session" } else { "sessions" };
            println!("ended {ended} {sessions} of {}; every token of theirs issued until now is refused", user.username);
        }
        Command::Keys(command) => {
            let app = app().await?;
            let client = ClientInfo::command_line();
            match command {
                KeysCommand::List => print!("{}", keys_table(&app)),
                KeysCommand::Rotate { now } => match crate::keys::rotate((&app).into(), now, crate::keys::Why::Operator, &client).await.map_err(refused)? {
                    crate::keys::Rotated::Next { kid, at } => {
                        println!("made key {kid}: every instance verifies it now, and it signs from {}", human(at));
                    }
                    crate::keys::Rotated::Now { kid, retired } => match retired {
                        Some(old) => println!("key {kid} signs from now on; {old} retired (its tokens keep working until they expire)"),
                        None => println!("key {kid} signs from now on"),
                    },
                },
                KeysCommand::Revoke { kid } => {
                    let revoked = crate::keys::revoke((&app).into(), &kid, &client).await.map_err(refused)?;
                    println!("key {kid} is revoked: every instance refuses its tokens from its next request on");
                    if let Some(new) = revoked.replaced_by {
                        println!("it was the active key: key {new} signs from now on");
                    }
                }
            }
        }
        Command::Sessions(SessionsCommand::EndAll) => {
            let app = app().await?;
            let ended = accounts::admin::end_every_session(&app).await?;
            println!("ended {ended} sessions; every token issued until now is refused");
        }
    }
    Ok(())
}
