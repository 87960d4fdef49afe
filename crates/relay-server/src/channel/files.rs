//! File uploads shaped like an S3 presigned POST: `GET /file/upload` hands out a URL and an
//! unguessable one-time `key`; an unauthenticated multipart POST of that key plus the bytes
//! stores the file; `GET`/`HEAD` of URL + key serve it publicly (the SDK downloads without auth),
//! on the page's origin, so a download must never be able to run script there (`download_headers`).

use axum::body::Body;
use axum::extract::multipart::MultipartRejection;
use axum::extract::rejection::PathRejection;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Extension;
use axum::Router;
use serde_json::json;
use std::collections::HashMap;

use super::api::Caller;
use super::envelope::{ok, ApiError, ApiResult};
use super::ChannelFace;
use super::Live;
use crate::listener::Https;

/// Largest upload accepted.
const MAX_UPLOAD_BYTES: usize = 64 * 1024 * 1024;

pub(super) fn routes() -> Router<ChannelFace> {
    Router::new()
        .route("/file/upload", get(upload_ticket))
        .route(
            "/file/store/",
            axum::routing::post(upload).layer(DefaultBodyLimit::max(MAX_UPLOAD_BYTES)),
        )
        .route("/file/store/{key}", get(download))
}

/// The server's own address as the client reached it: `https` when the request came over
/// Relay's TLS (a client on https must not be sent to post or fetch over http), else what a
/// proxy in front says it terminated, else `http`.
fn base_url(headers: &HeaderMap, tls: bool) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or("127.0.0.1");
    let proto = if tls {
        "https"
    } else {
        headers
            .get("x-forwarded-proto")
            .and_then(|h| h.to_str().ok())
            .unwrap_or("http")
    };
    format!("{proto}://{host}")
}

async fn upload_ticket(
    face: Live,
    Caller(_): Caller,
    https: Option<Extension<Https>>,
    headers: HeaderMap,
    Query(p): Query<HashMap<String, String>>,
) -> ApiResult {
    let ext = p.get("extension").map(String::as_str).unwrap_or("");
    let key = face.hub.new_upload_key(ext)?;
    let base = base_url(&headers, https.is_some());
    Ok(ok(
        json!({"url": format!("{base}/file/store/"), "fields": {"key": key}}),
    ))
}

fn valid_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= 100
        && key.chars().all(|c| c.is_ascii_alphanumeric() || c == '.')
        && !key.starts_with('.')
}

/// Longest `key` field read: longer ones are no key that was issued.
const MAX_KEY_FIELD: usize = 1024;

/// As for the hub's store errors: the cause in the log, only what failed to the client (anyone
/// may call these routes, and the chain can name the database's address).
fn internal(e: relay_channels::FileError) -> ApiError {
    tracing::error!(error = &e as &dyn std::error::Error, "uploaded files");
    ApiError::new(StatusCode::INTERNAL_SERVER_ERROR, 50000, e.to_string())
}

fn unknown_key() -> ApiError {
    ApiError::new(
        StatusCode::FORBIDDEN,
        40300,
        "unknown or already used upload key; ask GET /file/upload for one",
    )
}

/// Anyone may post here, so the file is spooled to disk as it arrives, never held in memory,
/// and a key that comes first (as the SDK sends it) is checked before any byte of the file is
/// read. Only a complete upload is kept under its key (see `relay_channels::Files`).
async fn upload(face: Live, form: Result<Multipart, MultipartRejection>) -> ApiResult {
    let mut form = form.map_err(|e| {
        ApiError::bad_request(format!("the upload must be multipart/form-data: {e}"))
    })?;
    let mut key = None;
    let mut stored: Option<relay_channels::Upload> = None;
    // Every read may wait at most BODY_TIMEOUT: a client that stops sending is given up on,
    // while a large upload on a slow link still gets through.
    let timeout = super::api::BODY_TIMEOUT;
    let stalled = |_| super::api::body_timeout();
    while let Some(mut part) = tokio::time::timeout(timeout, form.next_field())
        .await
        .map_err(stalled)?
        .map_err(|e| ApiError::bad_request(format!("bad multipart body: {e}")))?
    {
        match part.name() {
            Some("key") => {
                let mut data = Vec::new();
                while let Some(chunk) = tokio::time::timeout(timeout, part.chunk())
                    .await
                    .map_err(stalled)?
                    .map_err(|e| ApiError::bad_request(e.to_string()))?
                {
                    if data.len() + chunk.len() > MAX_KEY_FIELD {
                        return Err(unknown_key());
                    }
                    data.extend_from_slice(&chunk);
                }
                let k =
                    String::from_utf8(data).map_err(|e| ApiError::bad_request(e.to_string()))?;
                if !valid_key(&k) || !face.hub.upload_key_pending(&k) {
                    return Err(unknown_key());
                }
                key = Some(k);
            }
            Some("file") => {
                let mut out = face.hub.files().begin().await.map_err(internal)?;
                while let Some(chunk) = tokio::time::timeout(timeout, part.chunk())
                    .await
                    .map_err(stalled)?
                    .map_err(|e| ApiError::bad_request(e.to_string()))?
                {
                    out.write(&chunk).await.map_err(internal)?;
                }
                stored = Some(out);
            }
            _ => {}
        }
    }
    let key = key.ok_or_else(|| ApiError::bad_request("missing form field key"))?;
    let file = stored.ok_or_else(|| ApiError::bad_request("missing form field file"))?;
    // Taken before the file is kept: of two uploads racing with one key, one keeps its file.
    if !face.hub.take_upload_key(&key) {
        return Err(unknown_key());
    }
    let size = face.hub.files().keep(file, &key).await.map_err(internal)?;
    Ok(ok(json!({"key": key, "size": size})))
}

