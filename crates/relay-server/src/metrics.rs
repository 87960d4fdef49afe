//! What the server measures about its own traffic, recorded through the `metrics` facade: the
//! process that runs the server installs the recorder (Prometheus) and gives this module its
//! renderer, which `GET /_relay/metrics` answers with to holders of the queue token (`relay top`
//! reads it there). Without a recorder every call here is a no-op.

use std::sync::OnceLock;
use std::time::Instant;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::{Method, StatusCode};

use crate::queue::QueueFace;

/// The path of the authenticated snapshot, outside every face's own paths.
pub(crate) const SNAPSHOT_PATH: &str = "/_relay/metrics";

type Render = Box<dyn Fn() -> String + Send + Sync>;

static RENDER: OnceLock<Render> = OnceLock::new();

/// Gives the server the text exposition of the installed recorder, for `/_relay/metrics`.
/// Only the first call counts: there is one recorder per process.
pub fn set_renderer(render: impl Fn() -> String + Send + Sync + 'static) {
    let _ = RENDER.set(Box::new(render));
}

/// The label a response carries when its handler knows its route better than its path does.
#[derive(Clone, Copy)]
pub(crate) struct RouteName(pub(crate) &'static str);

/// Times every request by route (`relay_http_request_duration_seconds`).
pub(crate) async fn time_requests(req: Request, next: Next) -> Response {
    let fallback = route_of(req.method(), req.uri().path());
    let started = Instant::now();
    let resp = next.run(req).await;
    let route = resp
        .extensions()
        .get::<RouteName>()
        .map_or(fallback, |r| r.0);
    metrics::histogram!("relay_http_request_duration_seconds", "route" => route)
        .record(started.elapsed().as_secs_f64());
    resp
}

/// The route label of a request from its path alone (queue requests are named by their handler).
fn route_of(method: &Method, path: &str) -> &'static str {
    let first = path.trim_start_matches('/').split('/').next().unwrap_or("");
    match first {
        "ws" => "channel_socket",
        "auth" | "user" | "service" | "channel" | "character" => "channel_api",
        "file" => "channel_file",
        "app" => "page",
        "_relay" => "metrics",
        "" if method == Method::GET => "queue_root",
        _ => "queue_other",
    }
}

/// Counts a queue operation that did what it was asked (`relay_queue_messages_total`).
pub(crate) fn queue_op(op: &'static str) {
    metrics::counter!("relay_queue_messages_total", "op" => op).increment(1);
}

/// `GET /_relay/metrics`: the whole exposition, for the queue token only.
pub(crate) async fn snapshot(State(face): State<QueueFace>, req: Request) -> Response {
    if !crate::queue::authorized(&face.config.token, req.headers()) {
        return (StatusCode::FORBIDDEN, "Incorrect auth token.").into_response();
    }
    exposition()
}

/// Serves `GET /metrics`, the exposition without a token, on the operator's metrics listener
/// (`--metrics-listen`: bind it where only the scraper reaches), until the process ends.
pub async fn serve_exposition(listener: tokio::net::TcpListener) -> std::io::Result<()> {
    let app = axum::Router::new().route("/metrics", axum::routing::get(|| async { exposition() }));
    axum::serve(listener, app).await
}

fn exposition() -> Response {
    match RENDER.get() {
        Some(render) => (
            [(http::header::CONTENT_TYPE, "text/plain; version=0.0.4")],
            render(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "this server records no metrics").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_by_first_segment() {
        assert_eq!(route_of(&Method::GET, "/ws"), "channel_socket");
        assert_eq!(route_of(&Method::POST, "/auth/sign_in"), "channel_api");
        assert_eq!(route_of(&Method::GET, "/file/abc"), "channel_file");
        assert_eq!(route_of(&Method::GET, "/app/"), "page");
        assert_eq!(route_of(&Method::GET, "/"), "queue_root");
        assert_eq!(route_of(&Method::GET, "/nothing"), "queue_other");
    }
}
