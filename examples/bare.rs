//! The ceiling for `bench/run`: a Rocket route that does nothing, built
//! with the same Rocket and profile as recipebox, no logging. Every figure
//! of the benchmark is also given as a share of this one's, measured in
//! the same run on the same machine.
//!
//!     cargo run --release --example bare -- 8001

use rocket::config::LogLevel;
use rocket::{get, routes};

#[get("/")]
fn bare() -> &'static str {
    "ok"
}

#[rocket::launch]
fn rocket() -> _ {
    let port = std::env::args().nth(1).and_then(|p| p.parse().ok()).unwrap_or(8001);
    let config = rocket::Config { port, log_level: LogLevel::Off, ..rocket::Config::release_default() };
    rocket::custom(config).mount("/", routes![bare])
}
