//! Structured logs: tracing set up once, and one line per request with a
//! request id, method, path (never the query string), status and duration.
//!
//! Invariant: nothing logged here holds a header value, a cookie, a token, a
//! password or a secret.

use std::time::Instant;

use rocket::fairing::{Fairing, Info, Kind};
use rocket::http::Header;
use rocket::{Data, Request, Response};
use tracing_subscriber::EnvFilter;

/// Logs to stderr; `RUST_LOG` chooses the level (default `info`).
pub fn init() {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).try_init();
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
