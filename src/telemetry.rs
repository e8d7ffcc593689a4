//! Structured logs: tracing set up once, and one line per request with a
//! request id, method, path (never the query string), status and duration.
//!
//! `log_format = "text"` (the default) writes human lines, coloured only
//! when stderr is a terminal, so a log file holds plain text that `grep`
//! finds; `"json"` writes one JSON object a line for log shippers. Rocket's
//! own request lines are filtered out: ours is the one line per request.
//! `RUST_LOG` replaces the default filter.
//!
//! Lines are handed to a thread of their own, which writes whatever has
//! piled up in one go: a request never waits for stderr, and under load
//! one write carries many lines (bench/RESULTS.md). None is dropped; the
//! guard that `init` returns writes out the last ones when it is dropped.
//!
//! Invariant: nothing logged here holds a header value, a cookie, a token, a
//! password or a secret.

use std::io::{BufWriter, IsTerminal};
use std::str::FromStr;
use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter};

/// What `RUST_LOG` is when unset: our info lines, Rocket's warnings only.
const DEFAULT_FILTER: &str = "info,rocket=warn";

/// The `log_format` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    #[default]
    Text,
    Json,
}

impl FromStr for LogFormat {
    type Err = String;

    fn from_str(raw: &str) -> Result<Self, String> {
        match raw {
            "text" => Ok(LogFormat::Text),
            "json" => Ok(LogFormat::Json),
            _ => Err("log_format must be \"text\" or \"json\"".to_owned()),
        }
    }
}

/// Logs to stderr in `format`; `RUST_LOG` chooses what (default: info).
/// Keep the guard until the program ends.
///
/// Rocket also logs each request's detail (the matched route, a failed
/// guard, the catcher) under targets that end in `::_`; those lines are
/// dropped whatever the filter, so a request is exactly one line: ours.
pub fn init(format: LogFormat) -> WorkerGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let not_rocket_detail = filter_fn(|meta| !meta.target().ends_with("::_"));
    let (writer, guard) = NonBlockingBuilder::default().lossy(false).finish(BufWriter::new(std::io::stderr()));
    let layer = fmt::layer().with_writer(writer);
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => {
            registry.with(layer.with_ansi(std::io::stderr().is_terminal()).with_filter(not_rocket_detail)).try_init()
        }
        LogFormat::Json => registry
            .with(layer.json().with_current_span(false).with_span_list(false).with_filter(not_rocket_detail))
            .try_init(),
    };
    guard
}

struct RequestStart {
    id: String,
    at: Instant,
}

pub struct RequestLog;

#[rocket::async_trait]
impl Fairing for RequestLog {
    fn info(&self) -> Info {
        Info { name: "request log", kind: Kind::Request | Kind::Response }
    }

    async fn on_request(&self, req: &mut Request<'_>, _: &mut Data<'_>) {
        let id = uuid::Uuid::new_v4().simple().to_string();
        req.local_cache(|| RequestStart { id, at: Instant::now() });
    }

    async fn on_response<'r>(&self, req: &'r Request<'_>, res: &mut Response<'r>) {
        let start = req.local_cache(|| RequestStart { id: String::from("-"), at: Instant::now() });
        let status = res.status().code;
        tracing::info!(
            request_id = %start.id,
            method = %req.method(),
            path = %req.uri().path(),
            status,
            duration_ms = start.at.elapsed().as_secs_f64() * 1000.0,
            "request"
        );
        res.set_header(Header::new("X-Request-Id", start.id.clone()));
    }
}
