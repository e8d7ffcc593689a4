//! Structured logs: tracing set up once, and one line per request with a
//! request id, method, path (never the query string), status and duration.
//!
//! `log_format = "text"` (the default) writes human lines, coloured only
//! when stderr is a terminal, so a log file holds plain text that `grep`
//! finds; `"json"` writes one JSON object a line for log shippers. Rocket's
//! own request lines are filtered out: ours is the one line per request.
//! `RUST_LOG` replaces the default filter.
//!
//! Lines gather in memory, and a thread of their own writes whatever has
//! gathered every 50 ms: a request never waits for stderr or wakes a
//! thread, and under load one write carries hundreds of lines
//! (bench/RESULTS.md). None is dropped; the guard that `init` returns writes
//! out the last ones when it is dropped.
//!
//! Invariant: nothing logged here holds a header value, a cookie, a token, a
//! password or a secret.

use std::io::{self, IsTerminal, Write};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::prelude::*;
use tracing_subscriber::{fmt, EnvFilter};

use crate::lock;

/// What `RUST_LOG` is when unset: our info lines, Rocket's warnings only.
const DEFAULT_FILTER: &str = "info,rocket=warn";
/// How long a line may wait in memory before it is written.
const WRITE_EVERY: Duration = Duration::from_millis(50);
/// Past this much waiting, the line that tipped it writes everything out
/// itself rather than let memory grow.
const MOST_WAITING: usize = 1 << 20;

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
pub fn init(format: LogFormat) -> LogGuard {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(DEFAULT_FILTER));
    let not_rocket_detail = filter_fn(|meta| !meta.target().ends_with("::_"));
    let lines = Gathered::new(io::stderr());
    let writer = lines.clone();
    let _ = std::thread::Builder::new().name("log-writer".into()).spawn(move || loop {
        std::thread::sleep(WRITE_EVERY);
        writer.write_out();
    });
    let layer = fmt::layer().with_writer(lines.clone());
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match format {
        LogFormat::Text => {
            registry.with(layer.with_ansi(io::stderr().is_terminal()).with_filter(not_rocket_detail)).try_init()
        }
        LogFormat::Json => registry
            .with(layer.json().with_current_span(false).with_span_list(false).with_filter(not_rocket_detail))
            .try_init(),
    };
    LogGuard(lines)
}

/// Writes out the lines still waiting when dropped.
pub struct LogGuard(Gathered<io::Stderr>);

impl Drop for LogGuard {
    fn drop(&mut self) {
        self.0.write_out();
    }
}

/// Log lines waiting in memory for `out`. Whoever writes them out holds
/// `out` from taking them to writing them, so lines reach it in order.
struct Gathered<W> {
    waiting: Arc<Mutex<Vec<u8>>>,
    out: Arc<Mutex<W>>,
}

impl<W> Clone for Gathered<W> {
    fn clone(&self) -> Self {
        Self { waiting: Arc::clone(&self.waiting), out: Arc::clone(&self.out) }
    }
}

impl<W: Write> Gathered<W> {
    fn new(out: W) -> Self {
        Self { waiting: Arc::default(), out: Arc::new(Mutex::new(out)) }
    }

    /// Writes every line waiting; a failed write loses them (there is
    /// nowhere else to say so).
    fn write_out(&self) {
        let mut out = lock(&self.out);
        let lines = std::mem::take(&mut *lock(&self.waiting));
        if !lines.is_empty() {
            let _ = out.write_all(&lines).and_then(|()| out.flush());
        }
    }
}

/// The fmt layer writes each line with one `write_all`.
impl<W: Write> Write for &Gathered<W> {
    fn write(&mut self, line: &[u8]) -> io::Result<usize> {
        let waiting = {
            let mut waiting = lock(&self.waiting);
            waiting.extend_from_slice(line);
            waiting.len()
        };
        if waiting > MOST_WAITING {
            self.write_out();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a, W: Write + 'a> MakeWriter<'a> for Gathered<W> {
    type Writer = &'a Gathered<W>;

    fn make_writer(&'a self) -> Self::Writer {
        self
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    fn written(lines: &Gathered<Vec<u8>>) -> String {
        String::from_utf8(lock(&lines.out).clone()).unwrap()
    }

    #[test]
    fn lines_wait_in_memory_and_are_written_out_whole_and_in_order() {
        let lines = Gathered::new(Vec::new());
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let lines = lines.clone();
                std::thread::spawn(move || {
                    for n in 0..500 {
                        (&lines).write_all(format!("{t} {n}\n").as_bytes()).unwrap();
                    }
                })
            })
            .collect();
        threads.into_iter().for_each(|t| t.join().unwrap());
        assert_eq!(written(&lines), "", "nothing is written by the request that logs");
        lines.write_out();
        let out = written(&lines);
        for t in 0..4 {
            let own: Vec<String> = out.lines().filter(|l| l.starts_with(&format!("{t} "))).map(str::to_owned).collect();
            assert_eq!(own, (0..500).map(|n| format!("{t} {n}")).collect::<Vec<_>>(), "thread {t}'s lines, whole and in order");
        }
    }

    #[test]
    fn past_a_megabyte_waiting_the_writer_writes_out_itself() {
        let lines = Gathered::new(Vec::new());
        let line = [b'x'; 1024];
        for _ in 0..=MOST_WAITING / line.len() {
            (&lines).write_all(&line).unwrap();
        }
        assert!(written(&lines).len() > MOST_WAITING, "written out, not kept growing");
        assert!(lock(&lines.waiting).is_empty());
    }
}
