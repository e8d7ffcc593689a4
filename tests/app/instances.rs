//! Several recipebox processes on one database (SPEC.md §3, §6): whatever
//! one instance revokes, the other refuses on the very next request, and
//! the login counters and the unique email hold across them. Every token is
//! used on both instances before it is revoked, and every list read twice,
//! so each instance has kept what it could when the other writes. The database
//! is the suite's: an SQLite file both processes open, or with
//! `TEST_DATABASE_URL` a database of its own on PostgreSQL or MariaDB.

use std::process::Command;
use std::sync::Arc;

use serde_json::{json, Value};

use crate::helpers::{claims_of, TestDatabase, PASSWORD, SECRET};
use crate::server::json_of;
use crate::test_server::TestServer;

const JSON: &str = "Content-Type: application/json\r\n";

pub(crate) fn bearer(token: &str) -> String {
    format!("Authorization: Bearer {token}\r\n{JSON}")
}

/// Two instances on one fresh database, and the admin the CLI created.
pub(crate) struct Cluster {
    pub a: TestServer,
    pub b: TestServer,
    pub database: TestDatabase,
    dir: tempfile::TempDir,
}

impl Cluster {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let database = runtime.block_on(TestDatabase::create(&dir));
        // The first instance migrates the new database; the second starts on it.
        let a = TestServer::start_on(Some(&database.url), &[]).expect("instance A starts");
        let b = TestServer::start_on(Some(&database.url), &[]).expect("instance B starts");
        let cluster = Self { a, b, database, dir };
        cluster.cli(&["user", "create", "--email", "admin@example.com", "--username", "chief", "--admin"]);
        cluster
    }

    /// Runs the command line on the cluster's database, as an operator
    /// would beside the running instances; returns what it printed.
    pub fn cli(&self, args: &[&str]) -> String {
        let done = Command::new(env!("CARGO_BIN_EXE_recipebox"))
            .args(args)
            .env("DATABASE_URL", &self.database.url)
            .env("ROCKET_JWT_SECRET", SECRET)
            .env("ROCKET_BCRYPT_COST", "4")
            .env("RECIPEBOX_PASSWORD", PASSWORD)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(done.status.success(), "recipebox {args:?}: {}", String::from_utf8_lossy(&done.stderr));
        String::from_utf8_lossy(&done.stdout).into_owned()
    }

    /// Runs a command line that must fail; what it said on stderr.
    pub fn cli_refused(&self, args: &[&str]) -> String {
        let done = Command::new(env!("CARGO_BIN_EXE_recipebox"))
            .args(args)
            .env("DATABASE_URL", &self.database.url)
            .env("ROCKET_JWT_SECRET", SECRET)
            .current_dir(self.dir.path())
            .output()
            .unwrap();
        assert!(!done.status.success(), "recipebox {args:?} must fail: {}", String::from_utf8_lossy(&done.stdout));
        String::from_utf8_lossy(&done.stderr).into_owned()
    }
}

pub(crate) fn signup(server: &TestServer, name: &str) -> Value {
    let body = json!({"email": format!("{name}@example.com"), "username": name, "password": PASSWORD}).to_string();
    let (status, response) = server.request("POST", "/api/v1/users", JSON, &body);
    assert_eq!(status, 201, "{response}");
    json_of(&response)
}

pub(crate) fn login(server: &TestServer, email: &str) -> Value {
    let body = json!({"email": email, "password": PASSWORD}).to_string();
    let (status, response) = server.request("POST", "/api/v1/auth/login", JSON, &body);
    assert_eq!(status, 200, "{response}");
    json_of(&response)
}

pub(crate) fn token<'a>(pair: &'a Value, key: &str) -> &'a str {
    pair[key].as_str().unwrap()
}

pub(crate) fn me(server: &TestServer, pair: &Value) -> (u16, String) {
    server.request("GET", "/api/v1/me", &bearer(token(pair, "access_token")), "")
}

pub(crate) fn error_code(response: &(u16, String)) -> String {
    json_of(&response.1)["error"]["code"].as_str().unwrap_or_default().to_owned()
}

#[test]
fn a_logout_on_one_instance_is_refused_on_the_other_at_once() {
    let c = Cluster::start();
    let ann = signup(&c.a, "ann");
    assert_eq!(me(&c.b, &ann).0, 200, "B accepts A's token: one secret, one database");
    assert_eq!(me(&c.a, &ann).0, 200);
    let logout = json!({"refresh_token": token(&ann, "refresh_token")}).to_string();
    assert_eq!(c.a.request("POST", "/api/v1/auth/logout", &bearer(token(&ann, "access_token")), &logout).0, 204);
    for server in [&c.b, &c.a] {
        let refused = me(server, &ann);
        assert_eq!((refused.0, error_code(&refused).as_str()), (401, "token_revoked"));
    }
    let refresh = c.b.request("POST", "/api/v1/auth/refresh", &bearer(token(&ann, "refresh_token")), "");
    assert_eq!(refresh.0, 401);
}

