//! The `recipebox` binary: parses the command line and hands over to the
//! library. `serve` is the default.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    limit_malloc_arenas();
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

/// glibc gives each thread that allocates its own arena, up to eight per
/// core, and memory freed in one is not reused by another: with a dozen
/// threads (Rocket's workers, one per SQLite connection, bcrypt's) that
/// held a quarter of the resident memory (bench/RESULTS.md). Two arenas
/// cost no measurable throughput on this two-core machine. Set before any
/// thread starts; `MALLOC_ARENA_MAX` in the environment still wins.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: called first thing in `main`, before any other thread
        // exists; mallopt only changes the allocator's tuning.
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, 2);
        }
    }
}
