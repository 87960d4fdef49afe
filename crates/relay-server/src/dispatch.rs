//! Which face a request belongs to. The channel face owns a fixed set of first path segments
//! (the Moobius SDK's HTTP API and `/ws`); everything else is the queue face, which also answers
//! unknown paths (403 without the queue token, 404 with it), as the Scirocco protocol requires.

use axum::Router;

use crate::{channel, queue};

/// The engines behind each face.
#[derive(Clone)]
pub struct Faces {
    pub queue: queue::QueueFace,
    pub channels: Option<channel::ChannelFace>,
}

/// Builds the whole HTTP application.
pub fn app(faces: Faces) -> Router {
    let queue_routes = queue::routes(faces.queue);
    match faces.channels {
        Some(ch) => channel::routes(ch).fallback_service(queue_routes),
        None => queue_routes,
    }
}
