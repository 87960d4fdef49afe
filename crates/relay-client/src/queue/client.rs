//! The HTTP client: one keep-alive connection pool per client, the v2 dialect on every request.

use std::time::Duration;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use relay_wire::queue::{format_json_time, is_hex, Field};
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, StatusCode};

use super::error::QueueError;
use super::message::{
    decode_body, decode_deleted, decode_list, Deleted, QueueMessage, SystemData, DIALECT,
};
use super::payload::Payload;

/// How long a request may take, connection included, unless the caller picks another limit.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Options of a push beyond destination and payload.
#[derive(Debug, Clone, Default)]
pub struct PushOptions {
    /// The type label (1 to 30 characters); the server uses the content type when it is absent.
    pub label: Option<String>,
    /// Deliver no earlier than this. A time already past is due at once.
    pub scheduled_at: Option<DateTime<Utc>>,
}

/// A queue-face client acting as one node.
///
/// It speaks the protocol's v2 dialect: the node's identity goes in `Scirocco-Node-Source`, a
/// push's destination in `Scirocco-Node-Destination`, its label in `Scirocco-Payload-Type`.
/// The v2 rules then apply to `/messages`: only the sender may update or delete a message, and
/// only while it is pending or scheduled.
#[derive(Debug, Clone)]
pub struct QueueClient {
    http: reqwest::Client,
    base: String,
    node: String,
    headers: HeaderMap,
    timeout: Duration,
}

impl QueueClient {
    /// `base_url` is the server's root, such as `http://127.0.0.1:7720`; `node` is this node's
    /// id (hexadecimal); `token` is the server's queue token.
    pub fn new(base_url: &str, node: &str, token: &str) -> Result<QueueClient, QueueError> {
        QueueClient::with_timeout(base_url, node, token, DEFAULT_TIMEOUT)
    }

    /// Like [`QueueClient::new`], with `timeout` instead of [`DEFAULT_TIMEOUT`] as the limit for
    /// each request.
    pub fn with_timeout(
        base_url: &str,
        node: &str,
        token: &str,
        timeout: Duration,
    ) -> Result<QueueClient, QueueError> {
        let base = normalise_base(base_url)?;
        let mut headers = HeaderMap::new();
        let mut auth = header_value("token", token)?;
        // Keeps the token out of `Debug` output and logs.
        auth.set_sensitive(true);
        headers.insert(AUTHORIZATION, auth);
        headers.insert(header_name(Field::Source), header_value("node", node)?);
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .tcp_nodelay(true)
            .build()
            .map_err(QueueError::Transport)?;
        Ok(QueueClient {
            http,
            base,
            node: node.to_owned(),
            headers,
            timeout,
        })
    }

    /// This node's id, as sent in `Scirocco-Node-Source`.
    pub fn node(&self) -> &str {
        &self.node
    }

    /// The server's root URL, without a trailing slash.
    pub fn base_url(&self) -> &str {
        &self.base
    }

    /// Pushes a payload to `destination`'s inbox as a pending message.
    pub async fn push(
        &self,
        destination: &str,
        payload: Payload,
    ) -> Result<QueueMessage, QueueError> {
        self.push_with(destination, payload, &PushOptions::default())
            .await
    }

    /// Pushes with a label and/or a delivery time. The answer echoes the payload as sent
    /// (bytes raw, not base64).
    pub async fn push_with(
        &self,
        destination: &str,
        payload: Payload,
        options: &PushOptions,
    ) -> Result<QueueMessage, QueueError> {
        let mut headers = HeaderMap::new();
        headers.insert(
            header_name(Field::Destination),
            header_value("destination", destination)?,
        );
        if let Some(label) = &options.label {
            headers.insert(header_name(Field::Label), header_value("label", label)?);
        }
        // The v2 client always says which status it wants.
        let status = match options.scheduled_at {
            Some(at) => {
                let when = format_json_time(at.timestamp_millis());
                headers.insert(
                    header_name(Field::ScheduledTime),
                    header_value("scheduled time", &when)?,
                );
                "scheduled"
            }
            None => "pending",
        };
        headers.insert(header_name(Field::Status), HeaderValue::from_static(status));
        let (status, resp_headers, body) = self
            .send(Method::POST, "/messageQueue", headers, Some(payload))
            .await?;
        expect(status, StatusCode::CREATED, &body)?;
        message(&resp_headers, body)
    }

