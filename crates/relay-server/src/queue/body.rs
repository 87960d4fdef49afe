//! Reading request bodies within limits. The original limits each body type on its own (JSON and
//! text 100 KiB, raw 1000 KiB); `max_payload` caps all of them and is the most a request may
//! ever make the server hold.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::BodyExt;
use relay_wire::queue::ContentKind;

#[derive(Debug, Clone, Copy)]
pub struct BodyLimits {
    pub json: usize,
    pub text: usize,
    pub raw: usize,
    pub max_payload: usize,
}

impl Default for BodyLimits {
    fn default() -> Self {
        BodyLimits {
            json: 100 * 1024,
            text: 100 * 1024,
            raw: 1000 * 1024,
            max_payload: 16 * 1024 * 1024,
        }
    }
}

impl BodyLimits {
    pub fn for_kind(&self, kind: ContentKind) -> usize {
        let limit = match kind {
            ContentKind::Json => self.json,
            ContentKind::Text => self.text,
            ContentKind::Bytes => self.raw,
        };
        limit.min(self.max_payload)
    }
}

/// A client that stops sending mid-body is given up on after this long.
const BODY_TIMEOUT: Duration = Duration::from_secs(60);

#[derive(Debug)]
pub(super) enum BodyError {
    TooLarge {
        limit: usize,
    },
    Timeout,
    /// The connection broke mid-body; there is nobody left to answer.
    Broken,
}

pub(super) async fn read(
    body: Body,
    declared_len: Option<u64>,
    limit: usize,
    max_payload: usize,
) -> Result<Bytes, BodyError> {
    let refuse_after_drain = |body: Body| async move {
        // Reading what the client still sends before answering lets it see the 413: a client
        // that is still writing when the connection closes gets a broken pipe instead.
        let _ = tokio::time::timeout(BODY_TIMEOUT, drain(body, max_payload)).await;
        Err(BodyError::TooLarge { limit })
    };
    match declared_len {
        Some(n) if n > max_payload as u64 => return Err(BodyError::TooLarge { limit }),
        Some(n) if n > limit as u64 => return refuse_after_drain(body).await,
        _ => {}
    }
    let mut body = body;
    let mut out = bytes::BytesMut::new();
    let collect = async {
        while let Some(frame) = body.frame().await {
            let frame = frame.map_err(|_| BodyError::Broken)?;
            if let Ok(data) = frame.into_data() {
                if out.len() + data.len() > limit {
                    return Err(BodyError::TooLarge { limit });
                }
                out.extend_from_slice(&data);
            }
        }
        Ok(())
    };
    match tokio::time::timeout(BODY_TIMEOUT, collect).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(())) => Ok(out.freeze()),
        Ok(Err(BodyError::TooLarge { .. })) => refuse_after_drain(body).await,
        Ok(Err(err)) => Err(err),
    }
}

/// Reads and discards up to `up_to` more bytes of a body.
async fn drain(mut body: Body, up_to: usize) {
    let mut seen = 0usize;
    while let Some(Ok(frame)) = body.frame().await {
        if let Ok(data) = frame.into_data() {
            seen += data.len();
            if seen > up_to {
                return;
            }
        }
    }
}
