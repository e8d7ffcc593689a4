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
//! lease (`store::outbox::claim`), so a message is sent once, or again
//! only when an instance died mid-send and its lease ran out. It wakes at
//! once when its own instance queues a message, and looks for the others'
//! every few seconds. A failed try waits `mail_retry_seconds`, twice that
//! after the next, and so on up to an hour; past `mail_retry_for` (a day)
//! the message fails. A sent or failed message's body is deleted.
//!
//! Invariant: a log line names the subject and the message's id; never a
//! recipient's link (the links carry single-use tokens).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::Body;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rocket::tokio::sync::Notify;
use sea_orm::{DatabaseConnection, DatabaseTransaction, DbErr};

use crate::config::MailSettings;
use crate::entities::mail_message;
use crate::store::{self, outbox};

/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);
/// How long a claim holds: past any one delivery's time.
const LEASE_SECONDS: i64 = 60;
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
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
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
                Transport::Outbox(AsyncFileTransport::<Tokio1Executor>::new(&dir), dir)
            }
        };
        Ok(Self {
            transport,
            templates: Arc::new(crate::assets::mail_templates().context("the mail templates do not parse")?),
            from: settings.from.clone(),
            public_url: settings.public_url.clone(),
            retry_seconds: settings.retry_seconds,
            retry_for: settings.retry_for,
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
                match outbox::claim(&db, &owner, CLAIM, LEASE_SECONDS).await {
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

    /// One try of one claimed message, and what became of it.
    async fn deliver_one(&self, db: &DatabaseConnection, owner: &str, message: mail_message::Model) {
        let (id, subject) = (message.id, message.subject.as_str());
        let result = match self.build(&message) {
            Ok(built) => self.transport.send(built).await,
            Err(e) => Err(e),
        };
        let recorded = match result {
            Ok(file) => {
                match file {
                    Some(file) => tracing::info!(id, subject, file = %file.display(), "mail written to the outbox"),
                    None => tracing::info!(id, subject, "mail sent"),
                }
                outbox::sent(db, id, owner).await
            }
            Err(e) => {
                let now = store::now().unix_timestamp();
                let wait = self.wait_after(message.attempts + 1);
                let retry_at = Some(now + wait).filter(|at| *at <= message.created_at.0.unix_timestamp() + self.retry_for);
                match retry_at {
                    Some(_) => tracing::warn!(id, subject, attempt = message.attempts + 1, error = %e, "mail delivery failed; trying again in {wait} s"),
                    None => tracing::error!(id, subject, attempts = message.attempts + 1, error = %e, "mail delivery failed; giving up"),
                }
                outbox::try_failed(db, id, owner, &format!("{e:#}"), retry_at).await
            }
        };
        if let Err(e) = recorded {
            tracing::warn!(id, error = %e, "a delivery could not be recorded; the message may be sent again");
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
    /// Sends `message`; for the outbox, the file it was written to.
    async fn send(&self, message: Message) -> anyhow::Result<Option<PathBuf>> {
        match self {
            Transport::Smtp(smtp) => smtp.send(message).await.map(|_| None).map_err(anyhow::Error::new),
            Transport::Outbox(outbox, dir) => outbox.send(message).await.map(|id| Some(dir.join(format!("{id}.eml")))).map_err(anyhow::Error::new),
        }
    }
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
