//! Client -> server frames. The parser trusts nothing: identity fields (`user_id`,
//! `service_id` at top level) are not even read, because the sender of a frame is whoever the
//! socket logged in as.

use serde_json::{Map, Value};

use super::types::{
    check_message_content, check_update_content, ChannelInfo, ClickArgument, UpdateKind,
};

/// A parsed client frame.
#[derive(Debug, Clone, PartialEq)]
pub struct Inbound {
    /// The client's `request_id` (echoed in the `copy`); empty if the client sent none.
    pub request_id: String,
    /// The top-level `type`, echoed as the copy's `origin_type`.
    pub origin_type: String,
    /// What the frame asks for, with its fields checked.
    pub message: ClientMessage,
}

/// Legacy `fetch_*` actions answered from the UI state cache.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fetch {
    /// `fetch_characters`, `fetch_buttons`, `fetch_menu` (or `fetch_context_menu`), `fetch_style`, `fetch_canvas`.
    Kind(UpdateKind),
    /// `fetch_channel_info`.
    ChannelInfo,
}

/// One client frame by its `type` (and, for `action`, its `body.subtype`), reduced to what the server acts on.
#[derive(Debug, Clone, PartialEq)]
pub enum ClientMessage {
    /// `heartbeat`: keeps the socket alive; answered with a copy only.
    Heartbeat,
    /// `service_login`: binds the socket to a service, for every later frame on it.
    ServiceLogin {
        /// The top-level `access_token` the service signed in with.
        access_token: String,
        /// The top-level `service_id` the socket acts as.
        service_id: String,
    },
    /// `user_login`: binds the socket to the user the token belongs to.
    UserLogin {
        /// The top-level `access_token`.
        access_token: String,
    },
    /// `action` with subtype `join_channel` (or `join`): become a member.
    Join {
        /// The channel to join.
        channel_id: String,
    },
    /// `action` with subtype `leave_channel` (or `leave`): stop being a member.
    Leave {
        /// The channel to leave.
        channel_id: String,
    },
    /// `refresh`, or `action` with subtype `refresh`: ask the service (and the UI cache) to resend the channel's state.
    Refresh {
        /// The channel whose state is wanted.
        channel_id: String,
    },
    /// Legacy `action` subtypes `fetch_*`, answered from the UI state cache instead of the service.
    Fetch {
        /// The channel whose cached state is wanted.
        channel_id: String,
        /// Which part of the state.
        what: Fetch,
    },
    /// `action` with subtype `button_click` (or the legacy top-level `button_click` type).
    ButtonClick {
        /// The channel the button is in.
        channel_id: String,
        /// The clicked [`Button::button_id`](super::types::Button::button_id).
        button_id: String,
        /// The dialog footer button that submitted the click; `None` when the frame has none (forwarded as `confirm`).
        bottom_button_id: Option<String>,
        /// The dialog's values, flattened one level by [`normalise_arguments`].
        arguments: Vec<ClickArgument>,
    },
    /// `action` with subtype `menu_item_click` (or `menu_click`): a right-click menu entry was chosen.
    MenuItemClick {
        /// The channel of the message clicked on.
        channel_id: String,
        /// The chosen [`MenuItem::menu_item_id`](super::types::MenuItem::menu_item_id).
        menu_item_id: String,
        /// The message clicked on, when the client named it.
        message_id: Option<String>,
        /// That message's subtype; `<unknown>` when the client did not say.
        message_subtype: String,
        /// That message's content as the client sent it (MessageContent keys only, nulls removed); `{}` when absent.
        message_content: Value,
        /// The dialog footer button that submitted the click; `None` when the frame has none.
        bottom_button_id: Option<String>,
        /// The dialog's values, flattened one level by [`normalise_arguments`].
        arguments: Vec<ClickArgument>,
    },
    /// `message_up`: a user's message to the channel's service.
    MessageUp {
        /// The channel the message is in.
        channel_id: String,
        /// `text`, `image`, `audio`, `file` or `card` (not checked: the service decides).
        subtype: String,
        /// The MessageContent object, with null-valued keys removed.
        content: Value,
        /// A user group id, or `service` for the service alone.
        recipients: String,
        /// `body.context` when it is an object, else `{}`.
        context: Value,
    },
    /// `message_down`: a service's message to the members in a group.
    MessageDown {
        /// The channel the message is in.
        channel_id: String,
        /// `text`, `image`, `audio`, `file` or `card`.
        subtype: String,
        /// The MessageContent object, with null-valued keys removed.
        content: Value,
        /// The service group id whose current members receive it.
        recipients: String,
        /// Whom the message is shown as from; `no_sender` when `body.sender` is empty or absent.
        sender: String,
        /// `body.context` when it is an object, else `{}`.
        context: Value,
    },
    /// `update` with one of the UI subtypes: per-recipient state a service pushes.
    Update {
        /// The channel the state belongs to.
        channel_id: String,
        /// Which part of the UI `content` replaces.
        kind: UpdateKind,
        /// The service group id whose current members get the state.
        recipients: String,
        /// The state, already checked against the shape of `kind`.
        content: Value,
        /// `body.group_id` (the SDK always sends `temp`), echoed on delivery except for characters.
        group_id: Option<String>,
    },
    /// `update` with subtype `channel_info` (top level or in the body): a service renames or re-describes its channel.
    ChannelInfo(ChannelInfo),
    /// Relay extension: replay the channel messages addressed to me from a point of the log.
    Resume {
        /// The channel to replay.
        channel_id: String,
        /// The log epoch the client's offset came from; `None` when it has none yet.
        epoch: Option<String>,
        /// Where the replay starts.
        from: ResumeFrom,
    },
}

