//! The test OpenID provider (`tests/oidc/provider.mjs`, panva's
//! oidc-provider) for the app and browser suites: started with Node on a
//! free port of 127.0.0.1, stopped (by its process) when dropped, and a
//! person's login through its development pages driven over HTTP.
//!
//! Where Node or the provider's modules (`npm ci` in `tests/oidc`) are
//! missing, [`TestProvider::start`] prints why and returns `None`, so the
//! test skips; with `RECIPEBOX_OIDC_REQUIRED` set (as `.ci/run` does) it
//! fails instead.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// The client the provider knows (`provider.mjs`).
pub const CLIENT_ID: &str = "recipebox";
pub const CLIENT_SECRET: &str = "recipebox-test-secret";

pub struct TestProvider {
    child: Child,
    pub port: u16,
    /// `http://127.0.0.1:PORT`, as the provider names itself.
    pub issuer: String,
}

fn folder() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc")
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").expect("a free port").local_addr().expect("its address").port()
}

fn skip(why: &str) -> Option<TestProvider> {
    if std::env::var_os("RECIPEBOX_OIDC_REQUIRED").is_some() {
        panic!("the OpenID provider is required (RECIPEBOX_OIDC_REQUIRED) but {why}");
    }
    eprintln!("skipped: {why} (run `npm ci` in tests/oidc, with Node 20 or later)");
    None
}

impl TestProvider {
    /// A provider whose client may return to `redirects`, on a free port.
    pub fn start(redirects: &[String]) -> Option<Self> {
        Self::start_on(free_port(), redirects, &[])
    }

    /// A provider on `port`, with `env` set (`OIDC_FRESH_KEY`,
    /// `OIDC_EMAIL_IN_USERINFO_ONLY`).
    pub fn start_on(port: u16, redirects: &[String], env: &[(&str, &str)]) -> Option<Self> {
        if !folder().join("node_modules/oidc-provider").is_dir() {
            return skip("tests/oidc/node_modules has no oidc-provider");
        }
        let mut command = Command::new("node");
        command.arg(folder().join("provider.mjs")).arg(port.to_string()).args(redirects);
        command.envs(env.iter().copied()).stdout(Stdio::piped()).stderr(Stdio::null());
        let mut child = match command.spawn() {
            Ok(child) => child,
            Err(e) => return skip(&format!("node could not be started: {e}")),
        };
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains("listening on") {
                    let _ = tx.send(());
                }
            }
        });
        if rx.recv_timeout(Duration::from_secs(30)).is_err() {
            let _ = child.kill();
            panic!("the OpenID provider did not start listening on port {port} within 30 s");
        }
        Some(Self { child, port, issuer: format!("http://127.0.0.1:{port}") })
    }
}

impl Drop for TestProvider {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// What the person does at the provider's consent prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Consent {
    Allow,
    Deny,
}

/// A browser at the provider: its cookies, so that a second login there
/// finds the provider's session (as a person's browser would).
pub struct ProviderBrowser {
    http: reqwest::Client,
}

impl Default for ProviderBrowser {
    fn default() -> Self {
        Self::new()
    }
}

impl ProviderBrowser {
    pub fn new() -> Self {
        let http = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .no_proxy()
            .timeout(Duration::from_secs(20))
            .build()
            .expect("an HTTP client");
        Self { http }
    }

    /// Follows the provider's pages from `auth_url` (the app's redirect),
    /// logging in as `login` (the `sub`; see provider.mjs for the email)
    /// and answering its consent prompt, until the provider sends the
    /// browser back somewhere off the provider: that URL (the app's
    /// callback, with `code`, `state` and `iss`, or `error`).
    pub async fn sign_in(&self, auth_url: &str, login: &str, consent: Consent) -> String {
        let mut url = url::Url::parse(auth_url).expect("the provider's URL");
        let origin = url.origin();
        for _ in 0..20 {
            let response = self.http.get(url.clone()).send().await.expect("the provider answers");
            let Some(location) = response.headers().get("location") else {
                panic!("the provider did not redirect from {url}: {}", response.status());
            };
            let next = url.join(location.to_str().expect("an ASCII location")).expect("a URL");
            if next.origin() != origin {
                return next.to_string();
            }
            if !next.path().starts_with("/interaction/") {
                url = next;
                continue;
            }
            let page = self.http.get(next.clone()).send().await.expect("the interaction page").text().await.expect("its text");
            let form: Vec<(&str, &str)> = if page.contains(r#"value="login""#) {
                vec![("prompt", "login"), ("login", login), ("password", "any")]
            } else if consent == Consent::Deny {
                // The development pages' "cancel": the same as declining.
                let abort = next.join(&format!("{}/abort", next.path())).expect("a URL");
                let response = self.http.get(abort).send().await.expect("the provider answers");
                url = next.join(response.headers()["location"].to_str().expect("ASCII")).expect("a URL");
                continue;
            } else {
                vec![("prompt", "consent")]
            };
            let response = self.http.post(next.clone()).form(&form).send().await.expect("the provider takes the form");
            url = next.join(response.headers()["location"].to_str().expect("an ASCII location")).expect("a URL");
        }
        panic!("the provider's pages did not send the browser back within 20 steps");
    }
}
