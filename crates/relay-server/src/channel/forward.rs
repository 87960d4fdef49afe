//! A standby that forwards: with the channel state in PostgreSQL only the owner node serves
//! channels (see [`super::ChannelFace`]). By default a standby refuses channel requests with
//! 503 so that a load balancer with health checks sends clients to the owner; with
//! `--forward-to-owner` it relays them instead, so that clients may reach any node (round-robin
//! DNS, a proxy without health checks) and still be served.
//!
//! Forwarded requests go over HTTP/1.1 to the owner's advertised address, on connections kept
//! in a pool between requests (an SDK's HTTP calls would otherwise each pay a connect to the
//! owner): the request is sent as it came (method, path, headers, body, Host), with the
//! client's address appended to `X-Forwarded-For` and a mark that keeps the owner, should it
//! have just become a standby itself, from forwarding it on. A WebSocket upgrade that the owner
//! accepts takes its connection out of the pool and is spliced byte for byte in both
//! directions; the owner does all the framing. hyper-util's pooled client and hyper's upgrade
//! API do the HTTP; only the splice is ours.
//!
//! The owner sees the standby as the peer, so the sign-in throttle counts a forwarded client by
//! `X-Forwarded-For` only when the standby's address is among the owner's `--trusted-proxy`
//! entries (docs/scale-out.md says to list the nodes).

use std::net::{IpAddr, SocketAddr};
use std::sync::LazyLock;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::header::UPGRADE;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioIo};

use super::envelope::ApiError;
use super::ChannelFace;

/// Set on a forwarded request: it is never forwarded again.
const FORWARDED_MARK: &str = "relay-forwarded";
/// How long a standby tries to reach the owner before it answers 503.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(3);
/// How long an unused connection to the owner stays open: an owner that went away leaves
/// none behind for long, and the client retries a request whose pooled connection turned out
/// closed before it was sent.
const IDLE_TIMEOUT: Duration = Duration::from_secs(30);

/// The connections to the owner, shared by every forwarded request of this process.
static OWNER: LazyLock<Client<HttpConnector, Body>> = LazyLock::new(|| {
    let mut connector = HttpConnector::new();
    connector.set_connect_timeout(Some(CONNECT_TIMEOUT));
    connector.set_nodelay(true);
    Client::builder(TokioExecutor::new())
        .pool_idle_timeout(IDLE_TIMEOUT)
        .build(connector)
});

/// The channel routes' layer: on a forwarding standby, the request goes to the owner; otherwise
/// to its handler (which, on a standby, answers 503).
pub(super) async fn to_owner(
    State(face): State<ChannelFace>,
    req: Request,
    next: Next,
) -> Response {
    match face.forward_target() {
        Some(owner) if !req.headers().contains_key(FORWARDED_MARK) => forward(req, &owner).await,
        _ => next.run(req).await,
    }
}

async fn forward(mut req: Request, owner: &str) -> Response {
    let upgrade = is_upgrade(&req).then(|| hyper::upgrade::on(&mut req));
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let (mut parts, body) = req.into_parts();
    parts.extensions = Default::default();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    parts.uri = match format!("http://{owner}{path}").parse() {
        Ok(uri) => uri,
        Err(e) => return unreachable(owner, &e.to_string()),
    };
    if let Some(ip) = peer {
        append_forwarded_for(&mut parts.headers, ip);
    }
    parts
        .headers
        .insert(FORWARDED_MARK, HeaderValue::from_static("1"));
    let mut resp = match OWNER.request(Request::from_parts(parts, body)).await {
        Ok(r) => r,
        Err(e) => return unreachable(owner, &relay_wire::error_chain::ErrorChain(&e).to_string()),
    };
    if resp.status() == StatusCode::SWITCHING_PROTOCOLS {
        if let Some(client) = upgrade {
            let owner_side = hyper::upgrade::on(&mut resp);
            tokio::spawn(splice(client, owner_side));
        }
    }
    resp.map(Body::new)
}

/// Copies bytes both ways until either side ends.
async fn splice(client: hyper::upgrade::OnUpgrade, owner: hyper::upgrade::OnUpgrade) {
    let (client, owner) = match tokio::try_join!(client, owner) {
        Ok(pair) => pair,
        Err(e) => {
            tracing::debug!(error = %e, "forwarded WebSocket upgrade failed");
            return;
        }
    };
    let (mut client, mut owner) = (TokioIo::new(client), TokioIo::new(owner));
    if let Err(e) = tokio::io::copy_bidirectional(&mut client, &mut owner).await {
        tracing::debug!(error = %e, "forwarded WebSocket ended");
    }
}

fn is_upgrade(req: &Request) -> bool {
    req.headers().get(UPGRADE).is_some_and(|v| !v.is_empty())
}

fn append_forwarded_for(headers: &mut HeaderMap, ip: IpAddr) {
    let name = "x-forwarded-for";
    let chain = match headers.get(name).and_then(|v| v.to_str().ok()) {
        Some(before) if !before.trim().is_empty() => format!("{before}, {ip}"),
        _ => ip.to_string(),
    };
    if let Ok(v) = HeaderValue::from_str(&chain) {
        headers.insert(name, v);
    }
}

fn unreachable(owner: &str, why: &str) -> Response {
    tracing::debug!(%owner, why, "cannot forward a channel request to the owner");
    ApiError::standby(format!(
        "channel state is served by another node ({owner}), which this node cannot reach to \
         forward the request: {why}"
    ))
    .into_response()
}
