//! Lists whose cost does not grow with the data (SPEC.md §6 at scale): on
//! PostgreSQL, with enough recipes that the planner has a choice, every
//! list's query is an index range, never a scan of the recipes table, and
//! a list's total comes from the counts the database keeps.

use rocket::http::{ContentType, Status};
use sea_orm::{ConnectionTrait, DbBackend, QueryTrait, Statement};
use serde_json::{json, Value};

use crate::helpers::{bearer, server_url, TestApp, TestUser};
use recipebox::store::recipes::{self, RecipeFilter, Viewer};
use recipebox::domain::Username;
use recipebox::store::Page;

/// 20,000 recipes, one in a hundred of `owner` and the rest of `other`,
/// one in ten private, written in one statement; then the planner's
/// statistics brought up to date.
async fn seed(db: &impl ConnectionTrait, owner: i64, other: i64) {
    let insert = format!(
        "INSERT INTO recipes (user_id, name, description, cook_time, directions, visibility, search_text, created_at, updated_at) \
         SELECT CASE WHEN g % 100 = 0 THEN {owner} ELSE {other} END, 'Recipe ' || g, 'A dish', 10, 'Cook it.', \
                CASE WHEN g % 10 = 3 THEN 'private' ELSE 'public' END, \
                'recipe ' || g || CASE WHEN g % 500 = 7 THEN ' saffron' ELSE '' END, g, g \
         FROM generate_series(1, 20000) AS g"
    );
    db.execute_unprepared(&insert).await.unwrap();
    db.execute_unprepared("ANALYZE recipes").await.unwrap();
    db.execute_unprepared("ANALYZE users").await.unwrap();
}

/// The plan of `statement` as it ran.
async fn plan(db: &impl ConnectionTrait, statement: Statement) -> String {
    let explain = Statement::from_sql_and_values(DbBackend::Postgres, format!("EXPLAIN ANALYZE {}", statement.sql), statement.values.map(|v| v.0).unwrap_or_default());
    let rows = db.query_all_raw(explain).await.unwrap();
    rows.iter().map(|row| row.try_get::<String>("", "QUERY PLAN").unwrap()).collect::<Vec<_>>().join("\n")
}

/// The rows that the plan's filters threw away, all nodes together.
fn removed_by_filters(plan: &str) -> u64 {
    plan.lines()
        .filter_map(|line| line.trim().strip_prefix("Rows Removed by Filter: "))
        .map(|rows| rows.trim().parse::<u64>().unwrap())
        .sum()
}

#[rocket::async_test]
async fn on_postgresql_no_list_query_scans_the_recipes_table() {
    if !server_url().is_some_and(|url| url.starts_with("postgres")) {
        eprintln!("on_postgresql_no_list_query_scans_the_recipes_table: skipped, TEST_DATABASE_URL names no PostgreSQL server");
        return;
    }
    let t = TestApp::spawn().await;
    let (cook, _) = t.api_signup().await;
    let (other, _) = t.api_signup().await;
    let db = &t.app().db;
    let owner = t.user_row(&cook.email).await.unwrap().id;
    seed(db, owner, t.user_row(&other.email).await.unwrap().id).await;
    let (cook_name, other_name) = (Username::parse(&cook.username).unwrap(), Username::parse(&other.username).unwrap());
    let cases = [
        ("a visitor's list", Viewer::Anonymous, RecipeFilter::default()),
        ("a user's list", Viewer::User(owner), RecipeFilter::default()),
        ("an admin's list", Viewer::Admin, RecipeFilter::default()),
        ("the owner's own list", Viewer::User(owner), RecipeFilter { owner_id: Some(owner), ..Default::default() }),
        ("an author's list", Viewer::Anonymous, RecipeFilter { author: Some(&cook_name), ..Default::default() }),
        ("another author's list", Viewer::Anonymous, RecipeFilter { author: Some(&other_name), ..Default::default() }),
        ("an admin's page of a user", Viewer::Admin, RecipeFilter { owner_id: Some(owner), ..Default::default() }),
        ("a search", Viewer::Anonymous, RecipeFilter { q: Some("saffron"), ..Default::default() }),
    ];
    for (case, viewer, filter) in cases {
        for page in [1, 50] {
            let statement = recipes::page_query(DbBackend::Postgres, viewer, &filter, page, 20).build(DbBackend::Postgres);
            let plan = plan(db, statement).await;
            assert!(!plan.contains("Seq Scan on recipes"), "{case}, page {page}, scans the recipes table:\n{plan}");
            // An index serves the order too: nothing sorts the list's
            // recipes (a search sorts its few matches), and what a scan
            // reads and throws away stays far below the table's size.
            if filter.q.is_none() {
                assert!(!plan.contains("Sort"), "{case}, page {page}, sorts:\n{plan}");
            }
            assert!(removed_by_filters(&plan) <= 2_000, "{case}, page {page}, reads past what it shows:\n{plan}");
        }
        if filter.q.is_some() {
            let statement = recipes::count_query(DbBackend::Postgres, viewer, &filter).build(DbBackend::Postgres);
            let plan = plan(db, statement).await;
            assert!(!plan.contains("Seq Scan on recipes"), "{case}'s count scans the recipes table:\n{plan}");
        }
    }
}

