//! One function per operation of the queue protocol.

use axum::extract::Request;
use axum::response::Response;
use bytes::Bytes;
use http::StatusCode;
use relay_queue::Access;
use relay_wire::queue::{ContentKind, Dialect, MessageId, Payload};

use super::body::{self, BodyError};
use super::request::{content_length, content_type, dialect, identity};
use super::route::Route;
use super::{hooks, render, validate, QueueFace};

const CONTENT_TYPE_MESSAGE: &str = "Please, specify a valid Content-Type values. Valid choices are .. text/plain, application/json, application/octet-stream";

pub(super) async fn dispatch(face: &QueueFace, route: Route, req: Request) -> Response {
    match route {
        Route::Root => render::json(
            StatusCode::OK,
            &serde_json::json!({
                "name": "DDS endpoint.",
                "author": "Relay",
                "source": concat!("relay ", env!("CARGO_PKG_VERSION")),
            }),
        ),
        Route::Push => push(face, req).await,
        Route::Pull => pull(face, req).await,
        Route::Ack(id) => ack(face, req, &id).await,
        Route::List => list(face, req).await,
        Route::Get(id) => get(face, req, &id).await,
        Route::Update(id) => update(face, req, &id).await,
        Route::Delete(id) => delete(face, req, &id).await,
        Route::DeleteAll => delete_all(face, req).await,
        Route::GlobalWipe => match face.queue.wipe().await {
            Ok(n) => render::write_result(n),
            Err(err) => render::internal(&err),
        },
        Route::HookInsert | Route::HookWipe | Route::HookUpdate | Route::HookCount => {
            hooks::dispatch(face, route, req).await
        }
        Route::NotFound => render::not_found(),
    }
}

/// Access rules of the request's dialect for update and delete.
fn access(dialect: Dialect) -> Access {
    match dialect {
        Dialect::V1 => Access::Involved,
        Dialect::V2 => Access::SenderWhileWaiting,
    }
}

fn body_error(err: BodyError) -> Response {
    match err {
        BodyError::TooLarge { limit } => render::json(
            StatusCode::PAYLOAD_TOO_LARGE,
            &serde_json::json!({
                "message": "request entity too large",
                "limit": limit,
            }),
        ),
        BodyError::Timeout => render::message(
            StatusCode::REQUEST_TIMEOUT,
            "request body not received in time",
        ),
        BodyError::Broken => render::message(StatusCode::BAD_REQUEST, "request body was cut off"),
    }
}

/// Reads and parses a POST or PATCH body of a supported content type.
async fn read_payload(face: &QueueFace, req: Request) -> Result<(String, Payload), Response> {
    let headers = req.headers();
    let ct = content_type(headers).unwrap_or_default().to_string();
    let Some(kind) = ContentKind::from_content_type(&ct) else {
        return Err(render::message(
            StatusCode::BAD_REQUEST,
            CONTENT_TYPE_MESSAGE,
        ));
    };
    let declared = content_length(headers);
    let bytes: Bytes = body::read(
        req.into_body(),
        declared,
        face.config.limits.for_kind(kind),
        face.config.limits.max_payload,
    )
    .await
    .map_err(body_error)?;
    let payload = Payload::from_body(kind, bytes)
        .map_err(|err| render::message(StatusCode::BAD_REQUEST, &err.to_string()))?;
    Ok((ct, payload))
}

