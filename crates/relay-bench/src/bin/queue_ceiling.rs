//! The bare-HTTP ceiling of the queue benchmark: a server on the same HTTP stack as Relay
//! (hyper, HTTP/1.1 keep-alive) that answers the cycle's three requests (push, pull, ack) with
//! Relay's status codes and a similar set of headers, keeping each node's ids in memory and
//! nothing else: no storage, no validation, no index. What Relay achieves against it, driven by
//! the same generator in the same run, says how close Relay is to what the HTTP round trips
//! alone allow on that machine.
//!
//! `scripts/bench-queue` starts it beside Relay and beanstalkd; it prints `listening on ADDR`.

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;

#[derive(Default)]
struct Queues {
    next: AtomicU64,
    /// Per destination node: ids and payloads waiting, oldest first.
    waiting: Mutex<HashMap<String, VecDeque<(String, Bytes)>>>,
}

fn main() -> anyhow::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:0".to_owned());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(&addr).await?;
        eprintln!("queue_ceiling: listening on {}", listener.local_addr()?);
        let queues = Arc::new(Queues::default());
        loop {
            let (tcp, _) = listener.accept().await?;
            let _ = tcp.set_nodelay(true);
            let queues = queues.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| {
                    let queues = queues.clone();
                    async move { Ok::<_, Infallible>(answer(&queues, req).await) }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tcp), service)
                    .await;
            });
        }
    })
}

fn header(req: &Request<Incoming>, name: &str) -> String {
    req.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned()
}

/// A response with the headers Relay's answers carry for a message, so both write about the
/// same bytes.
fn message(status: StatusCode, id: &str, node: &str, body: Bytes) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("Content-Type", "application/octet-stream")
        .header("Location", format!("/messages/{id}"))
        .header("Scirocco-Id", id)
        .header("Scirocco-Node-Source", node)
        .header("Scirocco-Node-Destination", node)
        .header("Scirocco-Status", "pending")
        .header(
            "Scirocco-Created-Time",
            "Mon Dec 07 2026 00:00:00 GMT+0000 (UTC)",
        )
        .header("Scirocco-Tries", "0")
        .body(Full::new(body))
        .expect("a valid response")
}

async fn answer(queues: &Queues, req: Request<Incoming>) -> Response<Full<Bytes>> {
    let node = header(&req, "Scirocco-Node-Source");
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    let segments: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
    match (method, segments.as_slice()) {
        (Method::POST, ["messageQueue"]) => {
            let to = header(&req, "Scirocco-Node-Destination");
            let body = match req.into_body().collect().await {
                Ok(b) => b.to_bytes(),
                Err(_) => return status(StatusCode::BAD_REQUEST),
            };
            let id = format!("{:024x}", queues.next.fetch_add(1, Ordering::Relaxed));
            let mut waiting = queues.waiting.lock().unwrap_or_else(|p| p.into_inner());
            waiting.entry(to).or_default().push_back((id.clone(), body));
            message(StatusCode::CREATED, &id, &node, Bytes::new())
        }
        (Method::GET, ["messageQueue"]) => {
            let next = queues
                .waiting
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get_mut(&node)
                .and_then(VecDeque::pop_front);
            match next {
                Some((id, body)) => message(StatusCode::OK, &id, &node, body),
                None => status(StatusCode::NO_CONTENT),
            }
        }
        (Method::PATCH, ["messageQueue", id, "ack"]) => {
            let id = id.to_string();
            message(StatusCode::OK, &id, &node, Bytes::new())
        }
        _ => status(StatusCode::NOT_FOUND),
    }
}

fn status(code: StatusCode) -> Response<Full<Bytes>> {
    Response::builder()
        .status(code)
        .body(Full::new(Bytes::new()))
        .expect("a valid response")
}
