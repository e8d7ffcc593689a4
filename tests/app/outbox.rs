//! The mail outbox (SPEC.md §2, §6): a message waits in the database until
//! an instance has delivered it, through a crash, across instances, and
//! through a mail server that keeps refusing.

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rocket::http::Status;
use sea_orm::{ConnectionTrait, DatabaseConnection, EntityTrait, QueryOrder};
use serde_json::json;

use crate::helpers::{TestApp, TestDatabase, TestUser};
use crate::test_server::TestServer;
use recipebox::entities::mail_message;

/// A port that refuses connections: bound a moment ago, closed since.
fn refusing_port() -> u16 {
    TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn runtime() -> rocket::tokio::runtime::Runtime {
    rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

async fn connect(url: &str) -> DatabaseConnection {
    sea_orm::Database::connect(url).await.unwrap()
}

async fn messages(db: &DatabaseConnection) -> Vec<mail_message::Model> {
    mail_message::Entity::find().order_by_asc(mail_message::Column::Id).all(db).await.unwrap()
}

/// Waits up to `seconds` for `done` to hold of the outbox's rows.
async fn wait_for(db: &DatabaseConnection, seconds: u64, what: &str, done: impl Fn(&[mail_message::Model]) -> bool) -> Vec<mail_message::Model> {
    let deadline = Instant::now() + Duration::from_secs(seconds);
    loop {
        let rows = messages(db).await;
        if done(&rows) {
            return rows;
        }
        assert!(Instant::now() < deadline, "{what} within {seconds} s: {rows:#?}");
        rocket::tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn signup_and_ask_for_a_reset(server: &TestServer, user: &TestUser) {
    let json = "Content-Type: application/json\r\n";
    let body = json!({"email": user.email, "username": user.username, "password": user.password}).to_string();
    assert_eq!(server.request("POST", "/api/v1/users", json, &body).0, 201);
    let body = json!({"email": user.email}).to_string();
    assert_eq!(server.request("POST", "/api/v1/auth/forgot-password", json, &body).0, 202);
}

#[test]
fn mail_queued_while_the_mail_server_is_down_is_delivered_after_a_sigkill_and_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let database = runtime.block_on(TestDatabase::create(&dir));
    let smtp = format!("smtp://127.0.0.1:{}", refusing_port());
    let first = TestServer::start_on(Some(&database.url), &[("ROCKET_SMTP_URL", &smtp), ("ROCKET_MAIL_RETRY_SECONDS", "1")]).unwrap();
    let user = TestUser::random();
    signup_and_ask_for_a_reset(&first, &user);
    let db = runtime.block_on(connect(&database.url));
    // Both messages tried once and refused, and no try under way: the
    // process then dies without a chance to do anything more.
    runtime.block_on(wait_for(&db, 20, "both messages tried and refused", |rows| {
        rows.len() == 2 && rows.iter().all(|row| row.status == "queued" && row.attempts >= 1 && row.lease_owner.is_none())
    }));
    let mut first = first;
    first.child.kill().unwrap(); // SIGKILL
    first.child.wait().unwrap();

    // The next start has no mail server: the messages go to its outbox.
    let second = TestServer::start_on(Some(&database.url), &[]).unwrap();
    let token = second.reset_token_from_outbox();
    assert_eq!(token.len(), 43, "the link's token arrived whole");
    let rows = runtime.block_on(wait_for(&db, 20, "both messages sent", |rows| rows.iter().all(|row| row.status == "sent")));
    for row in rows {
        assert!(row.body.is_none(), "a sent message's body (it held a live link) is deleted");
        assert!(row.last_error.as_deref().is_some_and(|error| !error.contains(&token)), "the error says why, never what: {row:?}");
    }
}

#[test]
fn two_instances_deliver_each_of_200_messages_exactly_once() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let database = runtime.block_on(TestDatabase::create(&dir));
    let outbox = dir.path().join("shared-outbox");
    let outbox_dir = outbox.display().to_string();
    let env = [("ROCKET_OUTBOX_DIR", outbox_dir.as_str())];
    let a = TestServer::start_on(Some(&database.url), &env).unwrap();
    let b = TestServer::start_on(Some(&database.url), &env).unwrap();
    let db = runtime.block_on(connect(&database.url));
    // Queued from outside both (as another instance would): each instance
    // finds them on its own.
    // Queued now: a message older than `mail_retry_for` is failed untried.
    let now = crate::helpers::now();
    let values: Vec<String> = (0..200).map(|n| format!("('to{n}@example.com', 'Message {n}', 'Body {n}.', 'queued', 0, {now}, {now})")).collect();
    let insert = format!(
        "INSERT INTO mail_outbox (recipient, subject, body, status, attempts, created_at, next_attempt_at) VALUES {}",
        values.join(", ")
    );
    runtime.block_on(db.execute_unprepared(&insert)).unwrap();
    runtime.block_on(wait_for(&db, 60, "all 200 sent", |rows| rows.len() == 200 && rows.iter().all(|row| row.status == "sent")));
    let files: Vec<String> = std::fs::read_dir(&outbox)
        .unwrap()
        .filter_map(|entry| std::fs::read_to_string(entry.ok()?.path()).ok())
        .collect();
    assert_eq!(files.len(), 200, "one file a message, none twice");
    for n in 0..200 {
        let subject = format!("Subject: Message {n}\r\n");
        assert_eq!(files.iter().filter(|file| file.contains(&subject)).count(), 1, "message {n}");
    }
    // Log lines are written a moment later, by a thread of their own.
    let delivered_by = |server: &TestServer| server.log().matches("mail written to the outbox").count();
    let deadline = Instant::now() + Duration::from_secs(10);
    while delivered_by(&a) + delivered_by(&b) < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(50));
    }
    let (by_a, by_b) = (delivered_by(&a), delivered_by(&b));
    assert_eq!(by_a + by_b, 200, "each delivered by one instance: A {by_a}, B {by_b}");
}