async fn total(t: &TestApp, path: &str, token: Option<&str>) -> u64 {
    let response = t.get_json(path, token).await;
    assert_eq!(response.status(), Status::Ok, "GET {path}");
    response.into_json::<Value>().await.unwrap()["total"].as_u64().unwrap()
}

/// The totals of: a visitor's list, Ann's, an admin's, Ann's recipes as a
/// visitor sees them, and as Ann does.
async fn totals(t: &TestApp, ann: &TestUser, ann_token: &str, admin_token: &str) -> [u64; 5] {
    let by_ann = format!("/api/v1/recipes?author={}", ann.username);
    [
        total(t, "/api/v1/recipes", None).await,
        total(t, "/api/v1/recipes", Some(ann_token)).await,
        total(t, "/api/v1/recipes", Some(admin_token)).await,
        total(t, &by_ann, None).await,
        total(t, &by_ann, Some(ann_token)).await,
    ]
}

#[rocket::async_test]
async fn every_list_total_follows_writes_exactly() {
    let t = TestApp::spawn().await;
    let (ann, ann_tokens) = t.api_signup().await;
    let (_, bob_tokens) = t.api_signup().await;
    let (_, admin) = t.api_admin().await;
    let write = |name: &str, visibility: &str| json!({"name": name, "description": "", "cook_time": 5, "directions": "Do.", "visibility": visibility});
    let mut ids = Vec::new();
    for (n, visibility) in ["public", "private", "public"].iter().enumerate() {
        let response = t.post_json("/api/v1/recipes", Some(&ann_tokens.access), &write(&format!("Ann {n}"), visibility)).await;
        assert_eq!(response.status(), Status::Created);
        ids.push(response.into_json::<Value>().await.unwrap()["id"].as_i64().unwrap());
    }
    assert_eq!(t.post_json("/api/v1/recipes", Some(&bob_tokens.access), &write("Bob 0", "private")).await.status(), Status::Created);
    assert_eq!(totals(&t, &ann, &ann_tokens.access, &admin.access).await, [2, 3, 4, 2, 3]);

    let path = format!("/api/v1/recipes/{}", ids[0]);
    let private = write("Ann 0", "private").to_string();
    let updated = t.client.put(path.clone()).header(bearer(&ann_tokens.access)).header(ContentType::JSON).body(private).dispatch().await;
    assert_eq!(updated.status(), Status::Ok);
    assert_eq!(totals(&t, &ann, &ann_tokens.access, &admin.access).await, [1, 3, 4, 1, 3], "made private");
    let deleted = t.client.delete(path).header(bearer(&ann_tokens.access)).dispatch().await;
    assert_eq!(deleted.status(), Status::NoContent);
    assert_eq!(totals(&t, &ann, &ann_tokens.access, &admin.access).await, [1, 2, 3, 1, 2], "deleted");

    // Bob's account goes, and his recipe with it.
    let gone = t.client.delete(format!("/api/v1/users/{}", bob_tokens.public_id)).header(bearer(&admin.access)).dispatch().await;
    assert_eq!(gone.status(), Status::NoContent);
    assert_eq!(totals(&t, &ann, &ann_tokens.access, &admin.access).await, [1, 2, 2, 1, 2], "an account deleted");
    assert_eq!(total(&t, "/api/v1/recipes?author=nobody_here", None).await, 0, "an author who does not exist");
}

/// A search through the store as `viewer`: counted afresh, and brought up
/// to date from `since` (a page as kept, and the last change it includes).
async fn search(
    t: &TestApp,
    viewer: Viewer,
    since: Option<(&Page<recipes::RecipeRow>, recipes::ChangeMark)>,
) -> (Page<recipes::RecipeRow>, Option<recipes::ChangeMark>) {
    let filter = RecipeFilter { q: Some("saffron"), ..Default::default() };
    recipes::search_page(&t.app().db, viewer, &filter, 1, 20, since).await.unwrap()
}

