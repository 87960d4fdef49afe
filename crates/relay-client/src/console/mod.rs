//! Step console client: the Rust counterpart of `moulti.client` (connect, send a JSON message
//! with optional descriptors, receive a JSON message, and a one-shot send).

mod address;
mod connection;
mod error;

pub use address::{login_name, resolve_address, run_dir};
pub use connection::{
    connect, connect_to, recv_json_message, send_json_message, send_to_console, Connection,
};
pub use error::ConsoleClientError;
