//! Property tests of the channel codecs: the server's parser of client frames never panics on
//! anything a socket may carry, and reads back exactly what the client's builders write.

use proptest::prelude::*;
use serde_json::{json, Map, Value};

use super::inbound::{normalise_arguments, parse, ClientMessage, Fetch, ResumeFrom};
use super::outbound::{self, MessageBody, Position};
use super::requests::{self, UpdateContent};
use super::types::{
    BottomButton, Button, CanvasItem, ChannelInfo, ClickArgument, Dialog, InputComponent, MenuItem,
    MessageContent, StyleItem, UpdateKind,
};
use crate::test_strategies::json_value;

fn text() -> impl Strategy<Value = String> {
    any::<String>()
}

fn nonempty() -> impl Strategy<Value = String> {
    ".{1,12}"
}

fn opt<T: std::fmt::Debug>(s: impl Strategy<Value = T>) -> impl Strategy<Value = Option<T>> {
    proptest::option::of(s)
}

fn click_argument() -> impl Strategy<Value = ClickArgument> {
    (text(), text(), opt(text())).prop_map(|(label, value, filename)| ClickArgument {
        label,
        value,
        filename,
    })
}

fn message_content() -> impl Strategy<Value = MessageContent> {
    (
        (opt(text()), opt(text()), opt(any::<u64>()), opt(text())),
        (
            opt(text()),
            opt(text()),
            // JSON null reads back as "no button", so a present button is never null.
            opt(json_value().prop_filter("a present button", |v| !v.is_null())),
        ),
    )
        .prop_map(
            |((text, path, size, filename), (link, title, button))| MessageContent {
                text,
                path,
                size,
                filename,
                link,
                title,
                button,
            },
        )
}

fn dialog() -> impl Strategy<Value = Dialog> {
    let component = (
        text(),
        text(),
        opt(any::<bool>()),
        opt(text()),
        opt(prop::collection::vec(text(), 0..3)),
    )
        .prop_map(
            |(label, kind, required, placeholder, choices)| InputComponent {
                label,
                kind,
                required,
                placeholder,
                choices,
            },
        );
    let bottom = (text(), text(), any::<bool>()).prop_map(|(id, text, submit)| BottomButton {
        id,
        text,
        submit,
    });
    (
        opt(text()),
        opt(prop::collection::vec(component, 0..3)),
        opt(prop::collection::vec(bottom, 0..3)),
    )
        .prop_map(|(title, components, bottom_buttons)| Dialog {
            title,
            components,
            bottom_buttons,
        })
}

fn update_content() -> impl Strategy<Value = UpdateContent> {
    let button =
        (text(), text(), opt(dialog())).prop_map(|(button_id, button_text, dialog)| Button {
            button_id,
            button_text,
            dialog,
        });
    let menu_item = (text(), text(), json_value(), opt(dialog())).prop_map(
        |(menu_item_id, menu_item_text, message_subtypes, dialog)| MenuItem {
            menu_item_id,
            menu_item_text,
            message_subtypes,
            dialog,
        },
    );
    let style = (text(), text(), opt(any::<bool>()), opt(text()), opt(text())).prop_map(
        |(widget, display, expand, button_id, text)| StyleItem {
            widget,
            display,
            expand,
            button_id,
            text,
        },
    );
    let canvas = (opt(text()), opt(text())).prop_map(|(text, path)| CanvasItem { text, path });
    prop_oneof![
        text().prop_map(UpdateContent::Characters),
        prop::collection::vec(button, 0..3).prop_map(UpdateContent::Buttons),
        prop::collection::vec(menu_item, 0..3).prop_map(UpdateContent::Menu),
        prop::collection::vec(style, 0..3).prop_map(UpdateContent::Style),
        prop::collection::vec(canvas, 0..3).prop_map(UpdateContent::Canvas),
    ]
}

fn channel_info() -> impl Strategy<Value = ChannelInfo> {
    (nonempty(), text(), text(), text()).prop_map(
        |(channel_id, channel_name, channel_description, channel_type)| ChannelInfo {
            channel_id,
            channel_name,
            channel_description,
            channel_type,
        },
    )
}

fn resume_from() -> impl Strategy<Value = ResumeFrom> {
    prop_oneof![
        any::<u64>().prop_map(ResumeFrom::After),
        any::<u64>().prop_map(ResumeFrom::At),
        Just(ResumeFrom::End),
    ]
}

/// The keys the parser reads, so that generated frames reach past its first checks.
const KEYS: &[&str] = &[
    "type",
    "subtype",
    "request_id",
    "access_token",
    "service_id",
    "channel_id",
    "body",
    "content",
    "recipients",
    "sender",
    "context",
    "button_id",
    "bottom_button_id",
    "arguments",
    "menu_item_id",
    "message_id",
    "message_subtype",
    "message_content",
    "group_id",
    "offset",
    "from",
    "epoch",
    "text",
    "path",
    "label",
    "value",
    "characters",
    "channel_name",
    "channel_description",
    "channel_type",
];

