//! The real binary, started as an operator would: configuration only through
//! the environment variables SPEC.md names, port 0, a temporary database.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `recipebox` binary; killed on drop. Its stderr (the log) goes
/// to a file, so a chatty server never blocks on a full pipe.
pub struct TestServer {
    child: Child,
    pub address: String,
    dir: tempfile::TempDir,
}

impl TestServer {
    /// The binary on an SQLite database of its own.
    pub fn start(extra_env: &[(&str, &str)]) -> Result<Self, String> {
        Self::start_on(None, extra_env)
    }

    /// The binary on the database at `url` (which another may share), or
    /// with `None` on an SQLite file in its own folder.
    pub fn start_on(url: Option<&str>, extra_env: &[(&str, &str)]) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let url = url.map_or_else(|| format!("sqlite://{}?mode=rwc", dir.path().join("server.db").display()), str::to_owned);
        let log = File::create(dir.path().join("stderr.log")).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_recipebox"))
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .env("ROCKET_PORT", "0")
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_JWT_SECRET", crate::helpers::SECRET)
            .env("ROCKET_BCRYPT_COST", "4")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("the binary starts");
        // The liftoff fairing prints the bound address on stdout.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while stdout.read_line(&mut line).map_err(|e| e.to_string())? > 0 {
            if let Some(address) = line.trim().strip_prefix("recipebox listening on http://") {
                let address = address.to_owned();
                return Ok(Self { child, address, dir });
            }
            line.clear();
        }
        let _ = child.wait();
        Err(std::fs::read_to_string(dir.path().join("stderr.log")).unwrap_or_default())
    }

    /// Sends SIGTERM, as systemd or a container runtime does to stop it.
    fn send_sigterm(&self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    }

    /// The token of the reset link in the server's outbox (mail is written
    /// by a background task: waits five seconds at most).
    fn reset_token_from_outbox(&self) -> String {
        let outbox = self.dir.path().join("data").join("outbox");
        for _ in 0..250 {
            let message = std::fs::read_dir(&outbox).ok().and_then(|mut files| files.next()).and_then(|file| std::fs::read_to_string(file.ok()?.path()).ok());
            if let Some(message) = message.filter(|m| m.contains("token=")) {
                let start = message.find("token=").unwrap() + "token=".len();
                return message[start..].split_whitespace().next().unwrap().to_owned();
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no reset link reached {}", outbox.display());
    }

    /// Everything the server has logged so far.
    fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap()
    }

    /// The log once it holds `lines` lines with `marker` (or after 5 s):
    /// lines are written by a thread of their own, a moment after the
    /// response has gone.
    fn log_with(&self, lines: usize, marker: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let log = self.log();
            if log.lines().filter(|line| line.contains(marker)).count() >= lines || Instant::now() > deadline {
                return log;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// A minimal HTTP/1.1 exchange; returns the status code and the body.
    pub fn request(&self, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        write!(
            stream,
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n{headers}\r\n{body}",
            self.address,
            body.len()
        )
        .unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).unwrap();
        let status = response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let body = response.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (status, body)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_binary_serves_with_environment_configuration_and_honours_the_ttl() {
    let server = TestServer::start(&[("ROCKET_ACCESS_TOKEN_TTL", "120")]).expect("server starts");
    assert_eq!(server.request("GET", "/healthz", "", ""), (200, r#"{"status":"ok"}"#.to_owned()));
    let signup = r#"{"email":"ann@example.com","username":"ann_lee","password":"a long secret phrase"}"#;
    let (status, body) = server.request("POST", "/api/v1/users", "Content-Type: application/json\r\n", signup);
    assert_eq!(status, 201, "{body}");
    assert_eq!(json_of(&body)["expires_in"], 120, "ROCKET_ACCESS_TOKEN_TTL is read");
}

/// The JSON object of a response body, chunked or not.
pub fn json_of(body: &str) -> serde_json::Value {
    serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        let start = body.find('{').unwrap();
        let end = body.rfind('}').unwrap();
        serde_json::from_str(&body[start..=end]).unwrap()
    })
}

/// Signs up, fails a login, logs in, writes a recipe, refreshes and logs
/// out over the API; returns every secret that passed over the wire, and
/// how many requests were made.
fn a_whole_session(server: &TestServer) -> (Vec<String>, usize) {
    let password = "a long secret phrase";
    let json = "Content-Type: application/json\r\n";
    let signup = format!(r#"{{"email":"ann@example.com","username":"ann_lee","password":"{password}"}}"#);
    let (status, body) = server.request("POST", "/api/v1/users", json, &signup);
    assert_eq!(status, 201, "{body}");
    let first = json_of(&body);
    let wrong = r#"{"email":"ann@example.com","password":"a wrong guess of it"}"#;
    assert_eq!(server.request("POST", "/api/v1/auth/login", json, wrong).0, 401);
    let login = format!(r#"{{"email":"ann@example.com","password":"{password}"}}"#);
    let (status, body) = server.request("POST", "/api/v1/auth/login", json, &login);
    assert_eq!(status, 200, "{body}");
    let tokens = json_of(&body);
    let (access, refresh) = (tokens["access_token"].as_str().unwrap(), tokens["refresh_token"].as_str().unwrap());
    let bearer = |token: &str| format!("Authorization: Bearer {token}\r\n{json}");
    let recipe = r#"{"name":"Kimchi stew","description":"Spicy","cook_time":45,"directions":"Simmer."}"#;
    assert_eq!(server.request("POST", "/api/v1/recipes", &bearer(access), recipe).0, 201);
    let (status, body) = server.request("POST", "/api/v1/auth/refresh", &bearer(refresh), "");
    assert_eq!(status, 200, "{body}");
    let rotated = json_of(&body);
    let new_access = rotated["access_token"].as_str().unwrap();
    assert_eq!(server.request("POST", "/api/v1/auth/logout", &bearer(new_access), "").0, 204);
    let mut secrets = vec![password.to_owned(), "a wrong guess of it".to_owned(), crate::helpers::SECRET.to_owned()];
    for pair in [&first, &tokens, &rotated] {
        secrets.extend(["access_token", "refresh_token"].map(|key| pair[key].as_str().unwrap().to_owned()));
    }
    // A password reset link, asked for and followed.
    assert_eq!(server.request("POST", "/api/v1/auth/forgot-password", json, r#"{"email":"ann@example.com"}"#).0, 202);
    let token = server.reset_token_from_outbox();
    let (status, _) = server.request("GET", &format!("/reset-password?token={token}"), "", "");
    assert_eq!(status, 303);
    secrets.push(token);
    (secrets, 8)
}

#[test]
fn the_text_log_has_one_plain_line_per_request_and_no_secret() {
    let server = TestServer::start(&[]).expect("server starts");
    let (secrets, requests) = a_whole_session(&server);
    let csrf_less = server.request("POST", "/login", "Content-Type: application/x-www-form-urlencoded\r\n", "email=a");
    assert_eq!(csrf_less.0, 403, "a refused form: Rocket's guard and catcher lines must not show either");
    let requests = requests + 1;
    let log = server.log_with(requests, "request_id=");
    assert!(!log.contains('\u{1b}'), "no colour codes when stderr is a file");
    let request_lines: Vec<&str> = log.lines().filter(|line| line.contains("request_id=")).collect();
    assert_eq!(request_lines.len(), requests, "exactly one line per request:\n{log}");
    assert!(request_lines.iter().any(|line| line.contains("status=401") && line.contains("path=/api/v1/auth/login")));
    assert!(!log.contains("rocket::server") && !log.contains("GuardFailed"), "Rocket's own request lines are not repeated:\n{log}");
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret in the log:\n{log}");
    }
    assert!(!log.contains("$2b$") && !log.contains("eyJ"), "no hash, no token:\n{log}");
}

#[test]
fn the_json_log_is_one_object_a_line_for_log_shippers() {
    let server = TestServer::start(&[("ROCKET_LOG_FORMAT", "json")]).expect("server starts");
    let (secrets, requests) = a_whole_session(&server);
    let log = server.log_with(requests, r#""request_id""#);
    let lines: Vec<serde_json::Value> =
        log.lines().map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}"))).collect();
    let request_lines: Vec<&serde_json::Value> = lines.iter().filter(|line| line["fields"]["request_id"].is_string()).collect();
    assert_eq!(request_lines.len(), requests);
    assert!(request_lines.iter().all(|line| line["fields"]["status"].is_u64() && line["fields"]["path"].is_string()));
    for secret in &secrets {
        assert!(!log.contains(secret.as_str()), "a secret in the log:\n{log}");
    }
}

#[test]
fn the_binary_refuses_an_unknown_log_format() {
    let error = TestServer::start(&[("ROCKET_LOG_FORMAT", "xml")]).err().expect("start is refused");
    assert!(error.contains("log_format"), "{error}");
}

#[test]
fn the_binary_refuses_to_start_with_a_short_secret_and_says_why() {
    let error = TestServer::start(&[("ROCKET_JWT_SECRET", "short-secret")]).err().expect("start is refused");
    assert!(error.contains("jwt_secret") && error.contains("at least 32 bytes"), "{error}");
    assert!(!error.contains("short-secret"), "the secret is not echoed");
}

#[test]
fn the_binary_prints_its_version() {
    let output = Command::new(env!("CARGO_BIN_EXE_recipebox")).arg("--version").output().unwrap();
    assert!(output.status.success());
    assert_eq!(String::from_utf8(output.stdout).unwrap().trim(), format!("recipebox {}", env!("CARGO_PKG_VERSION")));
}

#[test]
fn sigterm_lets_the_request_in_flight_finish_and_the_binary_exits_cleanly() {
    // Rocket waits `grace` seconds for requests in flight (2 by default);
    // the login below hashes on bcrypt's low-priority threads, which a
    // machine busy with the rest of the suite can hold back.
    let mut server = TestServer::start(&[("ROCKET_SHUTDOWN", "{grace=8,mercy=2}")]).expect("server starts");
    let mut stream = TcpStream::connect(&server.address).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let body = r#"{"email":"nobody@example.com","password":"a wrong guess of it"}"#;
    write!(
        stream,
        "POST /api/v1/auth/login HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Expect: 100-continue\r\nConnection: close\r\n\r\n",
        server.address,
        body.len()
    )
    .unwrap();
    // "100 Continue" comes when the handler starts reading the body: from
    // here on the request is in flight.
    let mut interim = [0u8; 25];
    stream.read_exact(&mut interim).unwrap();
    assert!(String::from_utf8_lossy(&interim).starts_with("HTTP/1.1 100 Continue"), "{}", String::from_utf8_lossy(&interim));

    // The body goes out before the signal: a connection still waiting for
    // its body when shutdown begins is not a request in flight to hyper,
    // and was sometimes closed unanswered.
    stream.write_all(body.as_bytes()).unwrap();
    server.send_sigterm();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    assert!(response.starts_with("HTTP/1.1 401"), "the request in flight was answered: {response}");

    let status = server.child.wait().unwrap();
    assert!(status.success(), "a clean exit after SIGTERM: {status:?}");
    let log = server.log();
    assert!(log.contains("SIGTERM"), "the log says why it stopped:\n{log}");
}
