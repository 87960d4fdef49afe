//! The Unix-socket side: where the instance listens, who may connect, how frames and
//! descriptors are read, and how `pass` descriptors are streamed. Everything received becomes an
//! [`Event`] for the instance; replies travel back through each connection's [`Conn`].

mod backlog;
mod conn;
mod listener;
mod pass;

pub use conn::Conn;
pub use listener::{bind, serve, Listener};
pub use pass::{spawn_pass, spawn_reader, PassTarget};
pub use relay_client::console::{login_name, resolve_address, run_dir};

use serde_json::{Map, Value};
use std::os::fd::OwnedFd;

/// Something the instance must apply, in arrival order.
#[derive(Debug)]
pub enum Event {
    /// A complete JSON object message, with the descriptor that came with its first bytes.
    Request {
        conn: Conn,
        request: Map<String, Value>,
        fd: Option<OwnedFd>,
    },
    /// A line for the instance's own console log (`z`).
    Log(String),
    /// Lines read by a pass (or from `relay run` output) for a step.
    Lines {
        step: String,
        lines: Vec<crate::text::lines::LogLine>,
    },
    /// A pass reached end of file (or failed); `reply_to` is `None` for run output.
    PassDone {
        step: String,
        reply_to: Option<(Conn, Map<String, Value>)>,
        error: Option<String>,
    },
    /// The client of connection `conn` is gone (after its last request).
    Closed { conn: u64 },
}
