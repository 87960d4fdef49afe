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
//! - `forward`: a standby relaying channel requests and WebSockets to the owner node.

pub mod admin;
mod api;
mod client_addr;
mod envelope;
mod files;
mod forward;
mod ws;

use std::sync::{Arc, PoisonError, RwLock};

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::StatusCode;
use axum::Router;
use relay_channels::Hub;

pub use client_addr::{BadProxy, TrustedProxies, TrustedProxy};
use envelope::{ApiError, ApiResult};

/// Everything the channel routes need.
///
/// The hub sits in a slot rather than in the face itself because, with the state in
/// PostgreSQL, a node may serve channels only while it owns that state: a standby starts with
/// the slot empty (every channel request answers 503 naming the owner), fills it when it takes
/// the state over and empties it again if it loses the state. Each request, and each socket
/// once at its upgrade, reads the slot once and keeps that hub for its life; a hub that is
/// dropped from the slot closes its sockets itself ([`Hub::abandon`]). The slot is a `RwLock`
/// that is written only at a takeover or a loss, so on a single node every read is an
/// uncontended read lock and an `Arc` clone, nothing beside the work of a request.
#[derive(Clone)]
pub struct ChannelFace {
    slot: Arc<RwLock<Slot>>,
    /// Peers whose `X-Forwarded-For` names the client (see [`TrustedProxies`]).
    pub trusted_proxies: Arc<TrustedProxies>,
}

enum Slot {
    Serving(Hub),
    /// No hub here: what a refused request is told, and the owner's address when this node
    /// forwards to it instead of refusing.
    Standby {
        why: String,
        forward: Option<String>,
    },
}

impl ChannelFace {
    /// A face serving `hub`.
    pub fn new(hub: Hub) -> Self {
        Self::with_slot(Slot::Serving(hub))
    }

    /// A face without a hub yet: every channel request is forwarded to `forward`, the
    /// owner's address, or without one refused with 503 and `why`.
    pub fn standby(why: impl Into<String>, forward: Option<String>) -> Self {
        Self::with_slot(Slot::Standby {
            why: why.into(),
            forward,
        })
    }

    fn with_slot(slot: Slot) -> Self {
        Self {
            slot: Arc::new(RwLock::new(slot)),
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

    /// The hub being served, if any.
    pub fn hub(&self) -> Option<Hub> {
        match &*self.slot.read().unwrap_or_else(PoisonError::into_inner) {
            Slot::Serving(hub) => Some(hub.clone()),
            Slot::Standby { .. } => None,
        }
    }

    /// Where a standby forwards channel requests, if it does.
    fn forward_target(&self) -> Option<String> {
        match &*self.slot.read().unwrap_or_else(PoisonError::into_inner) {
            Slot::Standby { forward, .. } => forward.clone(),
            Slot::Serving(_) => None,
        }
    }

    /// The hub, or the refusal of a standby.
    fn serving(&self) -> Result<Hub, ApiError> {
        match &*self.slot.read().unwrap_or_else(PoisonError::into_inner) {
            Slot::Serving(hub) => Ok(hub.clone()),
            Slot::Standby { why, .. } => Err(ApiError::standby(why.clone())),
        }
    }

    /// Serves `hub` from now on.
    pub fn serve(&self, hub: Hub) {
        *self.slot.write().unwrap_or_else(PoisonError::into_inner) = Slot::Serving(hub);
    }

    /// Stops serving (or updates why not): later requests are forwarded to `forward`, or
    /// refused with `why`. Returns the hub that was served, for the caller to abandon or close.
    pub fn stand_by(&self, why: impl Into<String>, forward: Option<String>) -> Option<Hub> {
        let old = std::mem::replace(
            &mut *self.slot.write().unwrap_or_else(PoisonError::into_inner),
            Slot::Standby {
                why: why.into(),
                forward,
            },
        );
        match old {
            Slot::Serving(hub) => Some(hub),
            Slot::Standby { .. } => None,
        }
    }
}

/// What a channel handler works with: the hub this request was given (see [`ChannelFace`]).
/// Extracting it refuses the request with 503 on a standby.
struct Live {
    hub: Hub,
}

impl FromRequestParts<ChannelFace> for Live {
    type Rejection = ApiError;

    async fn from_request_parts(_: &mut Parts, face: &ChannelFace) -> Result<Self, ApiError> {
        Ok(Live {
            hub: face.serving()?,
        })
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
        .route_layer(axum::middleware::from_fn_with_state(
            face.clone(),
            forward::to_owner,
        ))
        .with_state(face)
}

async fn method_not_allowed() -> ApiResult {
    Err(ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        40500,
        "this endpoint does not take that method",
    ))
}
