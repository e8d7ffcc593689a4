//! The real binary, started as an operator would: configuration only through
//! the environment variables SPEC.md names, port 0, a temporary database.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A running `recipebox` binary; killed on drop.
struct TestServer {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl TestServer {
    fn start(extra_env: &[(&str, &str)]) -> Result<Self, String> {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}?mode=rwc", dir.path().join("server.db").display());
        let mut child = Command::new(env!("CARGO_BIN_EXE_recipebox"))
            .current_dir(dir.path())
            .env("DATABASE_URL", url)
            .env("ROCKET_PORT", "0")
            .env("ROCKET_ADDRESS", "127.0.0.1")
            .env("ROCKET_JWT_SECRET", crate::helpers::SECRET)
            .env("ROCKET_BCRYPT_COST", "4")
            .envs(extra_env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the binary starts");
        // The liftoff fairing prints the bound address on stdout.
        let mut stdout = BufReader::new(child.stdout.take().unwrap());
        let mut line = String::new();
        while stdout.read_line(&mut line).map_err(|e| e.to_string())? > 0 {
            if let Some(address) = line.trim().strip_prefix("recipebox listening on http://") {
                let address = address.to_owned();
                return Ok(Self { child, address, _dir: dir });
            }
            line.clear();
        }
        let mut stderr = String::new();
        child.stderr.take().unwrap().read_to_string(&mut stderr).ok();
        let _ = child.wait();
        Err(stderr)
    }

    /// A minimal HTTP/1.1 exchange; returns the status code and the body.
    fn request(&self, method: &str, path: &str, headers: &str, body: &str) -> (u16, String) {
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
    let body: serde_json::Value = serde_json::from_str(body.trim()).unwrap_or_else(|_| {
        // A chunked body: take the JSON object out of the chunk framing.
        let start = body.find('{').unwrap();
        let end = body.rfind('}').unwrap();
        serde_json::from_str(&body[start..=end]).unwrap()
    });
    assert_eq!(body["expires_in"], 120, "ROCKET_ACCESS_TOKEN_TTL is read");
}

#[test]
fn the_binary_refuses_to_start_with_a_short_secret_and_says_why() {
    let error = TestServer::start(&[("ROCKET_JWT_SECRET", "short-secret")]).err().expect("start is refused");
    assert!(error.contains("jwt_secret") && error.contains("at least 32 bytes"), "{error}");
    assert!(!error.contains("short-secret"), "the secret is not echoed");
}
