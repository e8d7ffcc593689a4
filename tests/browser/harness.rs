//! What every browser test needs: the recipebox binary on a free port of
//! 127.0.0.1 with a database of its own (browsed as 127.0.0.1, or as
//! localhost for passkeys), and a headless Chromium driven through
//! chromedriver (WebDriver, with fantoccini).
//!
//! Which binary: `RECIPEBOX_BROWSER_BINARY` (`.ci/run` sets it to the
//! release build), else the debug binary Cargo built for this test run.
//! Without Chromium, chromedriver or axe-core the tests say what is missing
//! and pass without running, unless `RECIPEBOX_BROWSER_REQUIRED` is set
//! (CI sets it, so a CI without them fails instead of passing blind).

use std::fs::File;
use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::elements::Element;
use fantoccini::{Client, ClientBuilder, Locator};
use rocket::tokio::time::sleep;
use serde_json::{json, Value};

pub const PASSWORD: &str = "a long secret phrase";

const CHROMIUM: &str = "/usr/bin/chromium";
const CHROMEDRIVER: &str = "/usr/bin/chromedriver";

/// What the suite needs from outside, or why it cannot run.
pub struct Tools {
    pub chromium: PathBuf,
    pub chromedriver: PathBuf,
}

fn env_path(name: &str, default: &str) -> PathBuf {
    std::env::var_os(name).map_or_else(|| PathBuf::from(default), PathBuf::from)
}

fn required() -> bool {
    std::env::var_os("RECIPEBOX_BROWSER_REQUIRED").is_some()
}

/// Says why a test does not run, on the terminal itself (the test harness
/// swallows `eprintln!` of a passing test), or fails it when CI requires
/// the browser.
fn skip<T>(reason: String) -> Option<T> {
    assert!(!required(), "{reason}");
    let _ = writeln!(std::io::stderr(), "{reason}");
    None
}

/// Skips (returns `None`, having said why) when Chromium or chromedriver
/// is missing; panics instead when `RECIPEBOX_BROWSER_REQUIRED` is set.
pub fn tools(test: &str) -> Option<Tools> {
    let chromium = env_path("CHROMIUM", CHROMIUM);
    let chromedriver = env_path("CHROMEDRIVER", CHROMEDRIVER);
    for (what, path) in [("Chromium", &chromium), ("chromedriver", &chromedriver)] {
        if !path.is_file() {
            let reason = format!(
                "{test}: skipped, {what} is not at {} (apt-get install chromium chromium-driver; \
                 or set CHROMIUM / CHROMEDRIVER)",
                path.display()
            );
            return skip(reason);
        }
    }
    Some(Tools { chromium, chromedriver })
}

/// axe-core's script (from npm), or why there is none: `AXE_CORE_JS`, else
/// `target/npm/node_modules/axe-core/axe.min.js` where `.ci/run` puts it.
pub fn axe_script(test: &str) -> Option<String> {
    let default = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/npm/node_modules/axe-core/axe.min.js");
    let path = std::env::var_os("AXE_CORE_JS").map_or(default, PathBuf::from);
    match std::fs::read_to_string(&path) {
        Ok(script) => Some(script),
        Err(_) => {
            let reason = format!(
                "{test}: skipped, axe-core is not at {} (npm install --prefix target/npm axe-core; or set AXE_CORE_JS)",
                path.display()
            );
            skip(reason)
        }
    }
}

/// A port nobody listens on right now.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A running recipebox; killed on drop.
pub struct Server {
    child: Child,
    pub base: String,
    dir: tempfile::TempDir,
}

/// The recipebox binary (see the module's comment), run in `dir` on the
/// SQLite database there.
/// The binary on the suite's database and with its `jwt_secret`: the
/// server and its command line alike (the command line opens the keyring,
/// which only the site's secret opens).
fn recipebox(dir: &Path) -> Command {
    let binary = std::env::var_os("RECIPEBOX_BROWSER_BINARY")
        .map_or_else(|| PathBuf::from(env!("CARGO_BIN_EXE_recipebox")), PathBuf::from);
    let mut command = Command::new(binary);
    command
        .current_dir(dir)
        .env("DATABASE_URL", format!("sqlite://{}?mode=rwc", dir.join("browser.db").display()))
        .env("ROCKET_JWT_SECRET", "browser-suite-secret-browser-suite-secret-0123");
    command
}