#[rocket::async_test]
async fn a_kept_search_is_brought_up_to_date_from_the_changes_and_counts_again_when_it_cannot_be() {
    let t = TestApp::spawn().await;
    let (ann, ann_tokens) = t.api_signup().await;
    let (bob, bob_tokens) = t.api_signup().await;
    let (_, admin) = t.api_admin().await;
    let ann_id = t.user_row(&ann.email).await.unwrap().id;
    let bob_id = t.user_row(&bob.email).await.unwrap().id;
    let viewers = [Viewer::Anonymous, Viewer::User(ann_id), Viewer::User(bob_id), Viewer::Admin];
    let write = |name: &str, visibility: &str| json!({"name": name, "description": "", "cook_time": 5, "directions": "Do.", "visibility": visibility});
    let create = |token: String, name: &'static str, visibility: &'static str| {
        let t = &t;
        async move {
            let response = t.post_json("/api/v1/recipes", Some(&token), &write(name, visibility)).await;
            assert_eq!(response.status(), Status::Created);
            response.into_json::<Value>().await.unwrap()["id"].as_i64().unwrap()
        }
    };
    let update = |token: String, id: i64, name: &'static str, visibility: &'static str| {
        let t = &t;
        async move {
            let body = write(name, visibility).to_string();
            let response = t.client.put(format!("/api/v1/recipes/{id}")).header(bearer(&token)).header(ContentType::JSON).body(body).dispatch().await;
            assert_eq!(response.status(), Status::Ok);
        }
    };
    let rice = create(ann_tokens.access.clone(), "Saffron rice", "public").await;
    create(ann_tokens.access.clone(), "Saffron tea", "private").await;
    let soup = create(bob_tokens.access.clone(), "Plain soup", "public").await;

    // Each viewer's search as kept now.
    let mut kept = Vec::new();
    for viewer in viewers {
        let (page, mark) = search(&t, viewer, None).await;
        kept.push((page, mark.expect("recipes were written, so there are changes")));
    }
    assert_eq!(kept.iter().map(|(page, _)| page.total).collect::<Vec<_>>(), [1, 2, 1, 2]);

    // Every kind of write: a match added, hidden, renamed into a match, a
    // non-match edited, a match deleted, each through the API.
    create(bob_tokens.access.clone(), "Saffron buns", "private").await;
    update(ann_tokens.access.clone(), rice, "Saffron rice", "private").await;
    update(bob_tokens.access.clone(), soup, "Saffron soup", "public").await;
    let stew = create(ann_tokens.access.clone(), "Stew", "public").await;
    update(ann_tokens.access.clone(), stew, "Beef stew", "public").await;
    let deleted = t.client.delete(format!("/api/v1/recipes/{rice}")).header(bearer(&ann_tokens.access)).dispatch().await;
    assert_eq!(deleted.status(), Status::NoContent);

    for (viewer, (page, mark)) in viewers.iter().zip(&kept) {
        let (fresh, fresh_mark) = search(&t, *viewer, None).await;
        let (brought, brought_mark) = search(&t, *viewer, Some((page, *mark))).await;
        assert_eq!(brought.total, fresh.total, "{viewer:?}: the total brought up to date is the one counted");
        assert_eq!(brought.items.iter().map(|r| r.id).collect::<Vec<_>>(), fresh.items.iter().map(|r| r.id).collect::<Vec<_>>(), "{viewer:?}");
        assert_eq!(brought_mark, fresh_mark, "{viewer:?}");
    }
    assert_eq!(total(&t, "/api/v1/recipes?q=saffron", None).await, 1, "the soup");
    assert_eq!(total(&t, "/api/v1/recipes?q=saffron", Some(&ann_tokens.access)).await, 2, "the soup and Ann's tea");
    assert_eq!(total(&t, "/api/v1/recipes?q=SAFFRON", Some(&admin.access)).await, 3, "and Bob's buns");

    // The delta is what it says: added to a total as kept, whatever it was.
    let (page, mark) = search(&t, Viewer::Admin, None).await;
    let mark = mark.unwrap();
    let doctored = Page { total: 1_000, ..page.clone() };
    create(bob_tokens.access.clone(), "Saffron cake", "public").await;
    let (brought, _) = search(&t, Viewer::Admin, Some((&doctored, mark))).await;
    assert_eq!(brought.total, 1_001, "one match added to the kept total: brought up to date, not counted");

    // It counts again where the changes cannot say: a change row that is
    // not the one kept (a database restored from a backup) ...
    let db = &t.app().db;
    let retag = format!("UPDATE recipe_changes SET tag = tag + 1 WHERE id = {}", mark.id);
    db.execute_unprepared(&retag).await.unwrap();
    let (recounted, _) = search(&t, Viewer::Admin, Some((&doctored, mark))).await;
    assert_eq!(recounted.total, 4, "the chain is broken: counted");
    // ... and a user deleted, whose recipes some backends delete without
    // their triggers.
    let (page, mark) = search(&t, Viewer::Admin, None).await;
    let doctored = Page { total: 1_000, ..page };
    let gone = t.client.delete(format!("/api/v1/users/{}", bob_tokens.public_id)).header(bearer(&admin.access)).dispatch().await;
    assert_eq!(gone.status(), Status::NoContent);
    let (recounted, _) = search(&t, Viewer::Admin, Some((&doctored, mark.unwrap()))).await;
    assert_eq!(recounted.total, 1, "Ann's tea is what is left");
    assert_eq!(total(&t, "/api/v1/recipes?q=saffron", Some(&admin.access)).await, 1);
}
