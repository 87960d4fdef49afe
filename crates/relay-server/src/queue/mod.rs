//! The queue face: Scirocco-compatible HTTP over `relay_queue::Engine`.

use axum::Router;

#[derive(Clone)]
pub struct QueueFace {}

pub fn routes(_face: QueueFace) -> Router {
    Router::new()
}