impl Server {
    /// On a free port of 127.0.0.1 that the server picks itself, browsed
    /// as `http://127.0.0.1:PORT` (its `public_url` stays the default, so
    /// its pages offer passkeys that cannot work at this address).
    pub fn start() -> Self {
        Self::launch(None, &[]).unwrap_or_else(|why| panic!("recipebox did not start: {why}"))
    }

    /// Browsed as `http://localhost:PORT` (its `public_url`) on `port`,
    /// with `env` set: a test that must know the address before the
    /// server starts (an OpenID provider's redirect URI).
    pub fn start_on(port: u16, env: &[(&str, String)]) -> Self {
        Self::launch(Some(port), env).unwrap_or_else(|why| panic!("recipebox did not start: {why}"))
    }

    /// Browsed as `http://localhost:PORT`, which is also its `public_url`:
    /// the relying party of passkeys (WebAuthn refuses an IP address, and
    /// `webauthn-rs` takes only that exact origin, port included). The port
    /// is picked here, free a moment before the server binds it: another
    /// one is tried should something take it in between.
    pub fn start_on_localhost() -> Self {
        let mut why = String::new();
        for _ in 0..3 {
            match Self::launch(Some(free_port()), &[]) {
                Ok(server) => return server,
                Err(e) => why = e,
            }
        }
        panic!("recipebox did not start on localhost: {why}");
    }

