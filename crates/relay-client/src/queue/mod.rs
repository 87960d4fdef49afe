//! Client for the queue face (Scirocco-compatible HTTP).
//!
//! ```no_run
//! # async fn demo() -> Result<(), relay_client::queue::QueueError> {
//! use relay_client::queue::{Payload, QueueClient};
//! let sender = QueueClient::new("http://127.0.0.1:7720", "af1", "TOKEN")?;
//! let receiver = QueueClient::new("http://127.0.0.1:7720", "af2", "TOKEN")?;
//! sender.push("af2", Payload::from(serde_json::json!({"type": "message"}))).await?;
//! if let Some(msg) = receiver.pull().await? {
//!     println!("{:?}", msg.data);
//!     receiver.ack(&msg.system.id).await?;
//! }
//! # Ok(()) }
//! ```

mod client;
mod error;
mod message;
mod payload;

pub use client::{PushOptions, QueueClient, DEFAULT_TIMEOUT};
pub use error::QueueError;
pub use message::{Deleted, MessageData, QueueMessage, SystemData};
pub use payload::Payload;
pub use relay_wire::queue::Status;