#[rocket::async_test]
async fn a_refusing_mail_server_gets_growing_waits_then_the_message_fails_and_admin_mail_says_so() {
    let smtp = format!("smtp://127.0.0.1:{}", refusing_port());
    let t = TestApp::spawn_with(&[
        ("smtp_url", json!(smtp)),
        ("mail_retry_seconds", json!(1)),
        ("mail_retry_for", json!(6)),
    ])
    .await;
    let (user, _) = t.api_signup().await;
    let db = &t.app().db;
    // The sign-up's verification message: tried, refused, waited for.
    let mut waits = Vec::new();
    let mut seen = 0;
    let deadline = Instant::now() + Duration::from_secs(30);
    let failed = loop {
        let rows = messages(db).await;
        let row = rows.first().expect("the verification message is queued").clone();
        // A try's end: the claim counted it, its failure let the lease go.
        if row.attempts > seen && row.status == "queued" && row.lease_owner.is_none() {
            seen = row.attempts;
            waits.push(row.next_attempt_at.0.unix_timestamp() - row.last_error_at.unwrap().0.unix_timestamp());
        }
        if row.status == "failed" {
            break row;
        }
        assert!(Instant::now() < deadline, "the message failed within 30 s: {row:?}");
        rocket::tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(waits.len() >= 2, "tried again at least twice before failing: {waits:?}");
    for (i, wait) in waits.iter().enumerate() {
        let expected = 1 << i;
        assert!((expected - 1..=expected).contains(wait), "wait {i} is {wait} s, {expected} s expected: {waits:?}");
    }
    assert!(failed.body.is_none(), "a failed message's body is deleted");
    assert!(failed.attempts as usize > waits.len(), "the last try failed it");
    assert!(failed.last_error.is_some());

    // What an admin sees: the counts and the last error, never a body.
    t.browser_admin().await;
    let page = t.client.get("/admin/mail").dispatch().await;
    assert_eq!(page.status(), Status::Ok);
    let html = page.into_string().await.unwrap();
    assert!(html.contains(r#"id="mail-failed">1<"#), "{html}");
    assert!(html.contains(r#"id="mail-queued">"#));
    assert!(!html.contains("verify-email?token="), "no link on the page");
    assert!(!html.contains(&user.email), "nor a recipient");
}

/// A mail server that answers every command `delay` late, as greylisting
/// and tarpitting servers do; it counts the messages it accepted.
fn slow_smtp(delay: Duration) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let counter = counter.clone();
            std::thread::spawn(move || converse(stream, delay, &counter));
        }
    });
    (port, accepted)
}

fn converse(stream: TcpStream, delay: Duration, accepted: &AtomicUsize) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut writer = stream;
    let mut reply = |text: &str| {
        std::thread::sleep(delay);
        writer.write_all(text.as_bytes())
    };
    reply("220 slow.test ESMTP\r\n")?;
    let mut line = String::new();
    loop {
        line.clear();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let command = line.trim_end().to_ascii_uppercase();
        if command.starts_with("EHLO") {
            reply("250-slow.test\r\n250 8BITMIME\r\n")?;
        } else if command == "DATA" {
            reply("354 end with a dot\r\n")?;
            loop {
                line.clear();
                if reader.read_line(&mut line)? == 0 || line == ".\r\n" {
                    break;
                }
            }
            reply("250 accepted\r\n")?;
            accepted.fetch_add(1, Ordering::SeqCst);
        } else if command == "QUIT" {
            return reply("221 bye\r\n");
        } else {
            reply("250 ok\r\n")?;
        }
    }
}