async fn push(face: &QueueFace, req: Request) -> Response {
    let headers = req.headers().clone();
    let dialect = dialect(&headers);
    let (ct, payload) = match read_payload(face, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    let new = match validate::push(&headers, dialect, &ct, payload) {
        Ok(new) => new,
        Err(invalid) => return render::json(invalid.status(), &invalid.body()),
    };
    let payload = new.payload.clone();
    match face.queue.push(new).await {
        Ok(msg) => render::pushed(dialect, &msg, &payload),
        Err(err) => render::internal(&err),
    }
}

async fn pull(face: &QueueFace, req: Request) -> Response {
    let dialect = dialect(req.headers());
    let Some(node) = identity(req.headers(), dialect) else {
        return render::no_content();
    };
    match face.queue.pull(node).await {
        Ok(Some(stored)) => render::read_back(dialect, &stored),
        Ok(None) => render::no_content(),
        Err(err) => render::internal(&err),
    }
}

/// A hex path id of the wrong length names no message.
fn parse_id(id: &str) -> Option<MessageId> {
    MessageId::parse(id).ok()
}

async fn ack(face: &QueueFace, req: Request, id: &str) -> Response {
    let dialect = dialect(req.headers());
    let (Some(node), Some(id)) = (identity(req.headers(), dialect), parse_id(id)) else {
        return render::resource_not_found();
    };
    match face.queue.ack(node, id).await {
        Ok(Some(stored)) => render::read_back(dialect, &stored),
        Ok(None) => render::resource_not_found(),
        Err(err) => render::internal(&err),
    }
}

async fn get(face: &QueueFace, req: Request, id: &str) -> Response {
    let dialect = dialect(req.headers());
    let (Some(node), Some(id)) = (identity(req.headers(), dialect), parse_id(id)) else {
        return render::resource_not_found();
    };
    match face.queue.get(node, id).await {
        Ok(Some(stored)) => render::read_back(dialect, &stored),
        Ok(None) => render::resource_not_found(),
        Err(err) => render::internal(&err),
    }
}

/// `?limit=N`, honoured when it is a positive whole number within the cap; the cap otherwise.
fn list_limit(query: Option<&str>, max: usize) -> usize {
    query
        .into_iter()
        .flat_map(|q| q.split('&'))
        .filter_map(|pair| pair.strip_prefix("limit="))
        .next()
        .and_then(|v| v.parse::<usize>().ok())
        .filter(|&n| n > 0 && n <= max)
        .unwrap_or(max)
}

async fn list(face: &QueueFace, req: Request) -> Response {
    let dialect = dialect(req.headers());
    let Some(node) = identity(req.headers(), dialect) else {
        return render::no_content();
    };
    let limit = list_limit(req.uri().query(), face.config.max_list);
    let mut listed = match face.queue.list(node, limit).await {
        Ok(listed) => listed.into_iter(),
        Err(err) => return render::internal(&err),
    };
    // The first payload is read before answering, so that an empty list is still a 204 and a
    // store that cannot be read is still a 500.
    let first = loop {
        let Some(message) = listed.next() else {
            return render::no_content();
        };
        match face.queue.listed_payload(message).await {
            Ok(Some(stored)) => break stored,
            Ok(None) => continue,
            Err(err) => return render::internal(&err),
        }
    };
    let (tx, mut rx) = tokio::sync::mpsc::channel(LIST_PIECES_AHEAD);
    let queue = face.queue.clone();
    tokio::spawn(async move {
        let mut next = Some(first);
        let mut first_element = true;
        while let Some(stored) = next.take() {
            for piece in render::list_element(dialect, &stored, first_element) {
                // The client has gone: stop reading payloads for it.
                if tx.send(Ok(piece)).await.is_err() {
                    return;
                }
            }
            first_element = false;
            drop(stored);
            for message in listed.by_ref() {
                match queue.listed_payload(message).await {
                    Ok(Some(stored)) => {
                        next = Some(stored);
                        break;
                    }
                    Ok(None) => {}
                    Err(err) => {
                        tracing::error!(
                            error = &err as &dyn std::error::Error,
                            "queue list cut off: a payload could not be read"
                        );
                        let _ = tx.send(Err(err)).await;
                        return;
                    }
                }
            }
        }
        let _ = tx.send(Ok(Bytes::from_static(render::LIST_END))).await;
    });
    render::list(futures_util::stream::poll_fn(move |cx| rx.poll_recv(cx)))
}

/// Pieces of a list answer (about 64 KiB each) made ahead of what the client has taken: with
/// the payload being read, all a list answer holds.
const LIST_PIECES_AHEAD: usize = 4;

async fn update(face: &QueueFace, req: Request, id: &str) -> Response {
    let dialect = dialect(req.headers());
    let Some(id) = parse_id(id) else {
        return render::resource_not_found();
    };
    let Some(node) = identity(req.headers(), dialect).map(str::to_string) else {
        return render::resource_not_found();
    };
    // Who may update is settled before the body is looked at: a refused update is a 404 even
    // when its body would not parse.
    match face.queue.may_change(&node, id, access(dialect)).await {
        Ok(true) => {}
        Ok(false) => return render::resource_not_found(),
        Err(err) => return render::internal(&err),
    }
    let (_, payload) = match read_payload(face, req).await {
        Ok(p) => p,
        Err(res) => return res,
    };
    match face.queue.update(&node, id, access(dialect), payload).await {
        Ok(Some(stored)) => render::read_back(dialect, &stored),
        Ok(None) => render::resource_not_found(),
        Err(err) => render::internal(&err),
    }
}

async fn delete(face: &QueueFace, req: Request, id: &str) -> Response {
    let dialect = dialect(req.headers());
    let (Some(node), Some(id)) = (identity(req.headers(), dialect), parse_id(id)) else {
        return render::write_result(0);
    };
    match face.queue.delete(node, id, access(dialect)).await {
        Ok(n) => render::write_result(n),
        Err(err) => render::internal(&err),
    }
}

async fn delete_all(face: &QueueFace, req: Request) -> Response {
    let dialect = dialect(req.headers());
    let Some(node) = identity(req.headers(), dialect) else {
        return render::write_result(0);
    };
    match face.queue.delete_all(node, access(dialect)).await {
        Ok(n) => render::write_result(n),
        Err(err) => render::internal(&err),
    }
}

#[cfg(test)]
mod tests {
    use super::list_limit;

    #[test]
    fn limits() {
        assert_eq!(list_limit(None, 100), 100);
        assert_eq!(list_limit(Some("limit=1"), 100), 1);
        assert_eq!(list_limit(Some("a=b&limit=7"), 100), 7);
        assert_eq!(list_limit(Some("limit=101"), 100), 100);
        assert_eq!(list_limit(Some("limit=0"), 100), 100);
        assert_eq!(list_limit(Some("limit=-3"), 100), 100);
        assert_eq!(list_limit(Some("limit=x"), 100), 100);
    }
}