const TYPES: &[&str] = &[
    "heartbeat",
    "service_login",
    "user_login",
    "action",
    "button_click",
    "menu_click",
    "refresh",
    "message_up",
    "message_down",
    "update",
    "resume",
];

const SUBTYPES: &[&str] = &[
    "join_channel",
    "join",
    "leave_channel",
    "leave",
    "refresh",
    "button_click",
    "menu_item_click",
    "menu_click",
    "fetch_channel_info",
    "fetch_buttons",
    "fetch_nothing",
    "channel_info",
    "characters",
    "buttons",
    "update_menu",
    "context_menu",
    "style",
    "canvas",
    "text",
];

/// A value a frame's field plausibly holds: a known name, a small number, or anything.
fn field_value() -> impl Strategy<Value = Value> {
    prop_oneof![
        prop::sample::select(TYPES).prop_map(Value::from),
        prop::sample::select(SUBTYPES).prop_map(Value::from),
        (0u64..10).prop_map(Value::from),
        json_value(),
    ]
}

fn object(values: BoxedStrategy<Value>) -> impl Strategy<Value = Map<String, Value>> {
    prop::collection::vec(
        (prop::sample::select(KEYS).prop_map(str::to_owned), values),
        0..8,
    )
    .prop_map(|kv| kv.into_iter().collect())
}

/// A client frame as a careless or hostile client might write it: known keys, plausible or
/// arbitrary values, objects nested where the parser looks for them.
fn frame_like() -> impl Strategy<Value = Value> {
    let nested = field_value()
        .prop_recursive(2, 24, 8, |inner| {
            prop_oneof![
                object(inner.clone().boxed()).prop_map(Value::Object),
                prop::collection::vec(inner, 0..4).prop_map(Value::Array),
            ]
        })
        .boxed();
    (
        object(nested),
        prop::sample::select(TYPES),
        prop::sample::select(SUBTYPES),
    )
        .prop_map(|(mut top, kind, subtype)| {
            top.entry("type").or_insert(kind.into());
            if let Some(Value::Object(body)) = top.get_mut("body") {
                body.entry("subtype").or_insert(subtype.into());
            }
            Value::Object(top)
        })
}

/// What the parser says about a frame's identity must be what the frame says, parsed or not.
fn check_identity(frame: &Value) -> Result<(), TestCaseError> {
    let request_id = frame.get("request_id").and_then(Value::as_str);
    let kind = frame.get("type").and_then(Value::as_str);
    match parse(&frame.to_string()) {
        Ok(inbound) => {
            prop_assert_eq!(inbound.request_id.as_str(), request_id.unwrap_or(""));
            prop_assert_eq!(Some(inbound.origin_type.as_str()), kind);
        }
        Err(e) if frame.is_object() => {
            prop_assert_eq!(e.request_id.as_deref(), request_id);
            if e.origin_type.is_some() {
                prop_assert_eq!(e.origin_type.as_deref(), kind);
            }
        }
        Err(e) => prop_assert_eq!((e.request_id, e.origin_type), (None, None)),
    }
    Ok(())
}

/// Builds with the builder, then parses as the server does.
fn round_trip(frame: Result<Value, requests::RequestError>) -> ClientMessage {
    let frame = frame.expect("the builder accepts non-empty ids");
    match parse(&frame.to_string()) {
        Ok(inbound) => {
            assert_eq!(
                inbound.request_id,
                frame["request_id"].as_str().unwrap_or_default()
            );
            inbound.message
        }
        Err(e) => panic!("{frame}: {e}"),
    }
}