    /// Starts the binary on `port` (0: one it picks) and waits for the line
    /// it prints once listening; `Err` holds its log when it does not.
    fn launch(port: Option<u16>, env: &[(&str, String)]) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let log = File::create(dir.path().join("stderr.log")).unwrap();
        let mut command = recipebox(dir.path());
        command
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_PORT", port.unwrap_or(0).to_string())
            // The lowest cost a release build accepts.
            .env("ROCKET_BCRYPT_COST", "10")
            // Plain http on a loopback address: the cookies cannot be `Secure` here.
            .env("ROCKET_COOKIE_SECURE", "false");
        if let Some(port) = port {
            command.env("ROCKET_PUBLIC_URL", format!("http://localhost:{port}"));
        }
        command.envs(env.iter().map(|(key, value)| (key, value.as_str())));
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .unwrap_or_else(|e| panic!("recipebox does not start: {e}"));
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while stdout.read_line(&mut line).unwrap() > 0 {
            if let Some(listening) = line.trim().strip_prefix("recipebox listening on ") {
                let base = match port {
                    Some(port) => format!("http://localhost:{port}"),
                    None => listening.to_owned(),
                };
                // The server prints more after this line: keep reading, so
                // that it never writes into a closed pipe (Rust's `println!`
                // panics on EPIPE).
                std::thread::spawn(move || std::io::copy(&mut stdout, &mut std::io::sink()));
                return Ok(Self { child, base, dir });
            }
            line.clear();
        }
        let _ = child.kill();
        let _ = child.wait();
        Err(std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default())
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// Makes an existing user an admin, with the binary's own command.
    pub fn promote(&self, email: &str) {
        let status = recipebox(self.dir.path())
            .args(["user", "promote", email])
            .stdout(Stdio::null())
            .status()
            .unwrap();
        assert!(status.success(), "user promote {email}");
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// chromedriver and a headless Chromium session of their own.
pub struct Browser {
    pub client: Client,
    driver: Child,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub async fn start(tools: &Tools) -> Self {
        let port = free_port();
        let driver = Command::new(&tools.chromedriver)
            .arg(format!("--port={port}"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("chromedriver starts");
        let profile = tempfile::tempdir().unwrap();
        let capabilities = json!({
            "browserName": "chrome",
            "goog:loggingPrefs": { "browser": "ALL" },
            "goog:chromeOptions": {
                "binary": tools.chromium,
                "args": [
                    "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                    "--disable-background-networking", "--disable-component-update", "--disable-sync",
                    "--disable-extensions", "--no-first-run", "--hide-scrollbars", "--window-size=1280,900",
                    format!("--user-data-dir={}", profile.path().display()),
                ],
            },
        });
        let capabilities = capabilities.as_object().unwrap().clone();
        let url = format!("http://127.0.0.1:{port}");
        let mut last_error = String::new();
        for _ in 0..100 {
            let connector = hyper_util::client::legacy::connect::HttpConnector::new();
            match ClientBuilder::new(connector).capabilities(capabilities.clone()).connect(&url).await {
                Ok(client) => return Self { client, driver, _profile: profile },
                Err(e) => last_error = e.to_string(),
            }
            sleep(Duration::from_millis(100)).await;
        }
        panic!("no WebDriver session from chromedriver on port {port}: {last_error}");
    }

    pub async fn goto(&self, url: &str) {
        self.client.goto(url).await.unwrap_or_else(|e| panic!("goto {url}: {e}"));
    }

    /// The whole address of the current page.
    pub async fn client_url(&self) -> String {
        self.client.current_url().await.unwrap().to_string()
    }

    pub async fn path(&self) -> String {
        let url = self.client.current_url().await.unwrap();
        match url.query() {
            Some(query) => format!("{}?{query}", url.path()),
            None => url.path().to_owned(),
        }
    }

    pub async fn find(&self, css: &str) -> Element {
        match self.client.find(Locator::Css(css)).await {
            Ok(element) => element,
            Err(e) => panic!("no {css} on {}: {e}\n{}", self.path().await, self.client.source().await.unwrap_or_default()),
        }
    }

    pub async fn find_all(&self, css: &str) -> Vec<Element> {
        self.client.find_all(Locator::Css(css)).await.unwrap()
    }

    pub async fn text(&self, css: &str) -> String {
        self.find(css).await.text().await.unwrap()
    }

    /// The page's visible text.
    pub async fn body(&self) -> String {
        self.text("body").await
    }

    /// Types into the field that `css` finds (after clearing it).
    pub async fn fill(&self, css: &str, value: &str) {
        let field = self.find(css).await;
        field.clear().await.unwrap();
        field.send_keys(value).await.unwrap();
    }

    /// Fills the fields of the form that `form` finds and presses its
    /// submit button, waiting for the next page.
    pub async fn submit(&self, form: &str, fields: &[(&str, &str)]) {
        for (name, value) in fields {
            self.fill(&format!("{form} [name='{name}']"), value).await;
        }
        self.click_and_wait(&format!("{form} [type=submit]")).await;
    }

    /// Does `action` (a click, a key, Back) and waits until the document it
    /// started from has been replaced: the old one is marked first.
    pub async fn navigating(&self, action: impl std::future::Future<Output = Result<(), fantoccini::error::CmdError>>) {
        self.client.execute("window.__recipebox_old_page = true;", vec![]).await.unwrap();
        action.await.unwrap();
        self.wait_for_new_page().await;
    }

    /// Clicks and waits until the document has been replaced.
    pub async fn click_and_wait(&self, css: &str) {
        let element = self.find(css).await;
        self.navigating(element.click()).await;
    }

    /// The browser's Back button, waiting for the page it brings.
    pub async fn back(&self) {
        self.navigating(self.client.back()).await;
    }

    /// Waits until the document marked by `navigating` has been replaced.
    pub async fn wait_for_new_page(&self) {
        for _ in 0..200 {
            let state = self
                .client
                .execute("return [document.readyState, window.__recipebox_old_page === true];", vec![])
                .await;
            if let Ok(Value::Array(state)) = state {
                if state[0] == "complete" && state[1] == false {
                    return;
                }
            }
            sleep(Duration::from_millis(25)).await;
        }
        panic!("no new page after waiting, at {}", self.path().await);
    }

    /// Chromium's console since the last call: `(level, message)`.
    pub async fn console(&self) -> Vec<(String, String)> {
        let entries = self.client.issue_cmd(ChromeLog).await.unwrap();
        entries
            .as_array()
            .into_iter()
            .flatten()
            .map(|e| (e["level"].as_str().unwrap_or("").to_owned(), e["message"].as_str().unwrap_or("").to_owned()))
            .collect()
    }

    /// Errors and warnings in the console (CSP violations are errors),
    /// leaving out Chromium's "[DOM] ... autocomplete" advice.
    pub async fn console_problems(&self) -> Vec<String> {
        self.console()
            .await
            .into_iter()
            .filter(|(level, _)| level == "SEVERE" || level == "WARNING")
            .map(|(level, message)| format!("{level}: {message}"))
            .collect()
    }

    pub async fn resize(&self, width: u32, height: u32) {
        self.client.set_window_size(width, height).await.unwrap();
    }

    /// The whole page (not just the viewport) as a PNG, at `width` px, in
    /// `target/screenshots/{name}-{width}.png`. The PNG is written either
    /// way; an `Err` says the page scrolls sideways at that width (see
    /// `horizontal_overflow`), which no page may do, a phone's (390 px)
    /// least of all.
    pub async fn screenshot(&self, name: &str, width: u32) -> Result<(), String> {
        // The window's height is the viewport's plus the browser's own bars
        // (headless Chromium keeps ~140 px of them): sized to the page
        // alone, the screenshot would lose the page's foot.
        let height: f64 = {
            self.resize(width, 900).await;
            let h = self
                .client
                .execute("return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight;", vec![])
                .await
                .unwrap();
            h.as_f64().unwrap_or(900.0)
        };
        self.resize(width, (height as u32).clamp(600, 4000)).await;
        let overflow = self.horizontal_overflow().await;
        let png = self.client.screenshot().await.unwrap();
        let dir = screenshot_dir();
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{name}-{width}.png")), png).unwrap();
        self.resize(1280, 900).await;
        match overflow {
            None => Ok(()),
            Some(why) => Err(format!("{name} ({}) at {width} px: scrolls sideways, {why}", self.path().await)),
        }
    }

    /// Whether the page is wider than the window, so that it scrolls
    /// sideways: `None` when `document.documentElement.scrollWidth` and
    /// `document.body.scrollWidth` are both within `window.innerWidth`,
    /// else both widths and the first few elements whose right edge passes
    /// the window's, each the first to do so on its branch (its parent
    /// ends within the window), or whose text runs out past it, and not
    /// clipped by a scrolling or hidden ancestor (a table scrolling in its
    /// own box does not widen the page).
    pub async fn horizontal_overflow(&self) -> Option<String> {
        let found = self
            .client
            .execute(
                "const window_width = window.innerWidth;
                 const page = document.documentElement.scrollWidth;
                 const body = document.body.scrollWidth;
                 if (page <= window_width && body <= window_width) return null;
                 const describe = e => {
                   let d = e.tagName.toLowerCase();
                   if (e.id) d += '#' + e.id;
                   for (const c of e.classList) d += '.' + c;
                   const text = (e.textContent || '').trim().replace(/\\s+/g, ' ').slice(0, 40);
                   return text ? `${d} “${text}”` : d;
                 };
                 const clipped = node => {
                   for (let a = node.parentElement; a && a !== document.body; a = a.parentElement) {
                     if (getComputedStyle(a).overflowX !== 'visible') return true;
                   }
                   return false;
                 };
                 const right = e => e.getBoundingClientRect().right + window.scrollX;
                 const offenders = [];
                 for (const e of document.body.querySelectorAll('*')) {
                   const r = e.getBoundingClientRect();
                   if (r.width === 0 && r.height === 0) continue;
                   if (right(e) <= window_width + 0.5 || clipped(e)) continue;
                   const parent = e.parentElement;
                   if (parent && parent !== document.body && right(parent) > window_width + 0.5) continue;
                   offenders.push(`${describe(e)} ends at ${Math.round(right(e))} px`);
                 }
                 // Text running out of a box that itself fits (a long word).
                 const texts = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
                 for (let t = texts.nextNode(); t; t = texts.nextNode()) {
                   const box = t.parentElement;
                   if (!t.textContent.trim() || right(box) > window_width + 0.5 || clipped(t)) continue;
                   const range = document.createRange();
                   range.selectNodeContents(t);
                   const end = range.getBoundingClientRect().right + window.scrollX;
                   if (end > window_width + 0.5) offenders.push(`text of ${describe(box)} ends at ${Math.round(end)} px`);
                 }
                 return `document ${page} px, body ${body} px wide in a window of ${window_width} px; `
                   + (offenders.length
                       ? `past the window's right edge: ${offenders.slice(0, 5).join('; ')}`
                         + (offenders.length > 5 ? ` and ${offenders.length - 5} more` : '')
                       : 'no element ends past the window (a margin or a transform?)');",
                vec![],
            )
            .await
            .unwrap();
        found.as_str().map(str::to_owned)
    }

    /// Signs up through the form; the browser is then logged in.
    pub async fn sign_up(&self, server: &Server, email: &str, username: &str) {
        self.goto(&server.url("/signup")).await;
        self.submit(
            "form[action='/signup']",
            &[("email", email), ("username", username), ("password", PASSWORD), ("password_confirm", PASSWORD)],
        )
        .await;
    }

    /// Writes a recipe through the form; returns its path (`/recipes/N`).
    pub async fn write_recipe(&self, server: &Server, name: &str, description: &str) -> String {
        self.goto(&server.url("/recipes/new")).await;
        self.submit(
            "form[action='/recipes']",
            &[("name", name), ("description", description), ("cook_time", "25"), ("directions", "Chop. Simmer.\nServe.")],
        )
        .await;
        let path = self.path().await;
        assert!(path.starts_with("/recipes/") && path[9..].parse::<u64>().is_ok(), "after publishing: {path}");
        path
    }

    /// Presses Enter where the focus is and waits for the page it brings.
    pub async fn press_enter(&self) {
        let focused = self.client.active_element().await.unwrap();
        self.navigating(focused.send_keys("\u{E007}")).await;
    }

    pub async fn log_in(&self, server: &Server, email: &str, password: &str) {
        self.goto(&server.url("/login")).await;
        self.submit("form[action='/login']", &[("email", email), ("password", password)]).await;
    }

    /// Gives the browser a virtual authenticator (WebDriver's WebAuthn
    /// extension, which chromedriver has): a platform authenticator
    /// ("internal") that keeps discoverable credentials, verifies its user
    /// and consents to every request without a prompt. Returns its id.
    pub async fn add_virtual_authenticator(&self) -> String {
        let options = json!({
            "protocol": "ctap2",
            "transport": "internal",
            "hasResidentKey": true,
            "hasUserVerification": true,
            "isUserConsenting": true,
            "isUserVerified": true,
        });
        let command = WebAuthn { path: "authenticator".into(), method: http::Method::POST, body: Some(options.to_string()) };
        let id = self.client.issue_cmd(command).await.expect("chromedriver adds a virtual authenticator");
        id.as_str().unwrap_or_else(|| panic!("no authenticator id in {id}")).to_owned()
    }

    /// The credentials the virtual authenticator `authenticator` holds:
    /// `credentialId`, `isResidentCredential`, `rpId`, `userHandle`,
    /// `signCount` (and its private key).
    pub async fn authenticator_credentials(&self, authenticator: &str) -> Vec<Value> {
        let command = WebAuthn { path: format!("authenticator/{authenticator}/credentials"), method: http::Method::GET, body: None };
        let found = self.client.issue_cmd(command).await.expect("chromedriver lists the credentials");
        found.as_array().cloned().unwrap_or_else(|| panic!("no list of credentials: {found}"))
    }

    /// Runs `script` in every document this browser loads from now on,
    /// before the page's own scripts (Chrome DevTools'
    /// `Page.addScriptToEvaluateOnNewDocument`, through chromedriver).
    pub async fn before_page_scripts(&self, script: &str) {
        let command = json!({ "cmd": "Page.addScriptToEvaluateOnNewDocument", "params": { "source": script } });
        self.client.issue_cmd(Cdp(command.to_string())).await.expect("chromedriver passes a DevTools command");
    }

    pub async fn close(self) {
        let Self { client, mut driver, _profile } = self;
        let _ = client.close().await;
        let _ = driver.kill();
        let _ = driver.wait();
    }
}

/// What axe-core finds on the current page: serious and critical
/// violations only, one line each with the elements involved.
pub async fn axe_violations(browser: &Browser, axe: &str) -> Vec<String> {
    browser.client.execute(&format!("{axe}\nreturn true;"), vec![]).await.expect("axe-core loads");
    let found = browser
        .client
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { resultTypes: ['violations'] })
               .then(r => done(r.violations
                 .filter(v => v.impact === 'serious' || v.impact === 'critical')
                 .map(v => `${v.impact} ${v.id}: ${v.help} at ${v.nodes.map(n => n.target.join(' ')).slice(0, 5).join(', ')}`)))
               .catch(e => done(['axe failed: ' + e]));",
            vec![],
        )
        .await
        .unwrap();
    found.as_array().unwrap().iter().map(|v| v.as_str().unwrap_or_default().to_owned()).collect()
}

/// Page script must not be able to read a token: not in `document.cookie`
/// (the token cookies are HttpOnly), not in web storage.
pub async fn readable_tokens(browser: &Browser) -> Value {
    browser
        .client
        .execute(
            "const found = [];
             for (const c of document.cookie.split(';')) {
               const name = c.split('=')[0].trim();
               if (['access_token', 'refresh_token', 'reset_token'].includes(name)) found.push('cookie ' + name);
             }
             for (const store of [localStorage, sessionStorage]) {
               for (let i = 0; i < store.length; i++) found.push('storage ' + store.key(i));
             }
             if (/eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}\\./.test(document.documentElement.outerHTML)) found.push('a JWT in the page');
             return found;",
            vec![],
        )
        .await
        .unwrap()
}

/// Checks the page the browser is on, adding to `problems`: console
/// errors and warnings (CSP violations among them; the page's own 4xx
/// status excepted), a token page script can read, serious or critical
/// axe-core violations (when `axe` is there), and sideways scrolling at
/// 390 px and 1280 px, with a screenshot `{name}-{width}.png` at each.
pub async fn check_current(browser: &Browser, axe: Option<&str>, name: &str, problems: &mut Vec<String>) {
    let at = browser.path().await;
    // An error page's own status (a 404, a form's 422) is what it should
    // be, though Chromium logs it as a failed load; any other is a problem.
    let url = browser.client.current_url().await.unwrap().to_string();
    let own_status = format!("SEVERE: {url} - Failed to load resource: the server responded with a status of 4");
    for message in browser.console_problems().await {
        if !message.starts_with(&own_status) {
            problems.push(format!("{name} ({at}): console {message}"));
        }
    }
    let tokens = readable_tokens(browser).await;
    if tokens != serde_json::json!([]) {
        problems.push(format!("{name} ({at}): page script can read {tokens}"));
    }
    if let Some(axe) = axe {
        for violation in axe_violations(browser, axe).await {
            problems.push(format!("{name} ({at}): axe {violation}"));
        }
    }
    // Nothing may scroll sideways, on a phone least of all.
    for width in [390, 1280] {
        if let Err(overflow) = browser.screenshot(name, width).await {
            problems.push(overflow);
        }
    }
    for width in [390, 1280] {
        let shot = screenshot_dir().join(format!("{name}-{width}.png"));
        if !std::fs::metadata(&shot).is_ok_and(|m| m.len() > 1000) {
            problems.push(format!("{name}: no screenshot at {}", shot.display()));
        }
    }
    for message in browser.console_problems().await {
        problems.push(format!("{name} ({at}) at 390 px or 1280 px: console {message}"));
    }
}

/// `target/screenshots/`.
pub fn screenshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target").join("screenshots")
}

