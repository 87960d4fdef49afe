//! Client -> server frames, built from typed payloads and checked the way the SDK's
//! `asserted_dataclass_asdict` checks them: a frame that would be refused (or crash a receiver)
//! is an error here, before anything is sent. `request_id` and `timestamp` are inputs so the
//! builders stay pure.

use serde::Serialize;
use serde_json::{json, Map, Value};

use super::inbound::ResumeFrom;
use super::types::{
    check_message_content, check_update_content, Button, CanvasItem, ChannelInfo, ClickArgument,
    MenuItem, MessageContent, StyleItem, UpdateKind,
};

/// Why a frame was not built.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{0}")]
pub struct RequestError(pub String);

fn nonempty(what: &str, v: &str) -> Result<(), RequestError> {
    if v.is_empty() {
        Err(RequestError(format!("{what} must not be empty")))
    } else {
        Ok(())
    }
}

fn value<T: Serialize>(v: &T) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

/// A `heartbeat`, which the server answers with a copy (and which keeps the socket alive).
pub fn heartbeat(request_id: &str) -> Value {
    json!({"type": "heartbeat", "request_id": request_id, "body": {}})
}

/// A `service_login` as the SDK sends it (`auth_origin` is always `cognito`); token and service id must not be empty.
pub fn service_login(
    request_id: &str,
    access_token: &str,
    service_id: &str,
) -> Result<Value, RequestError> {
    nonempty("access_token", access_token)?;
    nonempty("service_id", service_id)?;
    Ok(
        json!({"type": "service_login", "request_id": request_id, "auth_origin": "cognito", "access_token": access_token, "service_id": service_id}),
    )
}

/// A `user_login` as the SDK sends it; the token must not be empty.
pub fn user_login(request_id: &str, access_token: &str) -> Result<Value, RequestError> {
    nonempty("access_token", access_token)?;
    Ok(
        json!({"type": "user_login", "request_id": request_id, "auth_origin": "cognito", "access_token": access_token}),
    )
}

/// `join_channel`, `leave_channel` or `refresh`.
pub fn simple_action(
    request_id: &str,
    subtype: &str,
    channel_id: &str,
) -> Result<Value, RequestError> {
    nonempty("channel_id", channel_id)?;
    Ok(
        json!({"type": "action", "request_id": request_id, "body": {"subtype": subtype, "channel_id": channel_id, "context": {}}}),
    )
}

/// A click on `button_id`, submitted by the dialog's `bottom_button_id` (`confirm` without a dialog) with its values.
pub fn button_click(
    request_id: &str,
    channel_id: &str,
    button_id: &str,
    bottom_button_id: &str,
    arguments: &[ClickArgument],
) -> Result<Value, RequestError> {
    nonempty("channel_id", channel_id)?;
    nonempty("button_id", button_id)?;
    Ok(json!({"type": "action", "request_id": request_id, "body": {
        "subtype": "button_click", "button_id": button_id, "channel_id": channel_id,
        "arguments": arguments, "bottom_button_id": bottom_button_id, "context": {}}}))
}

/// A click on menu entry `menu_item_id` over the message `message_id` of the given subtype and content.
#[allow(clippy::too_many_arguments)]
pub fn menu_item_click(
    request_id: &str,
    channel_id: &str,
    menu_item_id: &str,
    message_id: &str,
    message_subtype: &str,
    message_content: &MessageContent,
    bottom_button_id: &str,
    arguments: &[ClickArgument],
) -> Result<Value, RequestError> {
    nonempty("channel_id", channel_id)?;
    nonempty("menu_item_id", menu_item_id)?;
    Ok(json!({"type": "action", "request_id": request_id, "body": {
        "subtype": "menu_item_click", "menu_item_id": menu_item_id, "channel_id": channel_id,
        "message_id": message_id, "message_subtype": message_subtype, "message_content": message_content,
        "arguments": arguments, "bottom_button_id": bottom_button_id, "context": {}}}))
}

/// A message from a user (`message_up`) or, with a sender, from a service (`message_down`).
pub fn message(
    request_id: &str,
    timestamp: i64,
    channel_id: &str,
    recipients: &str,
    subtype: &str,
    content: &MessageContent,
    sender: Option<&str>,
) -> Result<Value, RequestError> {
    nonempty("channel_id", channel_id)?;
    nonempty("recipients", recipients)?;
    nonempty("subtype", subtype)?;
    let content = value(content);
    check_message_content(&content).map_err(|e| RequestError(e.to_string()))?;
    let mut body = Map::new();
    body.insert("subtype".into(), subtype.into());
    body.insert("channel_id".into(), channel_id.into());
    body.insert("content".into(), content);
    body.insert("recipients".into(), recipients.into());
    body.insert("timestamp".into(), timestamp.into());
    body.insert("context".into(), json!({}));
    let kind = match sender {
        Some(s) => {
            body.insert("sender".into(), s.into());
            "message_down"
        }
        None => "message_up",
    };
    Ok(json!({"type": kind, "request_id": request_id, "body": Value::Object(body)}))
}

/// The typed content of one `update`.
#[derive(Debug, Clone, PartialEq)]
pub enum UpdateContent {
    /// A group id naming the ordered character list.
    Characters(String),
    /// The buttons above the input box, replacing the previous ones.
    Buttons(Vec<Button>),
    /// The right-click menu entries, replacing the previous ones.
    Menu(Vec<MenuItem>),
    /// Look-and-feel directives.
    Style(Vec<StyleItem>),
    /// The canvas cards, replacing the previous canvas.
    Canvas(Vec<CanvasItem>),
}

