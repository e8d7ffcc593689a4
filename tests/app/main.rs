//! recipebox's integration tests, one binary so they link once.
//! Each test runs its own app on its own fresh SQLite database.

mod accounts;
mod admin;
mod api_fuzz;
mod api_auth;
mod audit;
mod delete_account;
mod helpers;
mod instances;
mod keys;
mod mail;
mod me;
mod migrations;
mod notices;
mod oidc;
mod outbox;
mod openapi;
mod passkeys;
mod pat_api;
mod token_pages;
mod password;
mod recipes;
mod reset;
mod safety;
mod scale;
mod security;
mod server;
mod sessions;
mod test_server;
mod throttle;
mod tokens;
mod two_factor;
mod unavailable;
mod verify;
