//! Server -> client frames. Body key sets are exact: the SDK's strict dataclasses drop a frame
//! with an unexpected body key, so nothing here adds "helpful" extras inside `body`. Relay's
//! own additions (`offset`, `epoch`) live at top level, which the SDK ignores.

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::types::{ChannelInfo, ClickArgument, UpdateKind};

/// A channel message as stored and delivered: exactly the eight `message_down` body keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MessageBody {
    /// `text`, `image`, `audio`, `file` or `card`.
    pub subtype: String,
    /// The channel the message was sent in.
    pub channel_id: String,
    /// The MessageContent object as accepted (null-valued keys removed).
    pub content: Value,
    /// The group id the sender addressed (or `service`), as it sent it.
    pub recipients: String,
    /// When the server accepted the message, in milliseconds since the Unix epoch.
    pub timestamp: i64,
    /// The sender's `context` object, `{}` when it gave none.
    pub context: Value,
    /// The user the socket is logged in as, or the character a service spoke as.
    pub sender: String,
    /// The id the server assigned, by which history and menu clicks name the message.
    pub message_id: String,
}

/// Where a message sits in its channel's log (Relay extension for resume).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Position<'a> {
    /// Identifies one life of the channel store: offsets of another epoch mean nothing here.
    pub epoch: &'a str,
    /// The message's place in its channel's log; each accepted message gets the next one.
    pub offset: u64,
}

fn to_text(v: Value) -> String {
    // Serialising a Value built from strings, numbers and maps cannot fail.
    serde_json::to_string(&v).unwrap_or_default()
}

/// The acknowledgement of an inbound frame.
pub fn copy(
    acked_request_id: &str,
    origin_type: &str,
    status: bool,
    message: Option<&str>,
) -> String {
    let mut context = Map::new();
    if let Some(m) = message {
        context.insert("message".into(), Value::String(m.to_owned()));
    }
    copy_with_context(acked_request_id, origin_type, status, context)
}

/// A copy whose `context` carries structured detail (e.g. a resume's outcome).
pub fn copy_with_context(
    acked_request_id: &str,
    origin_type: &str,
    status: bool,
    context: Map<String, Value>,
) -> String {
    to_text(json!({
        "type": "copy",
        "body": {
            "request_id": acked_request_id,
            "origin_type": origin_type,
            "status": status,
            "context": Value::Object(context),
        }
    }))
}

/// `join`, `leave` or `refresh` as a service receives it.
pub fn simple_action(request_id: &str, subtype: &str, channel_id: &str, sender: &str) -> String {
    to_text(json!({
        "type": "action",
        "request_id": request_id,
        "body": {"subtype": subtype, "channel_id": channel_id, "context": {}, "sender": sender}
    }))
}

/// A `button_click` action as the service bound to the channel receives it; `bottom_button_id` defaults to `confirm`.
pub fn button_click(
    request_id: &str,
    channel_id: &str,
    button_id: &str,
    bottom_button_id: Option<&str>,
    arguments: &[ClickArgument],
    sender: &str,
) -> String {
    to_text(json!({
        "type": "action",
        "request_id": request_id,
        "body": {
            "subtype": "button_click",
            "button_id": button_id,
            "channel_id": channel_id,
            "arguments": arguments,
            "bottom_button_id": bottom_button_id.unwrap_or("confirm"),
            "context": {},
            "sender": sender,
        }
    }))
}

/// A `menu_item_click` action as the service receives it; `bottom_button_id` defaults to `confirm`.
#[allow(clippy::too_many_arguments)]
pub fn menu_item_click(
    request_id: &str,
    channel_id: &str,
    menu_item_id: &str,
    message_id: Option<&str>,
    message_subtype: &str,
    message_content: &Value,
    arguments: &[ClickArgument],
    bottom_button_id: Option<&str>,
    sender: &str,
) -> String {
    to_text(json!({
        "type": "action",
        "request_id": request_id,
        "body": {
            "subtype": "menu_item_click",
            "menu_item_id": menu_item_id,
            "channel_id": channel_id,
            "message_id": message_id,
            "message_subtype": message_subtype,
            "message_content": message_content,
            "arguments": arguments,
            "bottom_button_id": bottom_button_id.unwrap_or("confirm"),
            "context": {},
            "sender": sender,
        }
    }))
}