/// Where a `resume` starts (Relay extension).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResumeFrom {
    /// After the last offset the client saw (`body.offset`).
    After(u64),
    /// At this offset (`body.from`): for a client that learnt where the log ended when it
    /// started and has seen nothing since.
    At(u64),
    /// Neither given: replay nothing, only say where the log ends (the copy's `next_offset`).
    End,
}

impl ResumeFrom {
    /// The first offset wanted; `None` for [`ResumeFrom::End`].
    pub fn first_wanted(self) -> Option<u64> {
        match self {
            ResumeFrom::After(offset) => Some(offset.saturating_add(1)),
            ResumeFrom::At(offset) => Some(offset),
            ResumeFrom::End => None,
        }
    }
}

/// Why a frame was refused, with what is known of it for the failed `copy`.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{reason}")]
pub struct FrameError {
    /// The frame's `request_id`, when it could be read before the error.
    pub request_id: Option<String>,
    /// The frame's `type`, when it could be read before the error.
    pub origin_type: Option<String>,
    /// What was wrong, sent back in the failed copy's `context.message`.
    pub reason: String,
}

struct Ctx {
    request_id: Option<String>,
    origin_type: Option<String>,
}

impl Ctx {
    fn err(&self, reason: impl Into<String>) -> FrameError {
        FrameError {
            request_id: self.request_id.clone(),
            origin_type: self.origin_type.clone(),
            reason: reason.into(),
        }
    }
}

fn string(
    ctx: &Ctx,
    obj: &Map<String, Value>,
    key: &str,
    where_: &str,
) -> Result<String, FrameError> {
    match obj.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ctx.err(format!("{where_}{key} must be a string"))),
        None => Err(ctx.err(format!("missing {where_}{key}"))),
    }
}

fn opt_string(obj: &Map<String, Value>, key: &str) -> Option<String> {
    obj.get(key).and_then(Value::as_str).map(str::to_owned)
}

/// The SDK wraps click arguments in an extra list (`[]` becomes `[[]]`); services crash on
/// nested lists, so flatten one level and keep only well-formed argument objects.
pub fn normalise_arguments(raw: Option<&Value>) -> Vec<ClickArgument> {
    let mut out = Vec::new();
    let mut take = |v: &Value| {
        let Some(o) = v.as_object() else { return };
        let label = o
            .get("label")
            .or_else(|| o.get("name"))
            .and_then(Value::as_str);
        let value = match o.get("value") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Number(n)) => Some(n.to_string()),
            Some(Value::Bool(b)) => Some(b.to_string()),
            _ => None,
        };
        if let (Some(label), Some(value)) = (label, value) {
            let filename = o.get("filename").and_then(Value::as_str).map(str::to_owned);
            out.push(ClickArgument {
                label: label.to_owned(),
                value,
                filename,
            });
        }
    };
    if let Some(Value::Array(items)) = raw {
        for item in items {
            match item {
                Value::Array(inner) => inner.iter().for_each(&mut take),
                other => take(other),
            }
        }
    }
    out
}

