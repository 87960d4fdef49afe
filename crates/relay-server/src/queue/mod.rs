//! The queue face: Scirocco-compatible HTTP over `relay_queue::Queue` (the single-node engine or
//! the shared PostgreSQL queue).
//!
//! Every request is authenticated first (403 before anything else), then routed by hand
//! (`route`), because the protocol wants case-insensitive paths, ignores a trailing slash, and
//! answers unknown paths with its own 404 body.

mod auth;
mod body;
mod handlers;
mod hooks;
mod render;
mod request;
mod route;
mod validate;

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::response::Response;
use axum::Router;
use relay_queue::Queue;

pub(crate) use auth::authorized;
pub use body::BodyLimits;

/// Settings of the queue face's HTTP layer.
#[derive(Debug, Clone)]
pub struct QueueHttpConfig {
    /// The value every request's `Authorization` header must equal.
    pub token: String,
    pub limits: BodyLimits,
    /// Cap and default of `GET /messages`.
    pub max_list: usize,
    /// Serve the `/__test__` state routes.
    pub test_hooks: bool,
}

#[derive(Clone)]
pub struct QueueFace {
    pub queue: Queue,
    pub config: Arc<QueueHttpConfig>,
}

pub fn routes(face: QueueFace) -> Router {
    Router::new().fallback(handle).with_state(face)
}

async fn handle(State(face): State<QueueFace>, req: Request) -> Response {
    if !authorized(&face.config.token, req.headers()) {
        return render::message(http::StatusCode::FORBIDDEN, "Incorrect auth token.");
    }
    let route = route::Route::parse(req.method(), req.uri().path(), face.config.test_hooks);
    let (name, op) = route.metric_names();
    let mut resp = handlers::dispatch(&face, route, req).await;
    // A push is answered 201, a pull that hands out a message and an ack 200.
    if let Some(op) = op {
        if matches!(resp.status().as_u16(), 200 | 201) {
            crate::metrics::queue_op(op);
        }
    }
    resp.extensions_mut()
        .insert(crate::metrics::RouteName(name));
    resp
}