/// A `message_up` (to the service) or `message_down` (to users). Serialised straight from the
/// body (no intermediate `Value`): this runs once per message on the fan-out path. There is no
/// top-level `request_id`: the protocol makes it optional (section 5.1), the SDK does not read
/// it on these frames, and it would be a fresh id repeated in every recipient's copy.
pub fn message(
    kind: &str,
    service_id: Option<&str>,
    body: &MessageBody,
    pos: Option<Position<'_>>,
) -> String {
    #[derive(Serialize)]
    struct Frame<'a> {
        #[serde(rename = "type")]
        kind: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        service_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        epoch: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        offset: Option<u64>,
        body: &'a MessageBody,
    }
    let frame = Frame {
        kind,
        service_id,
        epoch: pos.map(|p| p.epoch),
        offset: pos.map(|p| p.offset),
        body,
    };
    serde_json::to_string(&frame).unwrap_or_default()
}

/// A UI update (`characters`, `buttons`, `menu`, `style`, `canvas`) as a user receives it.
pub fn update(
    request_id: &str,
    service_id: Option<&str>,
    kind: UpdateKind,
    channel_id: &str,
    recipients: &str,
    content: &Value,
    group_id: Option<&str>,
) -> String {
    let mut body = Map::new();
    body.insert("subtype".into(), kind.as_str().into());
    body.insert("channel_id".into(), channel_id.into());
    body.insert("recipients".into(), recipients.into());
    body.insert("content".into(), content.clone());
    if let (Some(g), false) = (group_id, kind == UpdateKind::Characters) {
        body.insert("group_id".into(), g.into());
    }
    body.insert("context".into(), json!({}));
    let mut top = Map::new();
    top.insert("type".into(), "update".into());
    top.insert("request_id".into(), request_id.into());
    if let Some(s) = service_id {
        top.insert("service_id".into(), s.into());
    }
    top.insert("body".into(), Value::Object(body));
    to_text(Value::Object(top))
}

/// A channel-wide channel info push.
pub fn channel_info(request_id: &str, info: &ChannelInfo) -> String {
    to_text(json!({
        "type": "update",
        "request_id": request_id,
        "body": {
            "subtype": "channel_info",
            "channel_id": info.channel_id,
            "content": info,
            "context": {},
        }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys(v: &Value) -> Vec<String> {
        let mut k: Vec<String> = v.as_object().unwrap().keys().cloned().collect();
        k.sort();
        k
    }

    #[test]
    fn copy_body_has_exactly_four_keys() {
        let v: Value = serde_json::from_str(&copy("r", "heartbeat", true, None)).unwrap();
        assert_eq!(
            keys(&v["body"]),
            ["context", "origin_type", "request_id", "status"]
        );
        assert!(v.get("message").is_none());
    }

    #[test]
    fn message_down_body_has_exactly_eight_keys() {
        let b = MessageBody {
            subtype: "text".into(),
            channel_id: "c".into(),
            content: json!({"text": "x"}),
            recipients: "g".into(),
            timestamp: 1,
            context: json!({}),
            sender: "a".into(),
            message_id: "m".into(),
        };
        let v: Value = serde_json::from_str(&message(
            "message_down",
            Some("s"),
            &b,
            Some(Position {
                epoch: "e",
                offset: 7,
            }),
        ))
        .unwrap();
        assert_eq!(
            keys(&v["body"]),
            [
                "channel_id",
                "content",
                "context",
                "message_id",
                "recipients",
                "sender",
                "subtype",
                "timestamp"
            ]
        );
        assert_eq!(v["offset"], 7);
        assert!(v.get("request_id").is_none());
    }

    #[test]
    fn characters_update_has_no_group_id() {
        let v: Value = serde_json::from_str(&update(
            "r",
            Some("s"),
            UpdateKind::Characters,
            "c",
            "g",
            &json!({"characters": "cg"}),
            Some("temp"),
        ))
        .unwrap();
        assert_eq!(
            keys(&v["body"]),
            ["channel_id", "content", "context", "recipients", "subtype"]
        );
        let v: Value = serde_json::from_str(&update(
            "r",
            Some("s"),
            UpdateKind::Buttons,
            "c",
            "g",
            &json!([]),
            Some("temp"),
        ))
        .unwrap();
        assert_eq!(v["body"]["group_id"], "temp");
    }
}
