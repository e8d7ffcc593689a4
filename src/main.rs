//! The `recipebox` binary: parses the command line and hands over to the
//! library. `serve` is the default.

use std::process::ExitCode;

use clap::Parser;

#[rocket::main]
async fn main() -> ExitCode {
    match recipebox::config::log_format(&recipebox::config::figment()) {
        Ok(format) => recipebox::telemetry::init(format),
        Err(e) => {
            eprintln!("recipebox: {e}");
            return ExitCode::FAILURE;
        }
    }
    let cli = recipebox::cli::Cli::parse();
    match recipebox::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("recipebox: {e:#}");
            ExitCode::FAILURE
        }
    }
}
