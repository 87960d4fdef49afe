//! Push validation, with the original's error bodies: every failing field is reported at once
//! under the dialect's JSON key, in the shape Mongoose gave.

use http::{HeaderMap, StatusCode};
use relay_queue::NewMessage;
use relay_wire::queue::{
    is_hex, parse_scheduled_time, Dialect, Field, Payload, Status, MAX_NODE_LEN,
};
use serde_json::{json, Map, Value};

use super::request::header_latin1;

const MAX_LABEL_CHARS: usize = 30;

pub(super) enum Invalid {
    /// `scheduled` without a time: a plain message, no `errors`.
    ScheduledWithoutTime,
    Fields(Map<String, Value>),
}

impl Invalid {
    pub(super) fn status(&self) -> StatusCode {
        StatusCode::BAD_REQUEST
    }

    pub(super) fn body(&self) -> Value {
        match self {
            Invalid::ScheduledWithoutTime => {
                json!({ "message": "An scheduled message requires the scheduled time header to be set." })
            }
            Invalid::Fields(errors) => {
                let summary: Vec<String> = errors
                    .iter()
                    .map(|(k, v)| format!("{k}: {}", v["message"].as_str().unwrap_or("invalid")))
                    .collect();
                json!({
                    "message": format!("Message validation failed: {}", summary.join(", ")),
                    "errors": errors,
                })
            }
        }
    }
}

fn validator_error(path: &str, message: String, kind: &str, value: Option<&str>) -> Value {
    json!({ "message": message, "name": "ValidatorError", "kind": kind, "path": path, "value": value })
}

/// Checks a node header: required, hexadecimal, at most `MAX_NODE_LEN` characters.
fn check_node(errors: &mut Map<String, Value>, key: &str, value: Option<&str>) {
    match value {
        None => {
            errors.insert(
                key.into(),
                validator_error(key, format!("Path `{key}` is required."), "required", None),
            );
        }
        Some(v) if !is_hex(v) => {
            errors.insert(
                key.into(),
                validator_error(
                    key,
                    "Field must be in hexadecimal.".into(),
                    "user defined",
                    Some(v),
                ),
            );
        }
        Some(v) if v.len() > MAX_NODE_LEN => {
            errors.insert(
                key.into(),
                validator_error(
                    key,
                    format!("Field must be at most {MAX_NODE_LEN} characters."),
                    "maxlength",
                    Some(v),
                ),
            );
        }
        Some(_) => {}
    }
}

/// Validates and normalises a push whose body is already parsed.
pub(super) fn push(
    headers: &HeaderMap,
    dialect: Dialect,
    content_type: &str,
    payload: Payload,
) -> Result<NewMessage, Invalid> {
    // Every header is read as Latin-1 so that a value with odd bytes is refused as a bad value,
    // never mistaken for a missing one.
    let status_raw = header_latin1(headers, "Scirocco-Status");
    let status_raw = status_raw.as_deref();
    let scheduled_raw = header_latin1(headers, "Scirocco-Scheduled-Time");
    let scheduled_raw = scheduled_raw.as_deref();
    if status_raw == Some("scheduled") && scheduled_raw.is_none() {
        return Err(Invalid::ScheduledWithoutTime);
    }
    let mut errors = Map::new();
    let destination = header_latin1(headers, dialect.header(Field::Destination));
    let source = header_latin1(headers, dialect.header(Field::Source));
    check_node(
        &mut errors,
        dialect.json_key(Field::Destination),
        destination.as_deref(),
    );
    check_node(
        &mut errors,
        dialect.json_key(Field::Source),
        source.as_deref(),
    );

    let status = match status_raw.map(Status::parse) {
        None => Status::Pending,
        Some(Some(s)) => s,
        Some(None) => {
            errors.insert(
                "status".into(),
                validator_error(
                    "status",
                    "Incorrect message status.".into(),
                    "user defined",
                    status_raw,
                ),
            );
            Status::Pending
        }
    };
    let scheduled_time = match scheduled_raw {
        None => None,
        Some(raw) => match parse_scheduled_time(raw) {
            Some(t) => Some(t),
            None => {
                errors.insert(
                    "scheduled_time".into(),
                    json!({
                        "message": format!("Cast to Date failed for value \"{raw}\" at path \"scheduled_time\""),
                        "name": "CastError",
                        "kind": "Date",
                        "path": "scheduled_time",
                        "value": raw,
                    }),
                );
                None
            }
        },
    };
    let label = header_latin1(headers, dialect.header(Field::Label))
        .unwrap_or_else(|| content_type.to_string());
    let label_chars = label.chars().count();
    if !(1..=MAX_LABEL_CHARS).contains(&label_chars) {
        let key = dialect.json_key(Field::Label);
        errors.insert(
            key.into(),
            validator_error(
                key,
                "Data type field should be between 1 and 30 characters.".into(),
                "user defined",
                Some(&label),
            ),
        );
    }
    if !errors.is_empty() {
        return Err(Invalid::Fields(errors));
    }
    Ok(NewMessage {
        source: source.unwrap_or_default(),
        destination: destination.unwrap_or_default(),
        // `processing` and `processed` cannot be pushed; they become `pending`, as in the original.
        status: if status == Status::Scheduled {
            Status::Scheduled
        } else {
            Status::Pending
        },
        scheduled_time,
        label,
        payload,
    })
}
