//! `GET /healthz`: 200 when the database answers, 503 when it does not.

use rocket::http::Status;
use rocket::serde::json::{json, Json, Value};
use rocket::{get, State};

use crate::app::App;

#[get("/healthz")]
pub async fn healthz(app: &State<App>) -> (Status, Json<Value>) {
    match app.db.ping().await {
        Ok(()) => (Status::Ok, Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            (Status::ServiceUnavailable, Json(json!({ "status": "unavailable" })))
        }
    }
}
