//! Notices by mail (SPEC.md §6): each says what happened, when, from which
//! device and address, and what to do if it was not the account's owner,
//! in one look for all of them. Each is queued in the transaction of the
//! change it reports (`crate::mail`).

use crate::app::App;
use crate::auth::ClientInfo;
use crate::store;
use crate::views::{device, human};

pub const PASSWORD_CHANGED: &str = "Your recipebox password was changed";
pub const EMAIL_CHANGED: &str = "Your recipebox email address was changed";
pub const NEW_DEVICE: &str = "A new device logged in to your recipebox account";

/// The text of a notice to `username` that `what` happened just now,
/// through `client`. `what` is a sentence without its final stop.
pub fn text(app: &App, username: &str, what: &str, client: &ClientInfo) -> String {
    format!(
        "Hello {username},\n\n\
         {what}.\n\n\
         When: {when}\nDevice: {device}\nAddress: {ip}\n\n\
         If that was you, there is nothing more to do.\n\n\
         If it was not you, someone may know your password: choose a new one at once at {reset} \
         (that also logs out every browser and app), and change it wherever else you use it.\n",
        when = human(store::now()),
        device = device::describe(client.user_agent.as_deref()),
        ip = client.ip.as_deref().unwrap_or("unknown"),
        reset = app.mailer.link("/forgot-password"),
    )
}
