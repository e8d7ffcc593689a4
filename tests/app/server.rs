//! The real binary, started as an operator would: configuration only through
//! the environment variables SPEC.md names, port 0, a temporary database
//! (`crate::test_server`). SIGTERM with a request in flight is tested in a
//! binary of its own (`tests/shutdown.rs`).

use std::process::Command;

use crate::test_server::TestServer;

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
fn the_binary_starts_in_an_empty_folder_creating_every_folder_it_writes_to() {
    // As docs/deploy.md has it: a configured secret, and the folders named
    // by the configuration missing, the default `data/` among them.
    for (database, outbox) in [
        ("sqlite://data/recipebox.db?mode=rwc", None),
        ("sqlite://var/lib/recipebox/site.db?mode=rwc", Some("spool/mail/outbox")),
    ] {
        let mut env = vec![("DATABASE_URL", database)];
        if let Some(outbox) = outbox {
            env.push(("ROCKET_OUTBOX_DIR", outbox));
        }
        let server = TestServer::start(&env).unwrap_or_else(|log| panic!("{database}: the server did not start:\n{log}"));
        assert_eq!(server.request("GET", "/healthz", "", "").0, 200);
        let signup = r#"{"email":"ann@example.com","username":"ann_lee","password":"a long secret phrase"}"#;
        assert_eq!(server.request("POST", "/api/v1/users", "Content-Type: application/json\r\n", signup).0, 201);
        let file = database.trim_start_matches("sqlite://").split('?').next().unwrap();
        assert!(server.dir.path().join(file).is_file(), "{file} was created");
        let outbox = server.dir.path().join(outbox.unwrap_or("data/outbox"));
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::fs::read_dir(&outbox).map_or(0, Iterator::count) == 0 {
            assert!(std::time::Instant::now() < deadline, "the sign-up's message reached {}", outbox.display());
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(!server.dir.path().join("data/jwt_secret").exists(), "a configured secret is not written out");
    }
}
