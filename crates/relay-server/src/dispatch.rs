//! Which face a request belongs to. The channel face owns a fixed set of first path segments
//! (the Moobius SDK's HTTP API and `/ws`); everything else is the queue face, which also answers
//! unknown paths (403 without the queue token, 404 with it), as the Scirocco protocol requires.
//! The web page for people in channels lives under `/app/` (see `web`).

use axum::Router;

use crate::{channel, metrics, queue, web};

/// The engines behind each face.
#[derive(Clone)]
pub struct Faces {
    pub queue: queue::QueueFace,
    pub channels: Option<channel::ChannelFace>,
}

/// Builds the whole HTTP application.
pub fn app(faces: Faces) -> Router {
    let snapshot = Router::new()
        .route(
            metrics::SNAPSHOT_PATH,
            axum::routing::get(metrics::snapshot),
        )
        .with_state(faces.queue.clone());
    let queue_routes = snapshot.fallback_service(queue::routes(faces.queue));
    let app = match faces.channels {
        Some(ch) => channel::routes(ch)
            .merge(web::routes())
            .fallback_service(queue_routes)
            // A browser's navigation to `/` goes to the page (`/app/`); queue clients never ask
            // for HTML, so the queue face's answers at `/` are unchanged.
            .layer(axum::middleware::from_fn(web::root_redirect)),
        None => queue_routes,
    };
    app.layer(axum::middleware::from_fn(metrics::time_requests))
}
