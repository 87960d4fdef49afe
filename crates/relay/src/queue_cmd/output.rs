//! How results are printed: aligned fields for people, one JSON document for scripts, or the
//! bare payload for pipes.

use std::io::Write;

use anyhow::Context;

use base64::Engine;
use relay_client::queue::{MessageData, QueueMessage, SystemData};
use relay_wire::queue::format_json_time;
use serde_json::{json, Value};

/// A message as the `--json` output shows it. Every key is always present (null when unset),
/// so scripts can index without checking.
pub(super) fn message_json(m: &QueueMessage) -> Value {
    let s = &m.system;
    let time = |t: Option<chrono::DateTime<chrono::Utc>>| {
        t.map(|t| format_json_time(t.timestamp_millis()))
    };
    let (kind, payload) = match &m.data {
        MessageData::Json(v) => ("json", v.clone()),
        MessageData::Text(t) => ("text", Value::String(t.clone())),
        MessageData::Base64(b) => ("base64", Value::String(b.clone())),
        MessageData::Bytes(b) => (
            "base64",
            Value::String(base64::engine::general_purpose::STANDARD.encode(b)),
        ),
    };
    json!({
        "id": s.id,
        "source": s.source,
        "destination": s.destination,
        "status": s.status.as_str(),
        "tries": s.tries,
        "label": s.label,
        "topic": s.topic,
        "created_time": time(s.created_time),
        "update_time": time(s.update_time),
        "scheduled_time": time(s.scheduled_time),
        "processing_time": time(s.processing_time),
        "processed_time": time(s.processed_time),
        "error_time": time(s.error_time),
        "payload_kind": kind,
        "payload": payload,
    })
}