    /// Takes the oldest due message addressed to this node and marks it `processing`.
    /// `None` when nothing is waiting.
    pub async fn pull(&self) -> Result<Option<QueueMessage>, QueueError> {
        let (status, headers, body) = self
            .send(Method::GET, "/messageQueue", HeaderMap::new(), None)
            .await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(None);
        }
        expect(status, StatusCode::OK, &body)?;
        message(&headers, body).map(Some)
    }

    /// Marks a pulled message `processed`. Only its destination can, and only once.
    pub async fn ack(&self, id: &str) -> Result<QueueMessage, QueueError> {
        let path = format!("/messageQueue/{}/ack", path_id(id)?);
        self.one(Method::PATCH, &path, None).await
    }

    /// Reads one message this node sent or received, in any status.
    pub async fn get(&self, id: &str) -> Result<QueueMessage, QueueError> {
        let path = format!("/messages/{}", path_id(id)?);
        self.one(Method::GET, &path, None).await
    }

    /// Lists the messages this node sent or received, oldest first. Without a limit the
    /// server caps the list at its maximum (100 by default).
    pub async fn get_all(&self, limit: Option<u32>) -> Result<Vec<QueueMessage>, QueueError> {
        let path = match limit {
            Some(n) => format!("/messages?limit={n}"),
            None => "/messages".to_owned(),
        };
        let (status, _, body) = self
            .send(Method::GET, &path, HeaderMap::new(), None)
            .await?;
        if status == StatusCode::NO_CONTENT {
            return Ok(Vec::new());
        }
        expect(status, StatusCode::OK, &body)?;
        decode_list(&body)
    }

    /// Replaces the payload of a message this node sent that is still pending or scheduled.
    pub async fn update(&self, id: &str, payload: Payload) -> Result<QueueMessage, QueueError> {
        let path = format!("/messages/{}", path_id(id)?);
        self.one(Method::PATCH, &path, Some(payload)).await
    }

    /// Deletes one message this node sent that is still pending or scheduled. `n` is 0 when
    /// there was no such message.
    pub async fn delete(&self, id: &str) -> Result<Deleted, QueueError> {
        let path = format!("/messages/{}", path_id(id)?);
        self.deleted(&path).await
    }

    /// Deletes every message this node sent that is still pending or scheduled.
    pub async fn delete_all(&self) -> Result<Deleted, QueueError> {
        self.deleted("/messages").await
    }

    /// The server's metrics in the Prometheus text format (`GET /_relay/metrics`), as
    /// `relay top` reads them.
    pub async fn metrics(&self) -> Result<String, QueueError> {
        let (status, _, body) = self
            .send(Method::GET, "/_relay/metrics", HeaderMap::new(), None)
            .await?;
        expect(status, StatusCode::OK, &body)?;
        Ok(String::from_utf8_lossy(&body).into_owned())
    }

    async fn deleted(&self, path: &str) -> Result<Deleted, QueueError> {
        let (status, _, body) = self
            .send(Method::DELETE, path, HeaderMap::new(), None)
            .await?;
        expect(status, StatusCode::OK, &body)?;
        decode_deleted(&body)
    }

    async fn one(
        &self,
        method: Method,
        path: &str,
        payload: Option<Payload>,
    ) -> Result<QueueMessage, QueueError> {
        let (status, headers, body) = self.send(method, path, HeaderMap::new(), payload).await?;
        expect(status, StatusCode::OK, &body)?;
        message(&headers, body)
    }

    async fn send(
        &self,
        method: Method,
        path: &str,
        extra: HeaderMap,
        payload: Option<Payload>,
    ) -> Result<(StatusCode, HeaderMap, Bytes), QueueError> {
        let mut request = self
            .http
            .request(method, format!("{}{}", self.base, path))
            .headers(self.headers.clone())
            .headers(extra);
        let mut body_len = 0;
        if let Some(payload) = payload {
            let content_type = payload.content_type();
            let bytes = payload.into_body();
            body_len = bytes.len();
            request = request.header(CONTENT_TYPE, content_type).body(bytes);
        }
        let response = request.send().await.map_err(|e| match self.transport(e) {
            QueueError::Transport(e) if body_len > 0 && cut_off(&e) => QueueError::UploadCut {
                bytes: body_len,
                source: e,
            },
            other => other,
        })?;
        let status = response.status();
        let headers = response.headers().clone();
        let body = response.bytes().await.map_err(|e| self.transport(e))?;
        Ok((status, headers, body))
    }

    fn transport(&self, e: reqwest::Error) -> QueueError {
        if e.is_timeout() {
            QueueError::Timeout(self.timeout)
        } else {
            QueueError::Transport(e)
        }
    }
}

/// The server closed the connection while the body was still being written. Servers do that
/// when they refuse a body by its size, before the client gets to read their 413.
fn cut_off(e: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<std::io::Error>() {
            return matches!(
                io.kind(),
                std::io::ErrorKind::BrokenPipe | std::io::ErrorKind::ConnectionReset
            );
        }
        source = err.source();
    }
    false
}