fn context(body: &Map<String, Value>) -> Value {
    match body.get("context") {
        Some(v @ Value::Object(_)) => v.clone(),
        _ => Value::Object(Map::new()),
    }
}

/// Parses one text frame.
pub fn parse(text: &str) -> Result<Inbound, FrameError> {
    let mut ctx = Ctx {
        request_id: None,
        origin_type: None,
    };
    let value: Value =
        serde_json::from_str(text).map_err(|e| ctx.err(format!("frame is not JSON: {e}")))?;
    let Value::Object(top) = value else {
        return Err(ctx.err("frame must be a JSON object"));
    };
    ctx.request_id = opt_string(&top, "request_id");
    let kind = match top.get("type") {
        Some(Value::String(s)) => s.clone(),
        _ => return Err(ctx.err("missing string field type")),
    };
    ctx.origin_type = Some(kind.clone());
    let empty = Map::new();
    let body = match top.get("body") {
        Some(Value::Object(b)) => b,
        Some(_) => return Err(ctx.err("body must be an object")),
        None => &empty,
    };
    let need_body = || {
        if top.contains_key("body") {
            Ok(())
        } else {
            Err(ctx.err("missing body"))
        }
    };
    let message = match kind.as_str() {
        "heartbeat" => ClientMessage::Heartbeat,
        "service_login" => ClientMessage::ServiceLogin {
            access_token: string(&ctx, &top, "access_token", "")?,
            service_id: string(&ctx, &top, "service_id", "")?,
        },
        "user_login" => ClientMessage::UserLogin {
            access_token: string(&ctx, &top, "access_token", "")?,
        },
        "action" => {
            need_body()?;
            parse_action(&ctx, body)?
        }
        "button_click" | "menu_click" => {
            need_body()?;
            parse_action(&ctx, body)?
        }
        "refresh" => {
            need_body()?;
            ClientMessage::Refresh {
                channel_id: string(&ctx, body, "channel_id", "body.")?,
            }
        }
        "message_up" | "message_down" => {
            need_body()?;
            let channel_id = string(&ctx, body, "channel_id", "body.")?;
            let subtype = string(&ctx, body, "subtype", "body.")?;
            let recipients = string(&ctx, body, "recipients", "body.")?;
            let content = body
                .get("content")
                .cloned()
                .ok_or_else(|| ctx.err("missing body.content"))?;
            check_message_content(&content).map_err(|e| ctx.err(e.to_string()))?;
            let content = strip_nulls(content);
            if kind == "message_up" {
                ClientMessage::MessageUp {
                    channel_id,
                    subtype,
                    content,
                    recipients,
                    context: context(body),
                }
            } else {
                let sender = match body.get("sender") {
                    Some(Value::String(s)) if !s.is_empty() => s.clone(),
                    None | Some(Value::Null) => "no_sender".to_owned(),
                    Some(Value::String(_)) => "no_sender".to_owned(),
                    Some(_) => return Err(ctx.err("body.sender must be a string")),
                };
                ClientMessage::MessageDown {
                    channel_id,
                    subtype,
                    content,
                    recipients,
                    sender,
                    context: context(body),
                }
            }
        }
        "update" => parse_update(&ctx, &top, body)?,
        "resume" => {
            need_body()?;
            let offset = |key: &str| match body.get(key) {
                None => Ok(None),
                Some(v) => v
                    .as_u64()
                    .map(Some)
                    .ok_or_else(|| ctx.err(format!("body.{key} must be a non-negative integer"))),
            };
            let from = match (offset("offset")?, offset("from")?) {
                (Some(_), Some(_)) => return Err(ctx.err("give body.offset (the last offset seen) or body.from (the first wanted), not both")),
                (Some(last), None) => ResumeFrom::After(last),
                (None, Some(first)) => ResumeFrom::At(first),
                (None, None) => ResumeFrom::End,
            };
            ClientMessage::Resume {
                channel_id: string(&ctx, body, "channel_id", "body.")?,
                epoch: opt_string(body, "epoch"),
                from,
            }
        }
        other => return Err(ctx.err(format!("unknown message type {other:?}"))),
    };
    Ok(Inbound {
        request_id: ctx.request_id.unwrap_or_default(),
        origin_type: kind,
        message,
    })
}

fn strip_nulls(content: Value) -> Value {
    match content {
        Value::Object(m) => Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect()),
        other => other,
    }
}

