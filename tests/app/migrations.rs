//! The schema's migrations, on whichever database the suite runs against:
//! down to empty and up again, and an upgrade that keeps the data of a
//! database made by the previous release.

use std::sync::Arc;

use migration::{Migrator, MigratorTrait, SchemaManager};
use rocket::http::Status;
use sea_orm::sea_query::{Alias, Expr, Func, Query};
use sea_orm::{ConnectionTrait, Database, DatabaseConnection, Value};
use serde_json::json;
use uuid::Uuid;

use crate::helpers::{now, sign, TestApp, TestDatabase, SECRET};

/// The tables of the current schema.
const TABLES: [&str; 7] = ["users", "recipes", "sessions", "revoked_tokens", "audit_events", "login_failures", "email_tokens"];
/// How many migrations the previous release (the first landing) had.
const PREVIOUS_RELEASE: u32 = 5;

async fn tables_present(db: &DatabaseConnection) -> Vec<&'static str> {
    let manager = SchemaManager::new(db);
    let mut present = Vec::new();
    for table in TABLES {
        if manager.has_table(table).await.unwrap() {
            present.push(table);
        }
    }
    present
}

async fn insert(db: &DatabaseConnection, table: &str, values: &[(&str, Value)]) {
    let mut statement = Query::insert();
    statement.into_table(Alias::new(table));
    statement.columns(values.iter().map(|(column, _)| Alias::new(*column)));
    statement.values_panic(values.iter().map(|(_, value)| Expr::val(value.clone())));
    db.execute(&statement).await.unwrap_or_else(|e| panic!("insert into {table}: {e}"));
}

async fn id_of(db: &DatabaseConnection, table: &str) -> i64 {
    let statement = Query::select().expr(Func::max(Expr::col(Alias::new("id")))).from(Alias::new(table)).to_owned();
    let row = db.query_one(&statement).await.unwrap().unwrap();
    row.try_get_by_index::<i64>(0).unwrap()
}

#[rocket::async_test]
async fn migrations_go_down_to_an_empty_schema_and_up_again() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&dir).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables_present(&db).await, TABLES, "up from empty creates every table");
    Migrator::down(&db, None).await.unwrap();
    assert!(tables_present(&db).await.is_empty(), "down to empty removes every table");
    assert!(Migrator::get_applied_migrations(&db).await.unwrap().is_empty());
    Migrator::up(&db, None).await.unwrap();
    assert_eq!(tables_present(&db).await, TABLES, "and up again");
    db.close().await.unwrap();

    let t = TestApp::spawn_on(dir, Arc::new(database)).await;
    t.api_signup().await;
}

#[rocket::async_test]
async fn an_upgrade_from_the_previous_release_keeps_users_recipes_and_sessions() {
    let dir = tempfile::tempdir().unwrap();
    let database = TestDatabase::create(&dir).await;
    let db = Database::connect(database.url.as_str()).await.unwrap();
    Migrator::up(&db, Some(PREVIOUS_RELEASE)).await.unwrap();
    assert!(!tables_present(&db).await.contains(&"audit_events"), "the previous release had no audit trail");

    // Data as the previous release wrote it.
    let (public_id, sid, at) = (Uuid::new_v4(), Uuid::new_v4(), now());
    let password = "an old and well kept secret";
    let hash = bcrypt::hash(password, 4).unwrap();
    insert(
        &db,
        "users",
        &[
            ("public_id", public_id.into()),
            ("email", "old.cook@example.com".into()),
            ("username", "Old_Cook".into()),
            ("username_key", "old_cook".into()),
            ("password_hash", hash.into()),
            ("role", "user".into()),
            ("tokens_valid_after", (at - 60).into()),
            ("created_at", (at - 60).into()),
            ("updated_at", (at - 60).into()),
        ],
    )
    .await;
    let user_id = id_of(&db, "users").await;
    insert(
        &db,
        "recipes",
        &[
            ("user_id", user_id.into()),
            ("name", "Grandma's Crème brûlée".into()),
            ("description", "Old and loved".into()),
            ("cook_time", 50i32.into()),
            ("directions", "Bake slowly.".into()),
            ("visibility", "public".into()),
            ("search_text", "grandma's crème brûlée\u{1f}old and loved".into()),
            ("created_at", (at - 30).into()),
            ("updated_at", (at - 30).into()),
        ],
    )
    .await;
    insert(
        &db,
        "sessions",
        &[
            ("sid", sid.into()),
            ("user_id", user_id.into()),
            ("user_agent", "curl/8.5.0".into()),
            ("created_at", (at - 20).into()),
            ("last_used_at", (at - 20).into()),
            ("expires_at", (at + 3600).into()),
        ],
    )
    .await;
    db.close().await.unwrap();

    // The new release starts on it and applies what is pending.
    let t = TestApp::spawn_on(dir, Arc::new(database)).await;
    let found: serde_json::Value = t.get_json("/api/v1/recipes?q=CR%C3%88ME", None).await.into_json().await.unwrap();
    assert_eq!(found["total"], 1, "the recipe survived and is still found: {found}");
    assert_eq!(found["items"][0]["author"]["username"], "Old_Cook");

    // A token of the session made before the upgrade still works.
    let claims = json!({
        "iss": "recipebox", "sub": public_id, "iat": at - 20, "nbf": at - 20, "exp": at + 600, "jti": Uuid::new_v4(),
        "type": "access", "role": "user", "csrf": "c", "sid": sid, "fresh": false,
    });
    let token = sign(&claims, jsonwebtoken::Algorithm::HS256, SECRET);
    let me = t.get_json("/api/v1/me", Some(&token)).await;
    assert_eq!(me.status(), Status::Ok, "the old session is still valid");

    let login = t.post_json("/api/v1/auth/login", None, &json!({"email": "old.cook@example.com", "password": password})).await;
    assert_eq!(login.status(), Status::Ok, "the old password still opens the account");
    let user = recipebox::store::users::find_by_email(&t.app().db, "old.cook@example.com").await.unwrap().unwrap();
    assert!(user.last_login_at.is_some(), "the new column is in use");
    let sessions = recipebox::store::sessions::list_active(&t.app().db, user.id).await.unwrap();
    assert_eq!(sessions.len(), 2, "the old session and the new one");
    assert!(sessions.iter().any(|s| s.sid == sid && s.ip_address.is_none()), "the old session has no address, and that is fine");
}
