//! Mail delivery over SMTP (SPEC.md §1): to a real SMTP sink (Python's
//! aiosmtpd, which `.ci/run` installs), including a delivery that failed
//! at first and was tried again. The outbox default is covered by the reset
//! tests, which read every message from it.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use rocket::http::Status;
use serde_json::json;

use crate::helpers::TestApp;

/// A Python that has aiosmtpd, if this machine has one.
fn python_with_aiosmtpd() -> Option<String> {
    let candidates = [std::env::var("RECIPEBOX_TEST_PYTHON").ok(), Some("python3".to_owned())];
    candidates.into_iter().flatten().find(|python| {
        Command::new(python).args(["-c", "import aiosmtpd"]).stderr(Stdio::null()).status().is_ok_and(|s| s.success())
    })
}

struct Sink(Child);

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// An SMTP server on `port` that prints every message it receives; its
/// lines arrive on the returned channel.
fn start_sink(python: &str, port: u16) -> (Sink, mpsc::Receiver<String>) {
    let mut child = Command::new(python)
        .args(["-u", "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Debugging", "-l", &format!("127.0.0.1:{port}")])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("aiosmtpd starts");
    let stdout = child.stdout.take().unwrap();
    let (lines, received) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if lines.send(line).is_err() {
                break;
            }
        }
    });
    (Sink(child), received)
}

/// A port free now and below the kernel's ephemeral range (32768 and up
/// by default), so no connection of a test running beside this one is given
/// it before the sink binds it, seconds later.
fn unused_port() -> u16 {
    loop {
        let port = 20_000 + (uuid::Uuid::new_v4().as_u128() % 12_000) as u16;
        if TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

#[rocket::async_test]
async fn mail_goes_to_the_smtp_server_and_a_failed_delivery_is_tried_again() {
    let Some(python) = python_with_aiosmtpd() else {
        // Straight to the terminal: the harness swallows a passing test's eprintln!.
        let message = "mail_goes_to_the_smtp_server…: skipped, no Python with aiosmtpd here (.ci/run installs one; or set RECIPEBOX_TEST_PYTHON)";
        let _ = std::io::Write::write_all(&mut std::io::stderr(), format!("{message}\n").as_bytes());
        return;
    };
    // A port with nothing on it yet: the first delivery fails.
    let port = unused_port();
    let t = TestApp::spawn_with(&[
        ("smtp_url", json!(format!("smtp://127.0.0.1:{port}"))),
        ("public_url", json!("https://recipes.example.com/")),
        ("mail_from", json!("recipebox <no-reply@recipes.example.com>")),
        ("mail_retry_seconds", json!(1)),
    ])
    .await;
    let (user, _) = t.api_signup().await;
    let asked = t.post_json("/api/v1/auth/forgot-password", None, &json!({"email": user.email})).await;
    assert_eq!(asked.status(), Status::Accepted, "the request does not wait for the mail server");

    let (_sink, lines) = start_sink(&python, port);
    let mut message = Vec::new();
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    while !message.iter().any(|line: &String| line.contains("/reset-password?token=")) {
        let left = deadline.saturating_duration_since(std::time::Instant::now());
        match rocket::tokio::task::block_in_place(|| lines.recv_timeout(left)) {
            Ok(line) => message.push(line),
            Err(_) => panic!("no message reached the SMTP server within 30 s; got {message:?}"),
        }
    }
    let text = message.join("\n");
    assert!(text.contains("Subject: Reset your recipebox password"), "{text}");
    assert!(text.contains("no-reply@recipes.example.com"), "mail_from is the sender: {text}");
    assert!(text.contains("https://recipes.example.com/reset-password?token="), "links are built on public_url: {text}");
    assert!(t.dir.path().join("outbox").read_dir().map_or(true, |mut files| files.next().is_none()), "nothing went to the outbox");
}