/// chromedriver's log endpoint (not in W3C WebDriver; fantoccini sends it
/// as a custom command).
#[derive(Debug)]
struct ChromeLog;

impl fantoccini::wd::WebDriverCompatibleCommand for ChromeLog {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/se/log", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(r#"{"type":"browser"}"#.to_owned()))
    }
}

/// A command of WebDriver's WebAuthn extension
/// (`/session/{id}/webauthn/{path}`), which fantoccini has no helper for.
#[derive(Debug)]
struct WebAuthn {
    path: String,
    method: http::Method,
    body: Option<String>,
}

impl fantoccini::wd::WebDriverCompatibleCommand for WebAuthn {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/webauthn/{}", session.unwrap_or_default(), self.path))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (self.method.clone(), self.body.clone())
    }
}

/// A Chrome DevTools command through chromedriver (`goog/cdp/execute`);
/// the body is `{"cmd": ..., "params": {...}}`.
#[derive(Debug)]
struct Cdp(String);

impl fantoccini::wd::WebDriverCompatibleCommand for Cdp {
    fn endpoint(&self, base: &url::Url, session: Option<&str>) -> Result<url::Url, url::ParseError> {
        base.join(&format!("session/{}/goog/cdp/execute", session.unwrap_or_default()))
    }

    fn method_and_body(&self, _: &url::Url) -> (http::Method, Option<String>) {
        (http::Method::POST, Some(self.0.clone()))
    }
}
