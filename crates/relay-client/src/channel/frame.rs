use serde_json::Value;

/// One frame received from the server.
#[derive(Debug, Clone, PartialEq)]
pub struct ServerFrame {
    /// `copy`, `message_down`, `message_up`, `update`, `action`, …
    pub kind: String,
    /// The frame's `body` key (`Null` if absent).
    pub body: Value,
    /// The channel log position of a message (Relay extension).
    pub offset: Option<u64>,
    /// The `epoch` key of the channel log the offset belongs to; `None` if absent.
    pub epoch: Option<String>,
    /// The whole frame as received.
    pub raw: Value,
}

impl ServerFrame {
    /// Parses a text frame; `None` if it is not a JSON object with a string `type`.
    pub fn parse(text: &str) -> Option<Self> {
        let raw: Value = serde_json::from_str(text).ok()?;
        let kind = raw.get("type")?.as_str()?.to_owned();
        Some(Self {
            kind,
            body: raw.get("body").cloned().unwrap_or(Value::Null),
            offset: raw.get("offset").and_then(Value::as_u64),
            epoch: raw.get("epoch").and_then(Value::as_str).map(str::to_owned),
            raw,
        })
    }

    /// For a `copy`: the acknowledged request id and whether it was accepted.
    pub fn ack(&self) -> Option<(&str, bool)> {
        if self.kind != "copy" {
            return None;
        }
        Some((
            self.body.get("request_id")?.as_str()?,
            self.body.get("status")?.as_bool()?,
        ))
    }

    /// The `subtype` of the body, if any.
    pub fn subtype(&self) -> Option<&str> {
        self.body.get("subtype").and_then(Value::as_str)
    }
}