fn parse_action(ctx: &Ctx, body: &Map<String, Value>) -> Result<ClientMessage, FrameError> {
    let subtype = string(ctx, body, "subtype", "body.")?;
    let channel_id = string(ctx, body, "channel_id", "body.")?;
    Ok(match subtype.as_str() {
        "join_channel" | "join" => ClientMessage::Join { channel_id },
        "leave_channel" | "leave" => ClientMessage::Leave { channel_id },
        "refresh" => ClientMessage::Refresh { channel_id },
        "button_click" => ClientMessage::ButtonClick {
            channel_id,
            button_id: string(ctx, body, "button_id", "body.")?,
            bottom_button_id: opt_string(body, "bottom_button_id"),
            arguments: normalise_arguments(body.get("arguments")),
        },
        "menu_item_click" | "menu_click" => {
            let content = match body.get("message_content") {
                Some(Value::Object(m)) => Value::Object(m.clone()),
                _ => Value::Object(Map::new()),
            };
            check_message_content(&content).map_err(|e| ctx.err(format!("message_{e}")))?;
            ClientMessage::MenuItemClick {
                channel_id,
                menu_item_id: string(ctx, body, "menu_item_id", "body.")?,
                message_id: opt_string(body, "message_id"),
                message_subtype: opt_string(body, "message_subtype")
                    .unwrap_or_else(|| "<unknown>".into()),
                message_content: strip_nulls(content),
                bottom_button_id: opt_string(body, "bottom_button_id"),
                arguments: normalise_arguments(body.get("arguments")),
            }
        }
        s if s.starts_with("fetch_") => {
            let what = match &s["fetch_".len()..] {
                "channel_info" => Fetch::ChannelInfo,
                rest => Fetch::Kind(
                    UpdateKind::parse(rest)
                        .ok_or_else(|| ctx.err(format!("unknown action subtype {s:?}")))?,
                ),
            };
            ClientMessage::Fetch { channel_id, what }
        }
        other => return Err(ctx.err(format!("unknown action subtype {other:?}"))),
    })
}

