//! Test-only state routes (`/__test__/…`), served only when test hooks are switched on, so that
//! the original test suites can seed and inspect state the way they did through their database.

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use relay_queue::{HookDoc, HookFilter, HookUpdate};
use relay_wire::queue::{parse_scheduled_time, ContentKind, MessageId, Payload, Status};
use serde_json::{json, Value};

use super::body::{self};
use super::request::content_length;
use super::route::Route;
use super::{render, QueueFace};

pub(super) async fn dispatch(face: &QueueFace, route: Route, req: Request) -> Response {
    let result = match route {
        Route::HookInsert => insert(face, req).await,
        Route::HookWipe => face
            .queue
            .wipe()
            .await
            .map(render::write_result)
            .map_err(|e| render::internal(&e)),
        Route::HookUpdate => update(face, req).await,
        Route::HookCount => match face.queue.hook_count().await {
            Ok(count) => Ok(render::json(StatusCode::OK, &json!({ "count": count }))),
            Err(e) => Err(render::internal(&e)),
        },
        _ => Ok(render::not_found()),
    };
    result.unwrap_or_else(|res| res)
}

async fn read_json(face: &QueueFace, req: Request) -> Result<Value, Response> {
    let declared = content_length(req.headers());
    let bytes: Bytes = body::read(
        req.into_body(),
        declared,
        face.config.limits.max_payload,
        face.config.limits.max_payload,
    )
    .await
    .map_err(|_| render::message(StatusCode::BAD_REQUEST, "unreadable body"))?;
    serde_json::from_slice(&bytes)
        .map_err(|e| render::message(StatusCode::BAD_REQUEST, &e.to_string()))
}

fn bad(text: &str) -> Response {
    render::message(StatusCode::BAD_REQUEST, text)
}

fn str_of<'a>(doc: &'a Value, keys: &[&str]) -> Option<&'a str> {
    keys.iter()
        .find_map(|k| doc.get(*k).and_then(Value::as_str))
}

fn time_of(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_f64().map(|f| f as i64),
        Value::String(s) => parse_scheduled_time(s),
        _ => None,
    }
}

/// Why a hook document is refused (answered 400 with it).
type Refusal = String;

fn status_of(doc: &Value) -> Result<Option<Status>, Refusal> {
    match doc.get("status").and_then(Value::as_str) {
        None => Ok(None),
        Some(s) => Status::parse(s)
            .map(Some)
            .ok_or_else(|| "unknown status".to_string()),
    }
}

fn id_of(doc: &Value) -> Result<Option<MessageId>, Refusal> {
    str_of(doc, &["_id"])
        .map(|s| MessageId::parse(s).map_err(|e| e.to_string()))
        .transpose()
}

fn doc_of(doc: &Value) -> Result<HookDoc, Refusal> {
    let id = id_of(doc)?;
    let payload = match doc.get("data").or_else(|| doc.get("payload")) {
        Some(Value::String(s)) => Payload {
            kind: ContentKind::Text,
            data: Bytes::from(s.clone()),
        },
        Some(v) => Payload {
            kind: ContentKind::Json,
            data: Bytes::from(v.to_string()),
        },
        None => Payload {
            kind: ContentKind::Json,
            data: Bytes::from_static(b"{}"),
        },
    };
    Ok(HookDoc {
        id,
        source: str_of(doc, &["from", "node_source"])
            .unwrap_or_default()
            .to_string(),
        destination: str_of(doc, &["to", "node_destination"])
            .unwrap_or_default()
            .to_string(),
        status: status_of(doc)?.unwrap_or(Status::Pending),
        label: str_of(doc, &["data_type", "payload_type"])
            .unwrap_or(payload.kind.content_type())
            .to_string(),
        scheduled_time: time_of(doc.get("scheduled_time")),
        tries: doc.get("tries").and_then(Value::as_u64).unwrap_or(0) as u32,
        topic: str_of(doc, &["topic"]).map(str::to_string),
        payload,
    })
}

async fn insert(face: &QueueFace, req: Request) -> Result<Response, Response> {
    let body = read_json(face, req).await?;
    let docs = match &body {
        Value::Array(items) => items.iter().map(doc_of).collect::<Result<Vec<_>, _>>(),
        other => doc_of(other).map(|d| vec![d]),
    }
    .map_err(|why| bad(&why))?;
    let ids = face
        .queue
        .hook_insert(docs)
        .await
        .map_err(|e| render::internal(&e))?;
    let out: Vec<Value> = ids
        .iter()
        .map(|id| json!({ "_id": id.to_string() }))
        .collect();
    Ok(render::json(StatusCode::OK, &Value::Array(out)))
}

async fn update(face: &QueueFace, req: Request) -> Result<Response, Response> {
    let body = read_json(face, req).await?;
    let f = body.get("filter").cloned().unwrap_or(Value::Null);
    let u = body.get("update").cloned().unwrap_or(Value::Null);
    let filter = HookFilter {
        id: id_of(&f).map_err(|why| bad(&why))?,
        source: str_of(&f, &["from", "node_source"]).map(str::to_string),
        destination: str_of(&f, &["to", "node_destination"]).map(str::to_string),
        status: status_of(&f).map_err(|why| bad(&why))?,
    };
    let update = HookUpdate {
        status: status_of(&u).map_err(|why| bad(&why))?,
        tries: u.get("tries").and_then(Value::as_u64).map(|t| t as u32),
        scheduled_time: time_of(u.get("scheduled_time")),
    };
    let found = face
        .queue
        .hook_update_first(&filter, &update)
        .await
        .map_err(|e| render::internal(&e))?;
    let out = found.map_or(Value::Null, |id| json!({ "_id": id.to_string() }));
    Ok(render::json(StatusCode::OK, &out))
}