proptest! {
    /// Any text is parsed or refused without panicking.
    #[test]
    fn any_text_is_parsed_or_refused(s in any::<String>()) {
        let _ = parse(&s);
    }

    /// Any JSON value is parsed or refused, and the refusal names the frame as it named itself.
    #[test]
    fn any_json_is_parsed_or_refused(v in json_value()) {
        check_identity(&v)?;
    }

    /// Frames built from the keys the parser reads, with values of any type where it expects
    /// strings, objects or offsets: parsed or refused, never a panic.
    #[test]
    fn frame_shaped_json_is_parsed_or_refused(v in frame_like()) {
        check_identity(&v)?;
    }

    /// Click arguments in any nesting come out flat, and only from well-formed objects.
    #[test]
    fn any_arguments_normalise(v in json_value(), args in prop::collection::vec(click_argument(), 0..4)) {
        let _ = normalise_arguments(Some(&v));
        let wrapped = json!([args]);
        prop_assert_eq!(normalise_arguments(Some(&wrapped)), args.clone());
        prop_assert_eq!(normalise_arguments(Some(&json!(args))), args);
    }

    #[test]
    fn logins_and_heartbeats_round_trip(rid in text(), token in nonempty(), service in nonempty()) {
        prop_assert_eq!(round_trip(Ok(requests::heartbeat(&rid))), ClientMessage::Heartbeat);
        prop_assert_eq!(
            round_trip(requests::service_login(&rid, &token, &service)),
            ClientMessage::ServiceLogin { access_token: token.clone(), service_id: service }
        );
        prop_assert_eq!(
            round_trip(requests::user_login(&rid, &token)),
            ClientMessage::UserLogin { access_token: token }
        );
    }

    /// The builders refuse exactly the frames with an empty id, and the server reads every
    /// other one.
    #[test]
    fn builders_refuse_only_empty_ids(rid in text(), a in "a?", b in "b?") {
        let built = [
            (requests::service_login(&rid, &a, &b), a.is_empty() || b.is_empty()),
            (requests::user_login(&rid, &a), a.is_empty()),
            (requests::simple_action(&rid, "join_channel", &a), a.is_empty()),
            (requests::button_click(&rid, &a, &b, "confirm", &[]), a.is_empty() || b.is_empty()),
            (requests::resume(&rid, &a, None, ResumeFrom::End), a.is_empty()),
            (requests::update(&rid, &a, &b, &UpdateContent::Canvas(vec![])), a.is_empty() || b.is_empty()),
        ];
        for (frame, refused) in built {
            prop_assert_eq!(frame.is_err(), refused);
            if let Ok(f) = frame {
                prop_assert!(parse(&f.to_string()).is_ok(), "{}", f);
            }
        }
    }

    #[test]
    fn simple_actions_round_trip(rid in text(), channel in nonempty(), which in 0usize..5) {
        let (subtype, expected) = [
            ("join_channel", ClientMessage::Join { channel_id: channel.clone() }),
            ("join", ClientMessage::Join { channel_id: channel.clone() }),
            ("leave_channel", ClientMessage::Leave { channel_id: channel.clone() }),
            ("leave", ClientMessage::Leave { channel_id: channel.clone() }),
            ("refresh", ClientMessage::Refresh { channel_id: channel.clone() }),
        ][which].clone();
        prop_assert_eq!(round_trip(requests::simple_action(&rid, subtype, &channel)), expected);
    }

    #[test]
    fn clicks_round_trip(
        rid in text(),
        channel in nonempty(),
        id in nonempty(),
        bottom in text(),
        message_id in text(),
        message_subtype in text(),
        content in message_content(),
        args in prop::collection::vec(click_argument(), 0..4),
    ) {
        prop_assert_eq!(
            round_trip(requests::button_click(&rid, &channel, &id, &bottom, &args)),
            ClientMessage::ButtonClick {
                channel_id: channel.clone(),
                button_id: id.clone(),
                bottom_button_id: Some(bottom.clone()),
                arguments: args.clone(),
            }
        );
        let got = round_trip(requests::menu_item_click(
            &rid, &channel, &id, &message_id, &message_subtype, &content, &bottom, &args,
        ));
        let ClientMessage::MenuItemClick { message_content, .. } = &got else {
            return Err(TestCaseError::fail(format!("{got:?}")));
        };
        prop_assert_eq!(&serde_json::from_value::<MessageContent>(message_content.clone()).unwrap(), &content);
        prop_assert_eq!(
            got.clone(),
            ClientMessage::MenuItemClick {
                channel_id: channel,
                menu_item_id: id,
                message_id: Some(message_id),
                message_subtype,
                message_content: serde_json::to_value(&content).unwrap(),
                bottom_button_id: Some(bottom),
                arguments: args,
            }
        );
    }

    #[test]
    fn messages_round_trip(
        rid in text(),
        timestamp in any::<i64>(),
        channel in nonempty(),
        recipients in nonempty(),
        subtype in nonempty(),
        content in message_content(),
        sender in opt(text()),
    ) {
        let got = round_trip(requests::message(
            &rid, timestamp, &channel, &recipients, &subtype, &content, sender.as_deref(),
        ));
        let value = serde_json::to_value(&content).unwrap();
        let expected = match sender {
            None => ClientMessage::MessageUp {
                channel_id: channel,
                subtype,
                content: value,
                recipients,
                context: json!({}),
            },
            Some(s) => ClientMessage::MessageDown {
                channel_id: channel,
                subtype,
                content: value,
                recipients,
                // An empty sender is the SDK's way of saying none.
                sender: if s.is_empty() { "no_sender".into() } else { s },
                context: json!({}),
            },
        };
        prop_assert_eq!(got, expected);
    }

    /// Every update the client can build is accepted with its content as built, and the content
    /// reads back into the same typed items.
    #[test]
    fn updates_round_trip(rid in text(), channel in nonempty(), recipients in nonempty(), content in update_content()) {
        let got = round_trip(requests::update(&rid, &channel, &recipients, &content));
        let ClientMessage::Update { channel_id, kind, recipients: r, content: c, group_id } = got else {
            return Err(TestCaseError::fail(format!("{got:?}")));
        };
        prop_assert_eq!((channel_id, kind, r), (channel, content.kind(), recipients));
        prop_assert_eq!(group_id.as_deref(), (kind != UpdateKind::Characters).then_some("temp"));
        let back = match kind {
            UpdateKind::Characters => UpdateContent::Characters(c["characters"].as_str().unwrap().to_owned()),
            UpdateKind::Buttons => UpdateContent::Buttons(serde_json::from_value(c).unwrap()),
            UpdateKind::Menu => UpdateContent::Menu(serde_json::from_value(c).unwrap()),
            UpdateKind::Style => UpdateContent::Style(serde_json::from_value(c).unwrap()),
            UpdateKind::Canvas => UpdateContent::Canvas(serde_json::from_value(c).unwrap()),
        };
        prop_assert_eq!(back, content);
    }

    #[test]
    fn channel_info_and_resume_round_trip(rid in text(), info in channel_info(), epoch in opt(text()), from in resume_from()) {
        prop_assert_eq!(round_trip(requests::channel_info(&rid, &info)), ClientMessage::ChannelInfo(info.clone()));
        prop_assert_eq!(
            round_trip(requests::resume(&rid, &info.channel_id, epoch.as_deref(), from)),
            ClientMessage::Resume { channel_id: info.channel_id, epoch, from }
        );
    }

    /// Update kinds read back from their names and the legacy `update_` ones; `fetch_` actions
    /// name them too.
    #[test]
    fn update_kinds_round_trip(s in any::<String>(), channel in nonempty()) {
        for k in UpdateKind::ALL {
            prop_assert_eq!(UpdateKind::parse(k.as_str()), Some(k));
            prop_assert_eq!(UpdateKind::parse(&format!("update_{}", k.as_str())), Some(k));
            let fetch = json!({"type": "action", "body": {"subtype": format!("fetch_{}", k.as_str()), "channel_id": channel}});
            prop_assert_eq!(
                parse(&fetch.to_string()).map(|i| i.message),
                Ok(ClientMessage::Fetch { channel_id: channel.clone(), what: Fetch::Kind(k) })
            );
        }
        if let Some(k) = UpdateKind::parse(&s) {
            let bare = s.strip_prefix("update_").unwrap_or(&s);
            prop_assert!(bare == k.as_str() || (k == UpdateKind::Menu && bare == "context_menu"));
        }
    }

    /// What the server sends reads back as what it meant: a copy's four body keys, and a
    /// message's body (with its log position at top level).
    #[test]
    fn outbound_frames_read_back(
        rid in text(),
        origin in text(),
        status in any::<bool>(),
        note in opt(text()),
        body in (text(), text(), json_value(), text(), any::<i64>(), json_value(), text(), text()),
        service in opt(text()),
        pos in opt((text(), any::<u64>())),
    ) {
        let copy: Value = serde_json::from_str(&outbound::copy(&rid, &origin, status, note.as_deref())).unwrap();
        prop_assert_eq!(&copy["body"]["request_id"], &json!(rid));
        prop_assert_eq!(&copy["body"]["origin_type"], &json!(origin));
        prop_assert_eq!(&copy["body"]["status"], &json!(status));
        prop_assert_eq!(copy["body"]["context"].get("message").and_then(Value::as_str), note.as_deref());
        let (subtype, channel_id, content, recipients, timestamp, context, sender, message_id) = body;
        let body = MessageBody { subtype, channel_id, content, recipients, timestamp, context, sender, message_id };
        let pos_ref = pos.as_ref().map(|(epoch, offset)| Position { epoch, offset: *offset });
        let text = outbound::message("message_down", service.as_deref(), &body, pos_ref);
        let frame: Value = serde_json::from_str(&text).unwrap();
        let reference: Value = serde_json::from_str(&serde_json::to_string(&body).unwrap()).unwrap();
        prop_assert_eq!(&frame["body"], &reference);
        prop_assert_eq!(frame.get("service_id").and_then(Value::as_str), service.as_deref());
        prop_assert_eq!(frame.get("offset").and_then(Value::as_u64), pos.as_ref().map(|p| p.1));
        prop_assert_eq!(frame.get("epoch").and_then(Value::as_str), pos.as_ref().map(|p| p.0.as_str()));
    }
}
