//! The `recipebox` binary: parses the command line and hands over to the
//! library. `serve` is the default.

use std::process::ExitCode;

use clap::Parser;

/// mimalloc, not glibc's malloc. Memory allocated on one worker thread is
/// often freed on another (a response body); glibc then locks the arena it
/// came from, and `perf` showed the workers waiting on those locks:
/// `GET /api/v1/me` moved between 44,000 and 72,000 requests a second within
/// one run of the server, as threads changed arenas. mimalloc hands such
/// memory back without a lock. Its arenas are committed on demand
/// (`.cargo/config.toml`), which keeps the resident memory where glibc had
/// it (bench/RESULTS.md).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    rocket::execute(run())
}

async fn run() -> ExitCode {
    // Held to the end: dropping it writes out the last log lines.
    let _logs = match recipebox::config::log_format(&recipebox::config::figment()) {
        Ok(format) => recipebox::telemetry::init(format),
        Err(e) => {
            eprintln!("recipebox: {e}");
            return ExitCode::FAILURE;
        }
    };
    let cli = recipebox::cli::Cli::parse();
    match recipebox::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("recipebox: {e:#}");
            ExitCode::FAILURE
        }
    }
}