#[test]
fn logging_out_everywhere_on_one_instance_ends_the_sessions_used_on_the_other() {
    let c = Cluster::start();
    let first = signup(&c.a, "bea");
    let second = login(&c.b, "bea@example.com");
    for pair in [&first, &second] {
        assert_eq!(me(&c.b, pair).0, 200);
    }
    // The browser form of instance A, with the first session's cookies.
    let access = token(&first, "access_token");
    let csrf = claims_of(access)["csrf"].as_str().unwrap().to_owned();
    let cookies = format!(
        "Cookie: access_token={access}; refresh_token={}\r\nContent-Type: application/x-www-form-urlencoded\r\n",
        token(&first, "refresh_token")
    );
    let (status, _) = c.a.request("POST", "/me/logout-everywhere", &cookies, &format!("csrf_token={csrf}"));
    assert_eq!(status, 303);
    for pair in [&first, &second] {
        assert_eq!(me(&c.b, pair).0, 401, "every session ends on instance B too");
    }
    assert_eq!(me(&c.b, &login(&c.b, "bea@example.com")).0, 200, "a login made after works");
}

#[test]
fn disabling_and_role_changes_made_on_one_instance_hold_on_the_other() {
    let c = Cluster::start();
    let admin = login(&c.a, "admin@example.com");
    let cook = signup(&c.b, "cyd");
    let path = format!("/api/v1/users/{}", cook["user"]["public_id"].as_str().unwrap());
    let admin_auth = bearer(token(&admin, "access_token"));

    assert_eq!(c.b.request("GET", "/api/v1/users", &bearer(token(&cook, "access_token")), "").0, 403);
    assert_eq!(c.a.request("PATCH", &path, &admin_auth, r#"{"role":"admin"}"#).0, 200);
    assert_eq!(c.b.request("GET", "/api/v1/users", &bearer(token(&cook, "access_token")), "").0, 200, "promoted on B at once");
    assert_eq!(c.a.request("PATCH", &path, &admin_auth, r#"{"role":"user"}"#).0, 200);
    assert_eq!(c.b.request("GET", "/api/v1/users", &bearer(token(&cook, "access_token")), "").0, 403, "demoted on B at once");

    assert_eq!(c.a.request("PATCH", &path, &admin_auth, r#"{"disabled":true}"#).0, 200);
    let refused = me(&c.b, &cook);
    assert_eq!((refused.0, error_code(&refused).as_str()), (401, "token_revoked"));
    let body = json!({"email": "cyd@example.com", "password": PASSWORD}).to_string();
    assert_eq!(c.b.request("POST", "/api/v1/auth/login", JSON, &body).0, 403, "a disabled account cannot log in on B");
}

#[test]
fn a_refresh_token_rotated_on_one_instance_is_reuse_on_the_other() {
    let c = Cluster::start();
    let dee = signup(&c.a, "dee");
    let (status, rotated) = c.a.request("POST", "/api/v1/auth/refresh", &bearer(token(&dee, "refresh_token")), "");
    assert_eq!(status, 200);
    let rotated = json_of(&rotated);
    assert_eq!(me(&c.a, &rotated).0, 200);
    let reuse = c.b.request("POST", "/api/v1/auth/refresh", &bearer(token(&dee, "refresh_token")), "");
    assert_eq!((reuse.0, error_code(&reuse).as_str()), (401, "token_revoked"));
    assert_eq!(me(&c.a, &rotated).0, 401, "reuse on B revoked the whole session, on A too");
}

#[test]
fn a_password_change_on_one_instance_ends_the_other_sessions_on_the_other() {
    let c = Cluster::start();
    let kept = signup(&c.a, "fay");
    let other = login(&c.b, "fay@example.com");
    for server in [&c.a, &c.b] {
        assert_eq!(me(server, &kept).0, 200);
        assert_eq!(me(server, &other).0, 200);
    }
    let change = json!({"current_password": PASSWORD, "new_password": "a whole new phrase 2"}).to_string();
    assert_eq!(c.a.request("POST", "/api/v1/me/password", &bearer(token(&kept, "access_token")), &change).0, 204);
    for server in [&c.b, &c.a] {
        let refused = me(server, &other);
        assert_eq!((refused.0, error_code(&refused).as_str()), (401, "token_revoked"), "the other session ended");
        assert_eq!(me(server, &kept).0, 200, "the caller's own session goes on");
    }
}

#[test]
fn an_account_deleted_on_one_instance_is_gone_on_the_other() {
    let c = Cluster::start();
    let admin = login(&c.a, "admin@example.com");
    let gus = signup(&c.b, "gus");
    assert_eq!(me(&c.b, &gus).0, 200);
    let path = format!("/api/v1/users/{}", gus["user"]["public_id"].as_str().unwrap());
    assert_eq!(c.a.request("DELETE", &path, &bearer(token(&admin, "access_token")), "").0, 204);
    assert_eq!(me(&c.b, &gus).0, 401);
}

#[test]
fn a_recipe_written_on_one_instance_is_listed_and_found_on_the_other_at_once() {
    let c = Cluster::start();
    let hal = signup(&c.a, "hal");
    let auth = bearer(token(&hal, "access_token"));
    let totals = |server: &TestServer| {
        let total = |query: &str| json_of(&server.request("GET", &format!("/api/v1/recipes{query}"), "", "").1)["total"].as_u64().unwrap();
        let page = server.request("GET", "/recipes", "", "").1;
        (total(""), total("?q=saffron"), page.contains("Saffron rice"))
    };
    assert_eq!(totals(&c.b), (0, 0, false));
    let body = json!({"name": "Saffron rice", "cook_time": 20, "directions": "Cook."}).to_string();
    let (status, created) = c.a.request("POST", "/api/v1/recipes", &auth, &body);
    assert_eq!(status, 201, "{created}");
    assert_eq!(totals(&c.b), (1, 1, true), "listed, found and on a visitor's page on B at once");
    let id = json_of(&created)["id"].as_i64().unwrap();
    assert_eq!(c.a.request("DELETE", &format!("/api/v1/recipes/{id}"), &auth, "").0, 204);
    assert_eq!(totals(&c.b), (0, 0, false), "and gone from B at once");
}

#[test]
fn the_account_page_on_one_instance_shows_what_the_other_did_at_once() {
    let c = Cluster::start();
    let first = signup(&c.a, "ida");
    let cookies = format!("Cookie: access_token={}\r\n", token(&first, "access_token"));
    let sessions_shown_on_b = || {
        let (status, page) = c.b.request("GET", "/me", &cookies, "");
        assert_eq!(status, 200);
        page.matches(r#"action="/me/sessions/"#).count()
    };
    assert_eq!(sessions_shown_on_b(), 1);
    let second = login(&c.a, "ida@example.com");
    assert_eq!(sessions_shown_on_b(), 2, "a login on A is listed on B at once");
    let logout = json!({"refresh_token": token(&second, "refresh_token")}).to_string();
    assert_eq!(c.a.request("POST", "/api/v1/auth/logout", &bearer(token(&second, "access_token")), &logout).0, 204);
    assert_eq!(sessions_shown_on_b(), 1, "and gone from B at once when it ends");
}

#[test]
fn the_login_counters_are_shared_by_both_instances() {
    let c = Cluster::start();
    signup(&c.a, "eve");
    let wrong = json!({"email": "eve@example.com", "password": "a wrong guess of it"}).to_string();
    for n in 0..10 {
        let server = if n % 2 == 0 { &c.a } else { &c.b };
        assert_eq!(server.request("POST", "/api/v1/auth/login", JSON, &wrong).0, 401, "failure {n}");
    }
    let right = json!({"email": "eve@example.com", "password": PASSWORD}).to_string();
    for server in [&c.a, &c.b] {
        assert_eq!(server.request("POST", "/api/v1/auth/login", JSON, &right).0, 429, "ten failures over both: throttled on each");
    }
}

#[test]
fn twenty_concurrent_signups_of_one_email_over_both_instances_make_one_account() {
    let c = Arc::new(Cluster::start());
    let threads: Vec<_> = (0..20)
        .map(|n| {
            let c = Arc::clone(&c);
            std::thread::spawn(move || {
                let server = if n % 2 == 0 { &c.a } else { &c.b };
                let body = json!({"email": "same@example.com", "username": format!("same_{n}"), "password": PASSWORD}).to_string();
                server.request("POST", "/api/v1/users", JSON, &body).0
            })
        })
        .collect();
    let mut statuses: Vec<u16> = threads.into_iter().map(|t| t.join().unwrap()).collect();
    statuses.sort_unstable();
    assert_eq!(statuses.iter().filter(|s| **s == 201).count(), 1, "exactly one account: {statuses:?}");
    assert!(statuses.iter().all(|s| *s == 201 || *s == 409), "the rest are 409, none 500 or 503: {statuses:?}");
}

/// Runs `sql` on the cluster's database from outside both instances, as an
/// operator with `sqlite3` or `psql` would, or as a writer that committed
/// and then died before anything else ran.
fn write_beside_the_app(c: &Cluster, sql: &str) {
    let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let db = sea_orm::Database::connect(c.database.url.as_str()).await.unwrap();
        sea_orm::ConnectionTrait::execute_unprepared(&db, sql).await.unwrap();
        db.close().await.unwrap();
    });
}

fn visitor_sees(server: &TestServer, name: &str) -> bool {
    let (status, page) = server.request("GET", "/recipes", "", "");
    assert_eq!(status, 200);
    page.contains(name)
}

#[test]
fn writes_committed_beside_the_app_hold_on_the_next_request_of_every_instance() {
    let c = Cluster::start();
    let jo = signup(&c.a, "joy");
    let body = json!({"name": "Quince paste", "cook_time": 90, "directions": "Stir."}).to_string();
    assert_eq!(c.a.request("POST", "/api/v1/recipes", &bearer(token(&jo, "access_token")), &body).0, 201);
    let found = |server: &TestServer| json_of(&server.request("GET", "/api/v1/recipes?q=quince", "", "").1)["total"].as_u64().unwrap();
    for server in [&c.a, &c.b] {
        assert!(visitor_sees(server, "Quince paste"));
        assert!(visitor_sees(server, "Quince paste"), "asked twice: the list is kept now");
        assert_eq!(found(server), 1);
        assert_eq!(me(server, &jo).0, 200);
    }
    // Another recipe, so that each instance's kept search is brought up to
    // date from the changes (not counted) from here on.
    write_beside_the_app(&c, "UPDATE recipes SET cook_time = 95");
    for server in [&c.a, &c.b] {
        assert_eq!(found(server), 1);
    }
    // No code of the app runs after these commits.
    write_beside_the_app(&c, "UPDATE recipes SET visibility = 'private'");
    for server in [&c.a, &c.b] {
        assert!(!visitor_sees(server, "Quince paste"), "a private recipe leaves every visitor's list at once");
        assert_eq!(found(server), 0, "and every visitor's search");
    }
    write_beside_the_app(&c, "UPDATE users SET disabled_at = 1 WHERE username = 'joy'");
    for server in [&c.a, &c.b] {
        let refused = me(server, &jo);
        assert_eq!((refused.0, error_code(&refused).as_str()), (401, "token_revoked"), "a disabled user's token, at once");
    }
}

#[test]
fn ending_every_session_from_the_command_line_holds_at_once_on_running_instances() {
    let c = Cluster::start();
    let kim = signup(&c.a, "kim");
    let admin = login(&c.b, "admin@example.com");
    for server in [&c.a, &c.b] {
        assert_eq!(me(server, &kim).0, 200);
        assert_eq!(me(server, &admin).0, 200);
    }
    assert!(c.cli(&["sessions", "end-all"]).contains("sessions"), "it says what it did");
    for server in [&c.a, &c.b] {
        for pair in [&kim, &admin] {
            let refused = me(server, pair);
            assert_eq!((refused.0, error_code(&refused).as_str()), (401, "token_revoked"));
        }
        let refresh = server.request("POST", "/api/v1/auth/refresh", &bearer(token(&kim, "refresh_token")), "");
        assert_eq!(refresh.0, 401, "refresh tokens too");
    }
    assert_eq!(me(&c.a, &login(&c.a, "kim@example.com")).0, 200, "a login made after works");
}

#[test]
fn the_operators_account_commands_do_what_the_admin_pages_do_on_running_instances() {
    use recipebox::entities::audit_event;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, QueryOrder};
    let c = Cluster::start();
    let kim = signup(&c.a, "kim");
    let lee = signup(&c.a, "lee");
    let recipe = json!({"name": "Lee's broth", "cook_time": 30, "directions": "Simmer."}).to_string();
    assert_eq!(c.a.request("POST", "/api/v1/recipes", &bearer(token(&lee, "access_token")), &recipe).0, 201);
    let refused = |server: &TestServer, pair: &Value| {
        let (status, body) = me(server, pair);
        (status, error_code(&(status, body)))
    };

    // sessions end EMAIL: an admin's "force logout".
    assert!(c.cli(&["sessions", "end", "KIM@example.com"]).contains("ended 1 session of kim"), "it says what it did");
    for server in [&c.a, &c.b] {
        assert_eq!(refused(server, &kim), (401, "token_revoked".to_owned()), "kim's session ended everywhere");
    }
    let kim = login(&c.b, "kim@example.com");

    // user disable / enable.
    assert!(c.cli(&["user", "disable", "kim@example.com"]).contains("kim is disabled"));
    for server in [&c.a, &c.b] {
        assert_eq!(refused(server, &kim), (401, "token_revoked".to_owned()), "a disabled user's token, at once");
    }
    let body = json!({"email": "kim@example.com", "password": PASSWORD}).to_string();
    assert_eq!(c.a.request("POST", "/api/v1/auth/login", JSON, &body).0, 403, "a disabled user cannot log in");
    assert!(c.cli(&["user", "enable", "kim@example.com"]).contains("kim is enabled"));
    assert_eq!(me(&c.a, &login(&c.a, "kim@example.com")).0, 200, "enabled again");

    // user delete: the account and its recipes, on both instances.
    assert!(c.cli(&["user", "delete", "lee@example.com"]).contains("lee and their recipes are deleted"));
    for server in [&c.a, &c.b] {
        assert_eq!(me(server, &lee).0, 401, "a deleted user's token");
        let (_, list) = server.request("GET", "/api/v1/recipes", "", "");
        assert_eq!(json_of(&list)["total"], 0, "their recipe went with them: {list}");
    }

    // Bad input: an unknown email, the last active admin, no email.
    assert!(c.cli_refused(&["user", "disable", "nobody@example.com"]).contains("no user has the email nobody@example.com"));
    assert!(c.cli_refused(&["sessions", "end", "nobody@example.com"]).contains("nobody@example.com"));
    for action in ["disable", "delete"] {
        let said = c.cli_refused(&["user", action, "admin@example.com"]);
        assert!(said.contains("refused") && said.contains("last active admin"), "{action}: {said}");
    }
    assert!(c.cli_refused(&["user", "disable"]).contains("EMAIL"), "clap asks for the email");
    assert_eq!(me(&c.a, &login(&c.a, "admin@example.com")).0, 200, "the admin is untouched");

    // The trail: each action, by nobody's account, from the command line.
    let runtime = rocket::tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let events = runtime.block_on(async {
        let db = sea_orm::Database::connect(&c.database.url).await.unwrap();
        audit_event::Entity::find().filter(audit_event::Column::UserAgent.eq("recipebox command line"))
            .order_by_asc(audit_event::Column::Id)
            .all(&db).await.unwrap()
    });
    let kinds: Vec<&str> = events.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds, ["forced_logout", "user_disabled", "user_enabled", "user_deleted"], "{events:?}");
    assert!(events.iter().all(|e| e.actor_public_id.is_none() && e.subject_public_id.is_some()), "{events:?}");
}

#[test]
fn two_instances_that_reach_one_sqlite_file_by_different_paths_share_everything() {
    let dir = tempfile::tempdir().unwrap();
    if crate::helpers::server_url().is_some() {
        eprintln!("skipped: a file path is an SQLite matter");
        return;
    }
    let real = dir.path().join("real");
    std::fs::create_dir(&real).unwrap();
    std::os::unix::fs::symlink(&real, dir.path().join("link")).unwrap();
    let by_path = format!("sqlite://{}?mode=rwc", real.join("r.db").display());
    let by_link = format!("sqlite://{}?mode=rwc", dir.path().join("link").join("r.db").display());
    let a = TestServer::start_on(Some(&by_path), &[]).expect("A starts");
    let b = TestServer::start_on(Some(&by_link), &[]).expect("B starts");
    let lee = signup(&a, "lee");
    let auth = bearer(token(&lee, "access_token"));
    let body = json!({"name": "Nettle soup", "cook_time": 30, "directions": "Simmer."}).to_string();
    let (status, created) = a.request("POST", "/api/v1/recipes", &auth, &body);
    assert_eq!(status, 201);
    for server in [&a, &b] {
        assert_eq!(me(server, &lee).0, 200);
        assert!(visitor_sees(server, "Nettle soup"));
    }
    let id = json_of(&created)["id"].as_i64().unwrap();
    let private = json!({"name": "Nettle soup", "cook_time": 30, "directions": "Simmer.", "visibility": "private"}).to_string();
    assert_eq!(a.request("PUT", &format!("/api/v1/recipes/{id}"), &auth, &private).0, 200);
    assert!(!visitor_sees(&b, "Nettle soup"), "made private on A, gone from B's visitor list at once");
    assert_eq!(a.request("POST", "/api/v1/auth/logout", &auth, "").0, 204);
    let refused = me(&b, &lee);
    assert_eq!((refused.0, error_code(&refused).as_str()), (401, "token_revoked"), "logged out on A, refused on B at once");
}
