//! `GET /healthz`: 200 when the database answers, 503 (with `Retry-After`)
//! when it does not.

use rocket::http::Header;
use rocket::serde::json::{json, Json, Value};
use rocket::{get, State};

use crate::app::App;
use crate::error::RETRY_AFTER_UNAVAILABLE;

/// The health answer: a status, its JSON, and `Retry-After` when down.
#[derive(rocket::Responder)]
pub enum Health {
    #[response(status = 200)]
    Up(Json<Value>),
    #[response(status = 503)]
    Down(Json<Value>, Header<'static>),
}

#[get("/healthz")]
pub async fn healthz(app: &State<App>) -> Health {
    match app.reads.probe(&app.kept).await {
        Ok(()) => Health::Up(Json(json!({ "status": "ok" }))),
        Err(e) => {
            tracing::warn!(error = %e, "health check: database unavailable");
            let retry = Header::new("Retry-After", RETRY_AFTER_UNAVAILABLE.to_string());
            Health::Down(Json(json!({ "status": "unavailable" })), retry)
        }
    }
}
