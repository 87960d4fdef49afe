//! The queue face's wire format (Scirocco-compatible): which header names and JSON keys each
//! client generation uses, how times are written and read, how request bodies become payloads,
//! and the shape of message ids.

mod dialect;
mod id;
mod payload;
mod status;
mod time;

pub use dialect::{Dialect, Field, HEADER_PREFIX};
pub use id::{is_hex, is_valid_node, MessageId, ParseIdError, MAX_NODE_LEN};
pub use payload::{parse_json_body, ContentKind, JsonBodyError, Payload};
pub use status::Status;
pub use time::{format_header_time, format_json_time, parse_scheduled_time};