#[test]
fn a_mail_server_slower_than_the_lease_gets_each_message_once_from_two_instances() {
    let dir = tempfile::tempdir().unwrap();
    let runtime = runtime();
    let database = runtime.block_on(TestDatabase::create(&dir));
    // Seven replies of a second: a conversation of 7 s, more than twice a
    // 3 s lease, so another instance (looking every 2 s) would take it.
    let (port, accepted) = slow_smtp(Duration::from_secs(1));
    let smtp = format!("smtp://127.0.0.1:{port}");
    let env = [("ROCKET_SMTP_URL", smtp.as_str()), ("ROCKET_MAIL_LEASE_SECONDS", "3")];
    let a = TestServer::start_on(Some(&database.url), &env).unwrap();
    let _b = TestServer::start_on(Some(&database.url), &env).unwrap();
    let user = TestUser::random();
    signup_and_ask_for_a_reset(&a, &user);
    let db = runtime.block_on(connect(&database.url));
    let rows = runtime.block_on(wait_for(&db, 40, "both messages sent", |rows| rows.len() == 2 && rows.iter().all(|row| row.status == "sent")));
    // Time for a second delivery to finish, had another instance begun one.
    std::thread::sleep(Duration::from_secs(8));
    assert_eq!(accepted.load(Ordering::SeqCst), 2, "each message reached the mail server once");
    for row in runtime.block_on(messages(&db)) {
        assert_eq!((row.status.as_str(), row.attempts), ("sent", 1), "one try, counted when it was claimed: {row:?}");
    }
    assert_eq!(rows.len(), 2);
}

/// A tmpfs of 64 kB mounted at `path` for the test's life, or why not.
struct SmallDisk(std::path::PathBuf);

impl SmallDisk {
    fn mount(path: &std::path::Path) -> Result<Self, String> {
        std::fs::create_dir_all(path).map_err(|e| e.to_string())?;
        let done = std::process::Command::new("mount").args(["-t", "tmpfs", "-o", "size=64k", "tmpfs"]).arg(path).output().map_err(|e| e.to_string())?;
        if !done.status.success() {
            return Err(String::from_utf8_lossy(&done.stderr).into_owned());
        }
        Ok(Self(path.to_owned()))
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

#[rocket::async_test]
async fn a_full_outbox_folder_leaves_no_empty_file_and_the_message_goes_once_there_is_room() {
    let dir = tempfile::tempdir().unwrap();
    let outbox = dir.path().join("small-outbox");
    let _disk = match SmallDisk::mount(&outbox) {
        Ok(disk) => disk,
        Err(why) => {
            eprintln!("skipped: a small tmpfs could not be mounted (mounting needs root): {why}");
            return;
        }
    };
    // Fill it.
    let filler = outbox.join("filler");
    let mut file = std::fs::File::create(&filler).unwrap();
    while file.write_all(&[0u8; 4096]).is_ok() {}
    drop(file);
    let t = TestApp::spawn_with(&[("outbox_dir", json!(outbox.display().to_string())), ("mail_retry_seconds", json!(1))]).await;
    t.api_signup().await;
    let db = &t.app().db;
    wait_for(db, 20, "three failed tries", |rows| rows.first().is_some_and(|row| row.attempts >= 3 && row.lease_owner.is_none())).await;
    let names = || -> Vec<String> { std::fs::read_dir(&outbox).unwrap().map(|entry| entry.unwrap().file_name().to_string_lossy().into_owned()).collect() };
    assert_eq!(names(), ["filler"], "no empty or cut message is left behind");
    let row = messages(db).await.remove(0);
    assert_eq!(row.status, "queued", "the message waits for room: {row:?}");
    assert!(row.last_error.is_some());

    std::fs::remove_file(&filler).unwrap();
    wait_for(db, 30, "sent once there is room", |rows| rows.iter().all(|row| row.status == "sent")).await;
    let written = names();
    assert_eq!(written.len(), 1, "one message: {written:?}");
    assert!(written[0].ends_with(".eml") && !written[0].starts_with('.'), "{written:?}");
    let text = std::fs::read_to_string(outbox.join(&written[0])).unwrap();
    assert!(text.contains("verify-email?token="), "the whole message: {text}");
}
