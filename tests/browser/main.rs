//! recipebox in a real browser: headless Chromium driven over WebDriver
//! against the server binary on a free port (see `harness`). Without
//! Chromium and chromedriver each test says so and passes without running.

mod harness;
mod journey;
mod keyboard;
mod pages;
mod oidc;
mod passkeys;
mod tokens;
mod two_factor;
