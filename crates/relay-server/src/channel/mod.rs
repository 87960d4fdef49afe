//! The channel face: Moobius-compatible WebSocket endpoint and HTTP API over
//! `relay_channels::Hub`.
//!
//! - `ws`: `/ws`, one reader task per socket feeding frames to the hub in batches, and direct
//!   vectored writes of the frames the hub queues (RFC 6455 framing from
//!   `relay_wire::websocket`).
//! - `api`: the JSON HTTP API with the `code: 10000` envelope (`envelope`).
//! - `files`: the presigned-POST-shaped upload flow and public file serving.
//! - `admin`: the operator's Unix socket, so `relay account …` works while the server runs.

pub mod admin;
mod api;
mod envelope;
mod files;
mod ws;

use axum::http::StatusCode;
use axum::Router;
use relay_channels::Hub;

use envelope::{ApiError, ApiResult};

/// Everything the channel routes need.
#[derive(Clone)]
pub struct ChannelFace {
    pub hub: Hub,
}

impl ChannelFace {
    pub fn new(hub: Hub) -> Self {
        Self { hub }
    }
}

/// The channel face's routes. Paths not listed here fall through to the queue face (which
/// answers unknown paths, however close, as its protocol requires); a listed path with a method
/// it does not take gets the API's JSON envelope, like every other answer of the API.
pub fn routes(face: ChannelFace) -> Router {
    Router::new()
        .merge(ws::routes())
        .merge(api::routes())
        .merge(files::routes())
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(face)
}

async fn method_not_allowed() -> ApiResult {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        40500,
        "this endpoint does not take that method",
    ))
}