fn message(headers: &HeaderMap, body: Bytes) -> Result<QueueMessage, QueueError> {
    let system = SystemData::from_headers(headers)?;
    let content_type = headers.get(CONTENT_TYPE).and_then(|v| v.to_str().ok());
    let data = decode_body(content_type, body)?;
    Ok(QueueMessage { system, data })
}

fn expect(status: StatusCode, wanted: StatusCode, body: &[u8]) -> Result<(), QueueError> {
    if status == wanted {
        Ok(())
    } else {
        Err(QueueError::from_status(status.as_u16(), body))
    }
}

/// The dialect table is Title-Case, for servers; `from_bytes` accepts that and lowercases it.
fn header_name(field: Field) -> HeaderName {
    HeaderName::from_bytes(DIALECT.header(field).as_bytes())
        .expect("dialect header names are valid")
}

fn header_value(what: &'static str, value: &str) -> Result<HeaderValue, QueueError> {
    HeaderValue::from_str(value).map_err(|_| QueueError::InvalidHeaderValue {
        what,
        value: value.to_owned(),
    })
}

/// Ids go into the path, so anything but hex is refused here rather than sent.
fn path_id(id: &str) -> Result<&str, QueueError> {
    if is_hex(id) {
        Ok(id)
    } else {
        Err(QueueError::InvalidId(id.to_owned()))
    }
}

/// The clients join the base URL and the path with one slash; a trailing slash on the base
/// would make `//messageQueue`, which the original answers with 404.
fn normalise_base(url: &str) -> Result<String, QueueError> {
    let invalid = |reason: &str| QueueError::InvalidUrl {
        url: url.to_owned(),
        reason: reason.to_owned(),
    };
    let trimmed = url.trim().trim_end_matches('/');
    let rest = trimmed.strip_prefix("http://").ok_or_else(|| {
        invalid("only http:// URLs are supported (put TLS in a proxy in front of the server)")
    })?;
    if rest.is_empty() {
        return Err(invalid("no host"));
    }
    reqwest::Url::parse(trimmed).map_err(|e| invalid(&e.to_string()))?;
    Ok(trimmed.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_lose_trailing_slashes_and_need_http() {
        assert_eq!(
            normalise_base("http://127.0.0.1:7720/").unwrap(),
            "http://127.0.0.1:7720"
        );
        assert_eq!(
            normalise_base(" http://h:1/relay// ").unwrap(),
            "http://h:1/relay"
        );
        assert!(matches!(
            normalise_base("https://h"),
            Err(QueueError::InvalidUrl { .. })
        ));
        assert!(matches!(
            normalise_base("127.0.0.1:7720"),
            Err(QueueError::InvalidUrl { .. })
        ));
        assert!(matches!(
            normalise_base("http://"),
            Err(QueueError::InvalidUrl { .. })
        ));
    }

    #[test]
    fn ids_that_are_not_hex_never_reach_the_path() {
        assert_eq!(
            path_id("5823a70203c123003de4229b").unwrap(),
            "5823a70203c123003de4229b"
        );
        assert!(matches!(
            path_id("../globalDataSpace"),
            Err(QueueError::InvalidId(_))
        ));
        assert!(matches!(path_id(""), Err(QueueError::InvalidId(_))));
    }

    #[test]
    fn identity_and_token_are_sent_on_every_request() {
        let c = QueueClient::new("http://127.0.0.1:1", "af1", "secret").unwrap();
        assert_eq!(c.headers.get("Scirocco-Node-Source").unwrap(), "af1");
        assert_eq!(c.headers.get(AUTHORIZATION).unwrap(), "secret");
        assert!(
            !format!("{c:?}").contains("secret"),
            "the token must not show in Debug output"
        );
        assert!(matches!(
            QueueClient::new("http://127.0.0.1:1", "af1", "bad\ntoken"),
            Err(QueueError::InvalidHeaderValue { what: "token", .. })
        ));
    }

    #[tokio::test]
    async fn a_server_that_never_answers_is_a_timeout() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        // Accepts and reads, but never writes a response.
        let server = tokio::spawn(async move {
            let (mut conn, _) = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 4096];
            while tokio::io::AsyncReadExt::read(&mut conn, &mut buf)
                .await
                .is_ok_and(|n| n > 0)
            {}
        });
        let limit = Duration::from_millis(200);
        let c = QueueClient::with_timeout(&format!("http://{addr}"), "af1", "t", limit).unwrap();
        match c.pull().await {
            Err(QueueError::Timeout(d)) => assert_eq!(d, limit),
            other => panic!("{other:?}"),
        }
        server.abort();
    }

    #[tokio::test]
    async fn a_closed_port_is_a_transport_error() {
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            l.local_addr().unwrap().port()
        };
        let c = QueueClient::new(&format!("http://127.0.0.1:{port}"), "af1", "t").unwrap();
        assert!(matches!(c.pull().await, Err(QueueError::Transport(_))));
    }
}
