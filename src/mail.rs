//! Outgoing mail (SPEC.md §1, §2, §6): every message waits in the
//! database (`mail_outbox`, `store::outbox`) until an instance has
//! delivered it, by SMTP when `smtp_url` is configured, else as one `.eml`
//! file per message under `outbox_dir` (`data/outbox/` by default),
//! through lettre.
//!
//! A feature queues a message in the transaction of what it tells and
//! commits the two together ([`Mailer::commit_with`]); the request never
//! waits for delivery. Each instance
//! runs a deliverer ([`Mailer::deliver`]) that claims due messages with a
//! lease (`store::outbox::claim`, `mail_lease_seconds`), so a message is
//! sent once, or again only when an instance died mid-send and its lease
//! ran out. A delivery renews its lease while it runs (a mail server that
//! answers each command slowly can take minutes: lettre's timeout is per
//! reply) and gives up at [`MAX_DELIVERY`]; a delivery that can no longer
//! renew its lease stops, since another instance may take the message.
//! The claim counts the attempt, and a message that went out is recorded
//! as sent by its id. A deliverer wakes at once when its own instance
//! queues a message, and looks for the others' every few seconds. A failed
//! try waits `mail_retry_seconds`, twice that after the next, and so on up
//! to an hour; past `mail_retry_for` (a day) the message fails. A sent or
//! failed message's body is deleted.
//!
//! Without `smtp_url` each message is written to a hidden temporary file
//! in the outbox folder and renamed to `<uuid>.eml` once whole, so a full
//! disk leaves no empty or cut message behind.
//!
//! Invariant: a log line names the subject and the message's id; never a
//! recipient's link (the links carry single-use tokens).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::Body;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rocket::tokio::sync::Notify;
use rocket::tokio::time::{self, Instant};
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use crate::config::MailSettings;
use crate::entities::mail_message;
use crate::store::{self, outbox};

/// How long the mail server may take to answer one command.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long one delivery may take in all, its lease renewed meanwhile.
pub const MAX_DELIVERY: Duration = Duration::from_secs(600);
/// How often a deliverer looks for what other instances queued, and for
/// retries that came due.
const POLL: Duration = Duration::from_secs(2);
/// Messages claimed at once; each is delivered by a task of its own.
const CLAIM: u64 = 20;
/// The longest wait between two tries.
const MAX_WAIT_SECONDS: i64 = 3600;

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(PathBuf),
}

/// What became of one try.
enum Outcome {
    /// Sent; for the outbox folder, the file it was written to.
    Delivered(Option<PathBuf>),
    Failed(anyhow::Error),
    /// The lease could not be kept: the try stopped, and the message is
    /// another instance's (or this one's again once the lease ran out).
    LeaseLost,
}

/// The handle the application sends mail through (cheap to clone).
#[derive(Clone)]
pub struct Mailer {
    transport: Transport,
    /// `templates/mail/`: every message's text, in one look.
    templates: Arc<rocket_dyn_templates::tera::Tera>,
    from: lettre::message::Mailbox,
    public_url: String,
    retry_seconds: i64,
    retry_for: i64,
    lease_seconds: i64,
    wake: Arc<Notify>,
}

impl Mailer {
    /// Opens the transport (creating the outbox folder); delivery starts
    /// with [`Mailer::deliver`].
    pub fn new(settings: &MailSettings) -> anyhow::Result<Self> {
        let transport = match &settings.smtp_url {
            // The URL may hold a password: errors name the key, not the value.
            Some(url) => {
                if url.starts_with("smtp://") && url.contains('@') && !url.contains("tls=required") {
                    tracing::warn!("smtp_url sends a login without TLS: use smtps:// or ?tls=required unless the server is local");
                }
                Transport::Smtp(
                    AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
                        .map_err(|_| anyhow::anyhow!("smtp_url is not a usable SMTP URL"))?
                        .timeout(Some(SMTP_TIMEOUT))
                        .build(),
                )
            }
            None => {
                let dir = settings.outbox_dir.clone();
                std::fs::create_dir_all(&dir).with_context(|| format!("cannot create the outbox {}", dir.display()))?;
                Transport::Outbox(dir)
            }
        };
        Ok(Self {
            transport,
            templates: Arc::new(crate::assets::mail_templates().context("the mail templates do not parse")?),
            from: settings.from.clone(),
            public_url: settings.public_url.clone(),
            retry_seconds: settings.retry_seconds,
            retry_for: settings.retry_for,
            lease_seconds: settings.lease_seconds,
            wake: Arc::new(Notify::new()),
        })
    }