/// The system fields, one per line, then (unless `with_payload` is false) a blank line and the
/// payload.
pub(super) fn message_text(m: &QueueMessage, with_payload: bool) -> String {
    let mut out = String::new();
    for (name, value) in fields(&m.system) {
        out.push_str(&format!("{name:<12} {value}\n"));
    }
    if with_payload {
        out.push('\n');
        out.push_str(&payload_text(&m.data));
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

fn fields(s: &SystemData) -> Vec<(&'static str, String)> {
    let mut f = vec![
        ("id", s.id.clone()),
        ("status", s.status.as_str().to_owned()),
        ("source", s.source.clone()),
        ("destination", s.destination.clone()),
        ("tries", s.tries.to_string()),
        ("label", s.label.clone()),
    ];
    if let Some(t) = &s.topic {
        f.push(("topic", t.clone()));
    }
    for (name, t) in [
        ("created", s.created_time),
        ("updated", s.update_time),
        ("scheduled", s.scheduled_time),
        ("processing", s.processing_time),
        ("processed", s.processed_time),
        ("error", s.error_time),
    ] {
        if let Some(t) = t {
            f.push((name, format_json_time(t.timestamp_millis())));
        }
    }
    f
}

fn payload_text(d: &MessageData) -> String {
    match d {
        MessageData::Json(v) => serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string()),
        MessageData::Text(t) => t.clone(),
        MessageData::Base64(b) => format!("(binary, base64)\n{b}"),
        MessageData::Bytes(b) => {
            format!(
                "(binary, base64)\n{}",
                base64::engine::general_purpose::STANDARD.encode(b)
            )
        }
    }
}

/// The payload alone, for `--payload-only`: JSON as one line, text as is, binary decoded.
pub(super) fn payload_raw(d: &MessageData) -> anyhow::Result<Vec<u8>> {
    Ok(match d {
        MessageData::Json(v) => format!("{v}\n").into_bytes(),
        other => other.to_bytes()?,
    })
}

/// One line per message: id, status, route, tries, label and the start of the payload.
pub(super) fn list_text(items: &[QueueMessage]) -> String {
    let routes: Vec<String> = items
        .iter()
        .map(|m| format!("{} -> {}", m.system.source, m.system.destination))
        .collect();
    let route_w = routes
        .iter()
        .map(|r| r.chars().count())
        .max()
        .unwrap_or(0)
        .max("ROUTE".len());
    let label_w = items
        .iter()
        .map(|m| m.system.label.chars().count())
        .max()
        .unwrap_or(0)
        .max("LABEL".len());
    let mut out = format!(
        "{:<24}  {:<10}  {:<route_w$}  {:>5}  {:<label_w$}  PAYLOAD\n",
        "ID", "STATUS", "ROUTE", "TRIES", "LABEL"
    );
    for (m, route) in items.iter().zip(&routes) {
        let s = &m.system;
        let preview = match &m.data {
            MessageData::Json(v) => v.to_string(),
            MessageData::Text(t) | MessageData::Base64(t) => t.clone(),
            MessageData::Bytes(b) => base64::engine::general_purpose::STANDARD.encode(b),
        };
        out.push_str(&format!(
            "{:<24}  {:<10}  {:<route_w$}  {:>5}  {:<label_w$}  {}\n",
            s.id,
            s.status.as_str(),
            route,
            s.tries,
            s.label,
            shorten(&preview.replace(['\n', '\r', '\t'], " "), 60)
        ));
    }
    out
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A closed pipe (`| head`) or a full disk is an error here, where `print!` would panic.
pub(super) fn write_stdout(bytes: &[u8]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes)
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

/// `text` and a newline to standard output.
pub(super) fn say(text: impl std::fmt::Display) -> anyhow::Result<()> {
    write_stdout(format!("{text}\n").as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;
    use relay_client::queue::Status;

    fn sample(data: MessageData) -> QueueMessage {
        QueueMessage {
            system: SystemData {
                id: "5823a70203c123003de4229b".into(),
                source: "af1".into(),
                destination: "af2".into(),
                status: Status::Processing,
                tries: 1,
                label: ".bin".into(),
                topic: None,
                created_time: chrono::Utc.timestamp_millis_opt(1_479_206_465_000).single(),
                update_time: None,
                scheduled_time: None,
                processing_time: None,
                processed_time: None,
                error_time: None,
            },
            data,
        }
    }

    #[test]
    fn json_output_has_every_key_and_the_payload_kind() {
        let v = message_json(&sample(MessageData::Base64("AAE=".into())));
        assert_eq!(v["id"], "5823a70203c123003de4229b");
        assert_eq!(v["tries"], 1);
        assert_eq!(v["status"], "processing");
        assert_eq!(v["created_time"], "2016-11-15T10:41:05.000Z");
        assert_eq!(v["update_time"], Value::Null);
        assert_eq!(
            (v["payload_kind"].as_str(), v["payload"].as_str()),
            (Some("base64"), Some("AAE="))
        );
        let raw = message_json(&sample(MessageData::Bytes(vec![0u8, 1].into())));
        assert_eq!(raw["payload"], "AAE=");
    }

    #[test]
    fn text_output_lists_set_fields_then_the_payload() {
        let t = message_text(&sample(MessageData::Json(json!({"a": 1}))), true);
        assert!(
            t.starts_with("id           5823a70203c123003de4229b\nstatus       processing\n"),
            "{t}"
        );
        assert!(t.contains("created      2016-11-15T10:41:05.000Z\n"), "{t}");
        assert!(!t.contains("updated"), "{t}");
        assert!(t.ends_with("\n{\n  \"a\": 1\n}\n"), "{t}");
        assert!(!message_text(&sample(MessageData::Text("x".into())), false).contains("\n\n"));
    }

    #[test]
    fn raw_payloads_decode_binary() {
        assert_eq!(
            payload_raw(&MessageData::Base64("AAH/".into())).unwrap(),
            vec![0, 1, 255]
        );
        assert_eq!(payload_raw(&MessageData::Text("hi".into())).unwrap(), b"hi");
        assert_eq!(
            payload_raw(&MessageData::Json(json!([1]))).unwrap(),
            b"[1]\n"
        );
    }

    #[test]
    fn long_previews_are_cut() {
        assert_eq!(shorten("abcdef", 4), "abc…");
        assert_eq!(shorten("abc", 4), "abc");
    }
}
