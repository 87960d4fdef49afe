//! Reading request bodies within limits. The original limits each body type on its own (JSON and
//! text 100 KiB, raw 1000 KiB); `max_payload` caps all of them and is the most a request may
//! ever make the server hold.

use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use http_body_util::{BodyExt, Limited};
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
        BodyLimits { json: 100 * 1024, text: 100 * 1024, raw: 1000 * 1024, max_payload: 16 * 1024 * 1024 }
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
pub enum BodyError {
    TooLarge { limit: usize },
    Timeout,
    /// The connection broke mid-body; there is nobody left to answer.
    Broken,
}

pub async fn read(body: Body, declared_len: Option<u64>, limit: usize) -> Result<Bytes, BodyError> {
    if declared_len.is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge { limit });
    }
    match tokio::time::timeout(BODY_TIMEOUT, Limited::new(body, limit).collect()).await {
        Err(_) => Err(BodyError::Timeout),
        Ok(Ok(collected)) => Ok(collected.to_bytes()),
        Ok(Err(err)) if err.is::<http_body_util::LengthLimitError>() => Err(BodyError::TooLarge { limit }),
        Ok(Err(_)) => Err(BodyError::Broken),
    }
}
