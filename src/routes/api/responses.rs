//! The API's shared error responses, as the OpenAPI document names them:
//! each has the error envelope as its body. Handlers name the ones they
//! answer in their annotations (`responses::Conflict`); `openapi` lists
//! them all and adds the ones that follow from a route's shape.

use utoipa::ToResponse;

use crate::error::ErrorEnvelope;

/// The shared error responses, each with the error envelope as its body.
macro_rules! error_responses {
    ($($name:ident: $description:literal $(, $header:literal = $header_description:literal)?;)*) => {$(
        #[derive(ToResponse)]
        #[response(
            description = $description,
            content_type = "application/json",
            $(headers(($header = String, description = $header_description)))?
        )]
        #[allow(dead_code)]
        pub struct $name(ErrorEnvelope);
    )*};
}

error_responses! {
    BadRequest: "Malformed: the body is not JSON, or a header cannot be used (`bad_request`).";
    Unauthorized: "No token, or one that is not accepted: `token_missing`, `token_invalid`, `token_expired`, \
                   `token_revoked`, `wrong_token_type`, `fresh_token_required`; `invalid_credentials` at login.",
        "WWW-Authenticate" = "`Bearer` with `error=\"invalid_token\"` and a description.";
    SecondFactorRequired: "The password is right, and the account has two-step login (`second_factor_required`): \
                           beside `error`, a `second_factor_token` for `POST /api/v1/auth/second-factor`.";
    SecondFactorInvalid: "A wrong code, or a `second_factor_token` that is unknown, used or expired \
                          (`second_factor_invalid`).";
    Forbidden: "Not allowed for this user (`forbidden`); a personal access token without the scope this needs \
                (`insufficient_scope`, with `WWW-Authenticate: Bearer error=\"insufficient_scope\", scope=\"…\"`), or \
                one doing what a token never may (`forbidden`); or a cross-site request (`cross_origin`).";
    NotFound: "Nothing there, or nothing this caller may see (`not_found`).";
    Conflict: "Already taken (`conflict`, with `fields`), or the last active admin (`last_admin`).";
    PayloadTooLarge: "The body is over 512 KiB (`payload_too_large`).";
    ValidationFailed: "Fields or query parameters that are not valid (`validation_failed`, with a message per field \
                       in `fields`).";
    TooManyRequests: "Too many attempts (`too_many_requests`); at login, also every session the account may hold in \
                      use (`too_many_sessions`: none is ended for a new login).", "Retry-After" = "Seconds to wait.";
    ServiceUnavailable: "The database is briefly unavailable (`service_unavailable`).", "Retry-After" = "Seconds to wait.";
}
