//! Sign-up and password login: the rules shared by the pages, the API and the
//! command line, so each front end only translates input and output.

use crate::app::App;
use crate::domain::{Email, FieldErrors, Password, Role, Username};
use crate::entities::user;
use crate::error::AppError;
use crate::store;

/// A sign-up as typed. `password_confirm` is `None` where the front end has
/// no confirmation field (the API).
pub struct SignupInput<'a> {
    pub email: &'a str,
    pub username: &'a str,
    pub password: &'a str,
    pub password_confirm: Option<&'a str>,
}

/// Checks every field at once (422), then that email and username are free
/// (409), then hashes and stores.
pub async fn register(app: &App, input: SignupInput<'_>, role: Role) -> Result<user::Model, AppError> {
    let mut errors = FieldErrors::new();
    let email = errors.check("email", Email::parse(input.email));
    let username = errors.check("username", Username::parse(input.username));
    let password = errors.check(
        "password",
        Password::parse(input.password, app.config.password_rules, input.email, input.username),
    );
    if input.password_confirm.is_some_and(|confirm| confirm != input.password) {
        errors.add("password_confirm", "The two passwords differ.");
    }
    let (Some(email), Some(username), Some(password), true) = (email, username, password, errors.is_empty()) else {
        return Err(AppError::Validation(errors));
    };
    let taken = store::users::taken(&app.db, &email, &username).await?;
    if !taken.is_empty() {
        return Err(AppError::Conflict(taken));
    }
    let password_hash = app.hasher.hash(password.expose()).await?;
    store::users::create(&app.db, store::users::NewUser { email, username, password_hash, role }).await
}

/// Checks an email and password. Unknown email, wrong password, or a
/// password bcrypt cannot take: the same error after the same work (one
/// bcrypt verify). A disabled account is refused only after the password
/// proved right, so it reveals nothing to a guesser. On success the hash is
/// upgraded if `bcrypt_cost` was raised since it was made.
pub async fn check_password(app: &App, email: &str, password: &str) -> Result<user::Model, AppError> {
    let user = store::users::find_by_email(&app.db, email).await?;
    let hash = user.as_ref().map(|u| u.password_hash.as_str());
    let matches = app.hasher.verify_or_dummy(password, hash).await?;
    let Some(user) = user.filter(|_| matches) else {
        return Err(AppError::InvalidCredentials);
    };
    if user.disabled_at.is_some() {
        return Err(AppError::Forbidden);
    }
    if app.hasher.needs_upgrade(&user.password_hash) {
        match app.hasher.hash(password).await {
            Ok(hash) => store::users::set_password_hash(&app.db, user.id, hash).await?,
            Err(e) => tracing::warn!(error = %e, "could not upgrade a password hash"),
        }
    }
    Ok(user)
}