    /// The text of `template` (`mail/notice`, …) to `username`, with
    /// `context` and the site's address as `site`.
    pub fn text(&self, template: &str, username: &str, mut context: rocket_dyn_templates::tera::Context) -> anyhow::Result<String> {
        context.insert("username", username);
        context.insert("site", &self.public_url);
        self.templates.render(template, &context).with_context(|| format!("the mail template {template} does not render"))
    }

    /// `path` (starting with `/`) on this site, for a link in a message.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Puts a plain-text message to `to` in the outbox within `txn` and
    /// commits: the message goes if and only if what `txn` wrote does.
    /// Then this instance's deliverer is woken. An address no message can
    /// be sent to is logged and not queued (addresses are checked at
    /// sign-up; this is a guard), and the rest is committed all the same.
    pub async fn commit_with(&self, txn: DatabaseTransaction, to: &str, subject: &str, text: String) -> Result<(), DbErr> {
        match to.parse::<lettre::message::Mailbox>() {
            Ok(_) => outbox::queue(&txn, to, subject, text).await?,
            Err(e) => tracing::warn!(subject, error = %e, "mail not queued: the address cannot be written to"),
        }
        txn.commit().await?;
        self.wake.notify_one();
        Ok(())
    }

    /// Starts this instance's deliverer on `db` (needs a runtime).
    pub fn deliver(&self, db: DatabaseConnection) {
        let mailer = self.clone();
        rocket::tokio::spawn(async move {
            loop {
                let owner = sea_orm::prelude::Uuid::new_v4().to_string();
                match outbox::claim(&db, &owner, CLAIM, mailer.lease_seconds).await {
                    Ok(claimed) if !claimed.is_empty() => {
                        let deliveries = claimed.into_iter().map(|message| mailer.deliver_one(&db, &owner, message));
                        rocket::futures::future::join_all(deliveries).await;
                        continue;
                    }
                    Ok(_) => {}
                    Err(e) => tracing::warn!(error = %e, "the outbox could not be read"),
                }
                rocket::tokio::select! {
                    _ = mailer.wake.notified() => {}
                    _ = rocket::tokio::time::sleep(POLL) => {}
                }
            }
        });
    }

