//! An outbox that keeps every frame the hub queues for its connection.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

use relay_channels::{Outbox, PushError};
use relay_wire::websocket::Frame;
use serde_json::Value;

#[derive(Default)]
pub(crate) struct Recorder {
    frames: Mutex<Vec<Value>>,
    pub(crate) flushes: AtomicUsize,
    /// Frames it takes before it reports itself full (0 = no limit).
    cap: usize,
    due: Mutex<bool>,
}

impl Outbox for Recorder {
    fn push(&self, frame: &Frame) -> Result<bool, PushError> {
        let mut frames = self.frames.lock().unwrap();
        if self.cap > 0 && frames.len() >= self.cap {
            return Err(PushError::Full(self.cap));
        }
        frames.push(serde_json::from_slice(frame.payload()).unwrap());
        let mut due = self.due.lock().unwrap();
        Ok(!std::mem::replace(&mut *due, true))
    }

    fn flush(&self) {
        *self.due.lock().unwrap() = false;
        self.flushes.fetch_add(1, Ordering::Relaxed);
    }

    fn close_after(&self, _code: u16, _reason: &str, _after: Duration) {}
}

impl Recorder {
    /// One that reports itself full once it holds `cap` frames.
    pub(crate) fn with_cap(cap: usize) -> Recorder {
        Recorder {
            cap,
            ..Recorder::default()
        }
    }

    /// Every frame so far, oldest first.
    pub(crate) fn frames(&self) -> Vec<Value> {
        self.frames.lock().unwrap().clone()
    }

    /// The texts of the `message_down` frames received.
    pub(crate) fn messages(&self) -> Vec<String> {
        self.frames()
            .iter()
            .filter(|f| f["type"] == "message_down")
            .map(|f| f["body"]["content"]["text"].as_str().unwrap().to_owned())
            .collect()
    }

    /// The offsets of the `message_down` frames received.
    pub(crate) fn offsets(&self) -> Vec<u64> {
        self.frames()
            .iter()
            .filter(|f| f["type"] == "message_down")
            .map(|f| f["offset"].as_u64().unwrap())
            .collect()
    }

    /// The status of each `copy` received.
    pub(crate) fn copies(&self) -> Vec<bool> {
        self.frames()
            .iter()
            .filter(|f| f["type"] == "copy")
            .map(|f| f["body"]["status"].as_bool().unwrap())
            .collect()
    }

    /// The last `copy` received.
    pub(crate) fn last_copy(&self) -> Value {
        self.frames()
            .into_iter()
            .rev()
            .find(|f| f["type"] == "copy")
            .expect("a copy")
    }
}