impl UpdateContent {
    /// The `subtype` this content is sent under.
    pub fn kind(&self) -> UpdateKind {
        match self {
            Self::Characters(_) => UpdateKind::Characters,
            Self::Buttons(_) => UpdateKind::Buttons,
            Self::Menu(_) => UpdateKind::Menu,
            Self::Style(_) => UpdateKind::Style,
            Self::Canvas(_) => UpdateKind::Canvas,
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Self::Characters(g) => json!({"characters": g}),
            Self::Buttons(v) => value(v),
            Self::Menu(v) => value(v),
            Self::Style(v) => value(v),
            Self::Canvas(v) => value(v),
        }
    }
}

/// An `update` of `content` for the members in `recipients` (with `group_id: "temp"` and `context`, as the SDK sends, except for characters).
pub fn update(
    request_id: &str,
    channel_id: &str,
    recipients: &str,
    content: &UpdateContent,
) -> Result<Value, RequestError> {
    nonempty("channel_id", channel_id)?;
    nonempty("recipients", recipients)?;
    let kind = content.kind();
    let c = content.to_value();
    check_update_content(kind, &c).map_err(|e| RequestError(e.to_string()))?;
    let mut body = Map::new();
    body.insert("subtype".into(), kind.as_str().into());
    body.insert("channel_id".into(), channel_id.into());
    body.insert("recipients".into(), recipients.into());
    body.insert("content".into(), c);
    if kind != UpdateKind::Characters {
        body.insert("group_id".into(), "temp".into());
        body.insert("context".into(), json!({}));
    }
    Ok(json!({"type": "update", "request_id": request_id, "body": Value::Object(body)}))
}

/// An `update_channel_info` frame: `subtype` and `channel_id` at top level, the info plus a `context` copy of description and type as the body.
pub fn channel_info(request_id: &str, info: &ChannelInfo) -> Result<Value, RequestError> {
    nonempty("channel_id", &info.channel_id)?;
    let mut body = value(info);
    if let Value::Object(m) = &mut body {
        m.insert("context".into(), json!({"channel_description": info.channel_description, "channel_type": info.channel_type}));
    }
    Ok(
        json!({"type": "update", "subtype": "channel_info", "channel_id": info.channel_id, "request_id": request_id, "body": body}),
    )
}

/// Relay extension: replay what was addressed to me in `channel_id` from `from` on.
pub fn resume(
    request_id: &str,
    channel_id: &str,
    epoch: Option<&str>,
    from: ResumeFrom,
) -> Result<Value, RequestError> {
    nonempty("channel_id", channel_id)?;
    let mut body = json!({"channel_id": channel_id});
    match from {
        ResumeFrom::After(last) => body["offset"] = last.into(),
        ResumeFrom::At(first) => body["from"] = first.into(),
        ResumeFrom::End => {}
    }
    if let Some(e) = epoch {
        body["epoch"] = e.into();
    }
    Ok(json!({"type": "resume", "request_id": request_id, "body": body}))
}

#[cfg(test)]
mod tests {
    use super::super::inbound::{parse, ClientMessage};
    use super::*;

    #[test]
    fn every_builder_round_trips_through_the_server_parser() {
        let frames = vec![
            heartbeat("r"),
            service_login("r", "t", "s").unwrap(),
            user_login("r", "t").unwrap(),
            simple_action("r", "join_channel", "c").unwrap(),
            button_click(
                "r",
                "c",
                "b",
                "confirm",
                &[ClickArgument {
                    label: "n".into(),
                    value: "2".into(),
                    filename: None,
                }],
            )
            .unwrap(),
            menu_item_click(
                "r",
                "c",
                "m",
                "mid",
                "text",
                &MessageContent::text("x"),
                "confirm",
                &[],
            )
            .unwrap(),
            message(
                "r",
                1,
                "c",
                "service",
                "text",
                &MessageContent::text("hi"),
                None,
            )
            .unwrap(),
            message(
                "r",
                1,
                "c",
                "g",
                "text",
                &MessageContent::text("hi"),
                Some("agent"),
            )
            .unwrap(),
            update(
                "r",
                "c",
                "g",
                &UpdateContent::Buttons(vec![Button {
                    button_id: "b".into(),
                    button_text: "B".into(),
                    dialog: None,
                }]),
            )
            .unwrap(),
            update("r", "c", "g", &UpdateContent::Characters("cg".into())).unwrap(),
            update(
                "r",
                "c",
                "g",
                &UpdateContent::Canvas(vec![CanvasItem {
                    text: Some("t".into()),
                    path: None,
                }]),
            )
            .unwrap(),
            channel_info(
                "r",
                &ChannelInfo {
                    channel_id: "c".into(),
                    channel_name: "n".into(),
                    channel_description: "d".into(),
                    channel_type: "ccs".into(),
                },
            )
            .unwrap(),
            resume("r", "c", Some("e"), ResumeFrom::After(3)).unwrap(),
            resume("r", "c", None, ResumeFrom::At(0)).unwrap(),
            resume("r", "c", None, ResumeFrom::End).unwrap(),
        ];
        for f in frames {
            let parsed = parse(&f.to_string()).unwrap_or_else(|e| panic!("{f}: {e}"));
            assert_eq!(parsed.request_id, "r");
            if let ClientMessage::ButtonClick { arguments, .. } = parsed.message {
                assert_eq!(arguments.len(), 1);
            }
        }
    }

    #[test]
    fn empty_ids_are_refused_before_sending() {
        assert!(user_login("r", "").is_err());
        assert!(message("r", 1, "c", "", "text", &MessageContent::text("x"), None).is_err());
        assert!(update("", "", "g", &UpdateContent::Canvas(vec![])).is_err());
    }
}
