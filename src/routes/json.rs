//! JSON request bodies for the API, with SPEC §5's error statuses:
//! not JSON at all → 400, JSON of the wrong shape → 422 naming the field
//! (via serde_path_to_error), over the limit → 413.

use rocket::data::{self, Data, FromData, ToByteUnit};
use rocket::Request;
use serde::de::DeserializeOwned;

use crate::domain::FieldErrors;
use crate::error::{fail_guard, AppError, GuardFailed};

const JSON_LIMIT_KIB: u64 = 512;

/// A JSON body of `T`.
#[derive(Debug)]
pub struct JsonBody<T>(pub T);

/// A JSON body of `T`, or nothing at all.
#[derive(Debug)]
pub struct OptionalJson<T>(pub Option<T>);

pub async fn read_body(data: Data<'_>) -> Result<String, AppError> {
    match data.open(JSON_LIMIT_KIB.kibibytes()).into_string().await {
        Ok(body) if body.is_complete() => Ok(body.into_inner()),
        Ok(_) => Err(AppError::PayloadTooLarge),
        Err(_) => Err(AppError::BadRequest("The request body could not be read.".into())),
    }
}

pub fn parse<T: DeserializeOwned>(body: &str) -> Result<T, AppError> {
    let value: serde_json::Value = serde_json::from_str(body)
        .map_err(|e| AppError::BadRequest(format!("The body is not valid JSON: {e}.")))?;
    if !value.is_object() {
        return Err(AppError::BadRequest("The body must be a JSON object.".into()));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let field = e.path().to_string();
        let field = if field == "." { "body".to_owned() } else { field };
        AppError::Validation(FieldErrors::single(&field, e.into_inner().to_string()))
    })
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Send> FromData<'r> for JsonBody<T> {
    type Error = GuardFailed;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_body(data).await.and_then(|body| {
            if body.trim().is_empty() {
                Err(AppError::BadRequest("A JSON body is required.".into()))
            } else {
                parse(&body)
            }
        }) {
            Ok(value) => data::Outcome::Success(JsonBody(value)),
            Err(error) => fail_guard(req, error),
        }
    }
}

#[rocket::async_trait]
impl<'r, T: DeserializeOwned + Send> FromData<'r> for OptionalJson<T> {
    type Error = GuardFailed;

    async fn from_data(req: &'r Request<'_>, data: Data<'r>) -> data::Outcome<'r, Self> {
        match read_body(data).await.and_then(|body| {
            if body.trim().is_empty() { Ok(None) } else { parse(&body).map(Some) }
        }) {
            Ok(value) => data::Outcome::Success(OptionalJson(value)),
            Err(error) => fail_guard(req, error),
        }
    }
}
