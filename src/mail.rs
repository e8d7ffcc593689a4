//! Outgoing mail (SPEC.md §1): SMTP when `smtp_url` is configured, else one
//! `.eml` file per message under `outbox_dir` (`data/outbox/` by default),
//! through lettre.
//!
//! Sending never holds up a request: [`Mailer::send`] queues the message
//! and returns; a background task delivers it, and a failed delivery is
//! logged and tried again later (five more times, waiting 1, 2, 4, 8 and 16
//! seconds), never shown to the user as an error.
//!
//! Invariant: a log line names the subject and, for the outbox, the file;
//! never a recipient's link (the links carry single-use tokens).

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use lettre::message::header::{ContentTransferEncoding, ContentType};
use lettre::message::Body;
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use rocket::tokio::sync::mpsc;

use crate::config::MailSettings;

/// The waits before each further try of a failed delivery.
const RETRY_DELAYS: [Duration; 5] =
    [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4), Duration::from_secs(8), Duration::from_secs(16)];
/// How long one SMTP conversation may take.
const SMTP_TIMEOUT: Duration = Duration::from_secs(20);

#[derive(Clone)]
enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Outbox(AsyncFileTransport<Tokio1Executor>, PathBuf),
}

/// A message ready to go, and what the log may say of it.
struct Outgoing {
    message: Message,
    subject: String,
}

/// The handle the application sends mail through (cheap to clone).
#[derive(Clone)]
pub struct Mailer {
    queue: mpsc::UnboundedSender<Outgoing>,
    from: lettre::message::Mailbox,
    public_url: String,
}

impl Mailer {
    /// Opens the transport and starts the delivery task (needs a runtime).
    pub fn start(settings: &MailSettings) -> anyhow::Result<Self> {
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
        let (queue, mut incoming) = mpsc::unbounded_channel::<Outgoing>();
        rocket::tokio::spawn(async move {
            while let Some(outgoing) = incoming.recv().await {
                // One task a message, so a slow server holds up no other.
                rocket::tokio::spawn(deliver(transport.clone(), outgoing));
            }
        });
        Ok(Self { queue, from: settings.from.clone(), public_url: settings.public_url.clone() })
    }

    /// `path` (starting with `/`) on this site, for a link in a message.
    pub fn link(&self, path: &str) -> String {
        format!("{}{path}", self.public_url)
    }

    /// Queues a plain-text message to `to`. A message that cannot even be
    /// built (an address lettre refuses) is logged and dropped.
    pub fn send(&self, to: &str, subject: &str, text: String) {
        let message = to.parse().map_err(anyhow::Error::new).and_then(|to| {
            let body = body(text);
            Message::builder()
                .from(self.from.clone())
                .to(to)
                .subject(subject)
                .header(ContentType::TEXT_PLAIN)
                .body(body)
                .map_err(anyhow::Error::new)
        });
        match message {
            Ok(message) => {
                if self.queue.send(Outgoing { message, subject: subject.to_owned() }).is_err() {
                    tracing::error!(subject, "the mail queue is closed; message dropped");
                }
            }
            Err(e) => tracing::warn!(subject, error = %e, "mail not sent: the message could not be built"),
        }
    }
}

/// ASCII text goes as 7bit, so each line, a link of 90 characters included,
/// stays whole and readable in the `.eml` file (RFC 5322 allows lines of
/// 998 bytes; lettre would choose quoted-printable past 76). Other text goes
/// as lettre chooses.
fn body(text: String) -> Body {
    let text = text.replace("\r\n", "\n").replace('\n', "\r\n");
    if text.is_ascii() && text.split("\r\n").all(|line| line.len() <= 998) {
        Body::dangerous_pre_encoded(text.into_bytes(), ContentTransferEncoding::SevenBit)
    } else {
        Body::new(text)
    }
}

async fn deliver(transport: Transport, outgoing: Outgoing) {
    let subject = outgoing.subject.as_str();
    for attempt in 0..=RETRY_DELAYS.len() {
        let sent = match &transport {
            Transport::Smtp(smtp) => smtp.send(outgoing.message.clone()).await.map(|_| None).map_err(anyhow::Error::new),
            Transport::Outbox(outbox, dir) => {
                outbox.send(outgoing.message.clone()).await.map(|id| Some(dir.join(format!("{id}.eml")))).map_err(anyhow::Error::new)
            }
        };
        match (sent, RETRY_DELAYS.get(attempt)) {
            (Ok(Some(file)), _) => return tracing::info!(subject, file = %file.display(), "mail written to the outbox"),
            (Ok(None), _) => return tracing::info!(subject, "mail sent"),
            (Err(e), Some(wait)) => {
                tracing::warn!(subject, attempt = attempt + 1, error = %e, "mail delivery failed; trying again in {} s", wait.as_secs());
                rocket::tokio::time::sleep(*wait).await;
            }
            (Err(e), None) => return tracing::error!(subject, error = %e, "mail delivery failed; giving up"),
        }
    }
}