fn parse_update(
    ctx: &Ctx,
    top: &Map<String, Value>,
    body: &Map<String, Value>,
) -> Result<ClientMessage, FrameError> {
    if top.get("subtype").and_then(Value::as_str) == Some("channel_info") {
        let info: ChannelInfo = serde_json::from_value(Value::Object(body.clone()))
            .map_err(|e| ctx.err(format!("channel_info body: {e}")))?;
        if let Some(top_ch) = top.get("channel_id").and_then(Value::as_str) {
            if top_ch != info.channel_id {
                return Err(
                    ctx.err("channel_info: top-level channel_id differs from body.channel_id")
                );
            }
        }
        return Ok(ClientMessage::ChannelInfo(info));
    }
    if !top.contains_key("body") {
        return Err(ctx.err("missing body"));
    }
    let subtype = body.get("subtype").and_then(Value::as_str).unwrap_or("");
    if subtype == "channel_info" {
        let content = body
            .get("content")
            .cloned()
            .unwrap_or(Value::Object(body.clone()));
        let info: ChannelInfo =
            serde_json::from_value(content).map_err(|e| ctx.err(format!("channel_info: {e}")))?;
        return Ok(ClientMessage::ChannelInfo(info));
    }
    let Some(kind) = UpdateKind::parse(subtype) else {
        return Err(ctx.err(format!("unsupported update subtype {subtype:?}")));
    };
    let channel_id = string(ctx, body, "channel_id", "body.")?;
    let recipients = string(ctx, body, "recipients", "body.")?;
    let content = body
        .get("content")
        .cloned()
        .ok_or_else(|| ctx.err("missing body.content"))?;
    check_update_content(kind, &content).map_err(|e| ctx.err(e.to_string()))?;
    Ok(ClientMessage::Update {
        channel_id,
        kind,
        recipients,
        content,
        group_id: opt_string(body, "group_id"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn heartbeat_and_logins() {
        let hb = parse(r#"{"type":"heartbeat","request_id":"r1","body":{}}"#).unwrap();
        assert_eq!(hb.message, ClientMessage::Heartbeat);
        assert_eq!(hb.request_id, "r1");
        let sl = parse(r#"{"type":"service_login","request_id":"r2","auth_origin":"cognito","access_token":"t","service_id":"s"}"#).unwrap();
        assert_eq!(
            sl.message,
            ClientMessage::ServiceLogin {
                access_token: "t".into(),
                service_id: "s".into()
            }
        );
        let err = parse(r#"{"type":"user_login","request_id":"r3"}"#).unwrap_err();
        assert_eq!(err.request_id.as_deref(), Some("r3"));
        assert!(err.reason.contains("access_token"));
    }

    #[test]
    fn bad_frames_say_why() {
        assert!(parse("not json").unwrap_err().reason.contains("not JSON"));
        assert!(parse("[1]").unwrap_err().reason.contains("object"));
        let e = parse(r#"{"type":"nope","request_id":"x"}"#).unwrap_err();
        assert!(e.reason.contains("unknown message type"));
        assert_eq!(e.origin_type.as_deref(), Some("nope"));
        let e = parse(r#"{"type":"message_up","request_id":"x","body":{"subtype":"text","channel_id":"c","content":{"text":"a"},"recipients":["a"]}}"#).unwrap_err();
        assert!(e.reason.contains("recipients"));
        let e = parse(r#"{"type":"update","body":{"subtype":"custom","x":1}}"#).unwrap_err();
        assert!(e.reason.contains("unsupported update"));
    }

    #[test]
    fn resume_starts_after_the_last_offset_seen_at_a_given_one_or_only_asks_for_the_end() {
        let from = |body: &str| match parse(&format!(r#"{{"type":"resume","body":{body}}}"#))
            .map(|i| i.message)
        {
            Ok(ClientMessage::Resume {
                channel_id, from, ..
            }) if channel_id == "c" => Ok(from),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.reason),
        };
        assert_eq!(
            from(r#"{"channel_id":"c","offset":7}"#),
            Ok(ResumeFrom::After(7))
        );
        assert_eq!(
            from(r#"{"channel_id":"c","from":0}"#),
            Ok(ResumeFrom::At(0))
        );
        assert_eq!(from(r#"{"channel_id":"c"}"#), Ok(ResumeFrom::End));
        assert!(from(r#"{"channel_id":"c","offset":1,"from":2}"#)
            .unwrap_err()
            .contains("not both"));
        assert!(from(r#"{"channel_id":"c","from":-1}"#)
            .unwrap_err()
            .contains("body.from"));
        assert!(from(r#"{"channel_id":"c","offset":null}"#)
            .unwrap_err()
            .contains("body.offset"));
        assert_eq!(ResumeFrom::After(u64::MAX).first_wanted(), Some(u64::MAX));
        assert_eq!(ResumeFrom::After(4).first_wanted(), Some(5));
        assert_eq!(ResumeFrom::End.first_wanted(), None);
    }

    #[test]
    fn click_arguments_are_flattened_one_level() {
        assert!(normalise_arguments(Some(&json!([[]]))).is_empty());
        let args = normalise_arguments(Some(
            &json!([{"label": "n", "value": "2"}, [{"label": "m", "value": "3", "x": 1}], [[{"label": "deep", "value": "4"}]], "junk"]),
        ));
        assert_eq!(args.len(), 2);
        assert_eq!(args[0].label, "n");
        assert_eq!(args[1].label, "m");
    }

    #[test]
    fn join_channel_and_update_channel_info() {
        let j = parse(r#"{"type":"action","request_id":"r","user_id":"FAKE","body":{"subtype":"join_channel","channel_id":"c","context":{}}}"#).unwrap();
        assert_eq!(
            j.message,
            ClientMessage::Join {
                channel_id: "c".into()
            }
        );
        let ci = parse(r#"{"type":"update","subtype":"channel_info","channel_id":"c","request_id":"r","service_id":"s","body":{"channel_id":"c","channel_name":"N","channel_description":"D","channel_type":"ccs","context":{}}}"#).unwrap();
        assert!(matches!(ci.message, ClientMessage::ChannelInfo(ref i) if i.channel_name == "N"));
    }

    #[test]
    fn message_down_sender_and_null_content_keys() {
        let m = parse(r#"{"type":"message_down","request_id":"r","body":{"subtype":"text","channel_id":"c","content":{"text":"hi","path":null},"recipients":"g","timestamp":1,"context":{},"sender":"a"}}"#).unwrap();
        match m.message {
            ClientMessage::MessageDown {
                content, sender, ..
            } => {
                assert_eq!(content, json!({"text": "hi"}));
                assert_eq!(sender, "a");
            }
            other => panic!("{other:?}"),
        }
    }
}
