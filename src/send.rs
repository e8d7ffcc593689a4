//! Whole bodies in one write. Rocket hands a response body to hyper in
//! chunks of 4 kB by default, through a channel to the connection's task:
//! a 10 kB page was three writes to the socket and three wake-ups of that
//! task. A body of known size up to [`ONE_WRITE`] goes as one chunk
//! (bench/RESULTS.md); larger ones stream in chunks of that size.

use rocket::fairing::{Fairing, Info, Kind};
use rocket::{Request, Response};

/// The largest chunk, and so the largest body sent in one write.
const ONE_WRITE: usize = 64 << 10;

pub struct WholeBodies;

#[rocket::async_trait]
impl Fairing for WholeBodies {
    fn info(&self) -> Info {
        Info { name: "whole bodies", kind: Kind::Response }
    }

    async fn on_response<'r>(&self, _: &'r Request<'_>, res: &mut Response<'r>) {
        if let Some(size) = res.body_mut().size().await {
            res.set_max_chunk_size(size.clamp(rocket::response::Body::DEFAULT_MAX_CHUNK, ONE_WRITE));
        }
    }
}
