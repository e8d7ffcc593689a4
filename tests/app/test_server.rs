//! The real binary, started as an operator would: configuration only
//! through the environment variables SPEC.md names, port 0, a temporary
//! database. Used by the `app` suite and by the `shutdown` test binary.

use std::fs::File;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running `recipebox` binary; killed on drop. Its stderr (the log) goes
/// to a file, so a chatty server never blocks on a full pipe.
pub struct TestServer {
    pub child: Child,
    pub address: String,
    pub dir: tempfile::TempDir,
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

    /// Sends SIGTERM, as systemd or a container runtime does to stop it
    /// (`tests/shutdown.rs`).
    #[allow(dead_code)]
    pub fn send_sigterm(&self) {
        let sent = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status().unwrap();
        assert!(sent.success());
    }

    /// The token of the reset link in the server's outbox (mail is written
    /// by a background task: waits five seconds at most).
    pub fn reset_token_from_outbox(&self) -> String {
        let outbox = self.dir.path().join("data").join("outbox");
        for _ in 0..250 {
            let messages = std::fs::read_dir(&outbox).into_iter().flatten().filter_map(|file| std::fs::read_to_string(file.ok()?.path()).ok());
            // Sign-up's verification message sits beside it.
            for message in messages {
                if let Some(start) = message.find("/reset-password?token=") {
                    let token = &message[start + "/reset-password?token=".len()..];
                    return token.split_whitespace().next().unwrap().to_owned();
                }
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        panic!("no reset link reached {}", outbox.display());
    }

    /// Everything the server has logged so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("stderr.log")).unwrap()
    }

    /// The log once it holds `lines` lines with `marker` (or after 5 s):
    /// lines are written by a thread of their own, a moment after the
    /// response has gone.
    pub fn log_with(&self, lines: usize, marker: &str) -> String {
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
