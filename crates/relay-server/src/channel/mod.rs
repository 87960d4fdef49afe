//! The channel face: Moobius-compatible WebSocket endpoint and HTTP API over
//! `relay_channels::Hub`.
//!
//! - `ws`: `/ws`, one reader task per socket feeding frames to the hub in batches, and direct
//!   vectored writes of the frames the hub queues (RFC 6455 framing from
//!   `relay_wire::websocket`).
//! - `api`: the JSON HTTP API with the `code: 10000` envelope (`envelope`).
//! - `files`: the presigned-POST-shaped upload flow and public file serving.
//! - `admin`: the operator's Unix socket, so `relay account …` works while the server runs.
//! - `client_addr`: which address a sign-in comes from, behind trusted proxies too.

pub mod admin;
mod api;
mod client_addr;
mod envelope;
mod files;
mod ws;

use std::sync::Arc;

use axum::http::StatusCode;
use axum::Router;
use relay_channels::Hub;

pub use client_addr::{BadProxy, TrustedProxies, TrustedProxy};
use envelope::{ApiError, ApiResult};

/// Everything the channel routes need.
#[derive(Clone)]
pub struct ChannelFace {
    pub hub: Hub,
    /// Peers whose `X-Forwarded-For` names the client (see [`TrustedProxies`]).
    pub trusted_proxies: Arc<TrustedProxies>,
}

impl ChannelFace {
    pub fn new(hub: Hub) -> Self {
        Self {
            hub,
            trusted_proxies: Arc::default(),
        }
    }

    /// The face, believing `X-Forwarded-For` from these peers.
    pub fn with_trusted_proxies(self, proxies: TrustedProxies) -> Self {
        Self {
            trusted_proxies: Arc::new(proxies),
            ..self
        }
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