    /// One try of one claimed message (the claim counted it), and what
    /// became of it.
    async fn deliver_one(&self, db: &DatabaseConnection, owner: &str, message: mail_message::Model) {
        let (id, subject, attempt) = (message.id, message.subject.as_str(), message.attempts);
        let now = store::now().unix_timestamp();
        let give_up_at = message.created_at.0.unix_timestamp() + self.retry_for;
        let outcome = if now > give_up_at {
            // Tries of instances that died used up its time.
            Outcome::Failed(anyhow::anyhow!("not delivered within mail_retry_for ({} s)", self.retry_for))
        } else {
            match self.build(&message) {
                Ok(built) => {
                    let left = message.lease_until.map_or(0, |until| until.0.unix_timestamp() - now);
                    let held_until = Instant::now() + Duration::from_secs(left.max(0).unsigned_abs());
                    self.send_holding_lease(db, owner, id, held_until, built).await
                }
                Err(e) => Outcome::Failed(e),
            }
        };
        let recorded = match outcome {
            Outcome::Delivered(file) => {
                match file {
                    Some(file) => tracing::info!(id, subject, file = %file.display(), "mail written to the outbox"),
                    None => tracing::info!(id, subject, "mail sent"),
                }
                outbox::sent(db, id).await
            }
            Outcome::Failed(e) => {
                let wait = self.wait_after(attempt);
                let retry_at = Some(now + wait).filter(|at| *at <= give_up_at);
                match retry_at {
                    Some(_) => tracing::warn!(id, subject, attempt, error = %e, "mail delivery failed; trying again in {wait} s"),
                    None => tracing::error!(id, subject, attempts = attempt, error = %e, "mail delivery failed; giving up"),
                }
                outbox::try_failed(db, id, owner, &format!("{e:#}"), retry_at).await
            }
            Outcome::LeaseLost => {
                tracing::warn!(id, subject, "mail delivery stopped: its lease could not be renewed");
                Ok(())
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(id, error = %e, "a delivery could not be recorded; the message may be sent again");
        }
    }

    /// Sends `message`, renewing the claim on row `id` (held until
    /// `held_until`) every third of the lease, for at most
    /// [`MAX_DELIVERY`]. Stops when the claim is lost, or when it could not
    /// be renewed before it ran out (the database did not answer): past
    /// that, another instance may be sending it.
    async fn send_holding_lease(&self, db: &DatabaseConnection, owner: &str, id: i64, mut held_until: Instant, message: Message) -> Outcome {
        let lease = Duration::from_secs(self.lease_seconds.unsigned_abs());
        let every = lease / 3;
        let send = self.transport.send(message);
        rocket::tokio::pin!(send);
        let deadline = time::sleep(MAX_DELIVERY);
        rocket::tokio::pin!(deadline);
        let mut renewals = time::interval_at(Instant::now() + every, every);
        loop {
            rocket::tokio::select! {
                result = &mut send => return match result {
                    Ok(file) => Outcome::Delivered(file),
                    Err(e) => Outcome::Failed(e),
                },
                _ = &mut deadline => {
                    return Outcome::Failed(anyhow::anyhow!("the delivery took longer than {} s", MAX_DELIVERY.as_secs()));
                }
                _ = renewals.tick() => {
                    let asked_at = Instant::now();
                    match outbox::renew(db, id, owner, self.lease_seconds).await {
                        Ok(true) => held_until = asked_at + lease,
                        Ok(false) => return Outcome::LeaseLost,
                        Err(e) => tracing::warn!(id, error = %e, "a mail delivery's lease could not be renewed"),
                    }
                    // A renewal keeps the lease only if it came back in time.
                    if Instant::now() + every >= held_until {
                        return Outcome::LeaseLost;
                    }
                }
            }
        }
    }

    /// The wait after the `tries`th failed try: doubling, up to an hour.
    fn wait_after(&self, tries: i32) -> i64 {
        let doublings = u32::try_from(tries.saturating_sub(1)).unwrap_or(0).min(20);
        self.retry_seconds.saturating_mul(1 << doublings).min(MAX_WAIT_SECONDS)
    }

    fn build(&self, message: &mail_message::Model) -> anyhow::Result<Message> {
        let body = message.body.clone().context("the message has no body")?;
        Message::builder()
            .from(self.from.clone())
            .to(message.recipient.parse()?)
            .subject(&message.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(body_of(body))
            .map_err(anyhow::Error::new)
    }
}

impl Transport {
    /// Sends `message`; for the outbox folder, the file it was written to.
    async fn send(&self, message: Message) -> anyhow::Result<Option<PathBuf>> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| None).map_err(anyhow::Error::new),
            Transport::Outbox(dir) => {
                let (dir, bytes) = (dir.clone(), message.formatted());
                rocket::tokio::task::spawn_blocking(move || write_whole(&dir, &bytes)).await?.map(Some)
            }
        }
    }
}

/// Writes `bytes` to a new `<uuid>.eml` in `dir`, whole or not at all: to
/// a hidden temporary file first (removed when anything fails), synced,
/// then renamed.
fn write_whole(dir: &Path, bytes: &[u8]) -> anyhow::Result<PathBuf> {
    let mut file = tempfile::Builder::new().prefix(".").suffix(".eml.tmp").tempfile_in(dir)?;
    file.write_all(bytes)?;
    file.as_file().sync_all()?;
    let path = dir.join(format!("{}.eml", uuid::Uuid::new_v4()));
    file.persist(&path)?;
    Ok(path)
}

/// ASCII text goes as 7bit, so each line, a link of 90 characters included,
/// stays whole and readable in the `.eml` file (RFC 5322 allows lines of
/// 998 bytes; lettre would choose quoted-printable past 76). Other text goes
/// as lettre chooses.
fn body_of(text: String) -> Body {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if text.is_ascii() && text.split("\r\n").all(|line| line.len() <= 998) {
        Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}