/// What a download is served as. Passive types are ones a browser only ever shows (images,
/// audio, video, PDF, plain text); everything else (SVG, HTML, XML, unknown bytes) could run
/// script if opened in the page's origin, so it is sandboxed and offered as a download.
struct Served {
    content_type: &'static str,
    passive: bool,
}

fn served_as(key: &str) -> Served {
    let ext = key.rsplit('.').next().unwrap_or("").to_ascii_lowercase();
    let passive = |content_type| Served {
        content_type,
        passive: true,
    };
    let active = |content_type| Served {
        content_type,
        passive: false,
    };
    match ext.as_str() {
        "png" => passive("image/png"),
        "jpg" | "jpeg" => passive("image/jpeg"),
        "gif" => passive("image/gif"),
        "webp" => passive("image/webp"),
        "avif" => passive("image/avif"),
        "bmp" => passive("image/bmp"),
        "txt" | "log" => passive("text/plain; charset=utf-8"),
        "pdf" => passive("application/pdf"),
        "mp3" => passive("audio/mpeg"),
        "wav" => passive("audio/wav"),
        "ogg" | "oga" | "opus" => passive("audio/ogg"),
        "m4a" => passive("audio/mp4"),
        "flac" => passive("audio/flac"),
        "mp4" | "m4v" => passive("video/mp4"),
        "webm" => passive("video/webm"),
        "svg" => active("image/svg+xml"),
        "json" => active("application/json"),
        _ => active("application/octet-stream"),
    }
}

/// Headers every download carries: the type is never sniffed (a PNG that is really HTML stays
/// a PNG), a stored file never changes (keys are used once), and an active type runs, if
/// opened at all, in a sandbox with an opaque origin, and is saved rather than shown.
fn download_headers(key: &str, len: u64) -> HeaderMap {
    let served = served_as(key);
    let mut h = HeaderMap::new();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(served.content_type),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    h.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    if !served.passive {
        h.insert(
            header::CONTENT_SECURITY_POLICY,
            HeaderValue::from_static("sandbox; default-src 'none'"),
        );
        // Keys are ASCII letters, digits and dots (valid_key), so the name needs no escaping.
        if let Ok(v) = HeaderValue::from_str(&format!("attachment; filename=\"{key}\"")) {
            h.insert(header::CONTENT_DISPOSITION, v);
        }
    }
    h
}

/// Streams the file chunk by chunk (a HEAD reads none of it): a download holds one chunk in
/// memory, whatever the file's size and however slow the client.
async fn download(face: Live, key: Result<Path<String>, PathRejection>) -> Response {
    let key = key.map(|Path(k)| k).unwrap_or_default();
    let no_such_file = || ApiError::new(StatusCode::NOT_FOUND, 40400, "no such file");
    if !valid_key(&key) {
        return no_such_file().into_response();
    }
    let stored = match face.hub.files().open(&key).await {
        Ok(Some(stored)) => stored,
        Ok(None) => return no_such_file().into_response(),
        Err(e) => return internal(e).into_response(),
    };
    let headers = download_headers(&key, stored.size());
    let chunks = futures_util::stream::try_unfold(stored, |mut stored| async move {
        Ok::<_, relay_channels::FileError>(stored.next_chunk().await?.map(|c| (c, stored)))
    });
    (headers, Body::from_stream(chunks)).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn active_types_are_sandboxed_attachments_and_passive_ones_are_not() {
        for key in [
            "a.svg", "a.SVG", "a.html", "a.htm", "a.xml", "a.xhtml", "a.js", "a.json", "a", "a.bin",
        ] {
            let h = download_headers(key, 1);
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{key}");
            assert!(
                h[header::CONTENT_SECURITY_POLICY]
                    .to_str()
                    .unwrap()
                    .starts_with("sandbox"),
                "{key}"
            );
            assert!(
                h[header::CONTENT_DISPOSITION]
                    .to_str()
                    .unwrap()
                    .starts_with("attachment"),
                "{key}"
            );
            assert!(
                !h[header::CONTENT_TYPE].to_str().unwrap().contains("html"),
                "{key}"
            );
        }
        for key in [
            "a.png", "a.JPG", "a.gif", "a.webp", "a.mp3", "a.ogg", "a.mp4", "a.pdf", "a.txt",
        ] {
            let h = download_headers(key, 1);
            assert_eq!(h[header::X_CONTENT_TYPE_OPTIONS], "nosniff", "{key}");
            assert!(h.get(header::CONTENT_SECURITY_POLICY).is_none(), "{key}");
            assert!(h.get(header::CONTENT_DISPOSITION).is_none(), "{key}");
        }
    }
}
