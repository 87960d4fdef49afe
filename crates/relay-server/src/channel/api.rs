//! The JSON HTTP API (spec section 7). Every response is a JSON envelope; hub calls that hash
//! passwords or wait for the store run on the blocking pool so sockets keep flowing.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};

use axum::body::Bytes;
use axum::extract::{ConnectInfo, FromRequest, FromRequestParts, Query, Request};
use axum::http::request::Parts;
use axum::routing::{get, post};
use axum::Router;
use relay_channels::{ChannelSummary, HubError, Tokens};
use serde_json::{json, Value};

use super::envelope::{ok, ApiError, ApiResult};
use super::ChannelFace;
use super::Live;

type Params = Query<HashMap<String, String>>;

pub(super) fn routes() -> Router<ChannelFace> {
    Router::new()
        .route("/auth/sign_in", post(sign_in))
        .route("/auth/refresh", post(refresh))
        .route("/auth/sign_up", post(sign_up))
        .route("/auth/sign_out", post(sign_out))
        .route("/auth/resend_confirmation", post(not_needed))
        .route("/auth/confirm_sign_up", post(not_needed))
        .route("/auth/forgot_password", post(operator_only))
        .route("/auth/confirm_reset_password", post(operator_only))
        .route("/auth/delete_account", post(operator_only))
        .route("/user/info", get(user_info).post(update_user_info))
        .route("/service/create", post(create_service))
        .route("/service/list", get(list_services))
        .route("/service/bind", post(bind))
        .route("/service/unbind", post(unbind))
        .route("/service/character/create", post(create_agent))
        .route("/service/character/update", post(update_agent))
        .route("/service/character/list", get(list_agents))
        .route("/character/fetch_profile", post(fetch_profile))
        .route("/channel/create", post(create_channel))
        .route("/channel/update", post(update_channel))
        .route("/channel/list", get(list_channels))
        .route("/channel/popular", get(popular_channels))
        .route("/channel/character_list", get(character_list))
        .route("/channel/history_message", get(history))
        .route("/service/group/create", post(create_service_group))
        .route("/user/group/create", post(create_user_group))
        .route("/user/group", get(get_group))
        .route("/service/group", get(get_group))
        .route("/user/group/list", get(list_groups))
        .route("/user/group/temp", get(list_groups))
}

/// The authenticated account behind `Authorization: Bearer <token>`.
pub(super) struct Caller(pub String);

impl FromRequestParts<ChannelFace> for Caller {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, face: &ChannelFace) -> Result<Self, ApiError> {
        let header = parts
            .headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| {
                ApiError::unauthorized("missing Authorization: Bearer <access token>")
            })?;
        let token = header
            .strip_prefix("Bearer ")
            .or_else(|| header.strip_prefix("bearer "))
            .unwrap_or(header)
            .trim();
        face.serving()?
            .authenticate(token)
            .map(Caller)
            .map_err(|_| ApiError::unauthorized("invalid or expired access token"))
    }
}

/// A client that stops sending mid-body is given up on after this long (as on the queue face).
pub(super) const BODY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(60);

/// The answer to a body not received within [`BODY_TIMEOUT`].
pub(super) fn body_timeout() -> ApiError {
    ApiError::new(
        http::StatusCode::REQUEST_TIMEOUT,
        40800,
        "request body not received in time",
    )
}

/// A request body. One axum cannot read (over its size limit, cut off, not sent in time) is
/// refused with the API's envelope, not axum's plain-text rejection.
pub(super) struct Raw(Bytes);

impl std::ops::Deref for Raw {
    type Target = Bytes;
    fn deref(&self) -> &Bytes {
        &self.0
    }
}

impl FromRequest<ChannelFace> for Raw {
    type Rejection = ApiError;

    async fn from_request(req: Request, face: &ChannelFace) -> Result<Self, ApiError> {
        tokio::time::timeout(BODY_TIMEOUT, Bytes::from_request(req, face))
            .await
            .map_err(|_| body_timeout())?
            .map(Raw)
            .map_err(|e| {
                ApiError::new(
                    e.status(),
                    i64::from(e.status().as_u16()) * 100,
                    e.body_text(),
                )
            })
    }
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, HubError> + Send + 'static,
) -> Result<T, ApiError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| {
            ApiError::new(
                http::StatusCode::INTERNAL_SERVER_ERROR,
                50000,
                e.to_string(),
            )
        })?
        .map_err(ApiError::from)
}

/// Parses a JSON object body; an empty body is `{}`.
fn body(bytes: &Bytes) -> Result<Value, ApiError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(json!({}));
    }
    match serde_json::from_slice::<Value>(bytes) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(_) => Err(ApiError::bad_request(
            "the request body must be a JSON object",
        )),
        Err(e) => Err(ApiError::bad_request(format!(
            "the request body is not JSON: {e}"
        ))),
    }
}

fn field(v: &Value, key: &str) -> Result<String, ApiError> {
    match v.get(key) {
        Some(Value::String(s)) => Ok(s.clone()),
        Some(_) => Err(ApiError::bad_request(format!("{key} must be a string"))),
        None => Err(ApiError::bad_request(format!("missing {key}"))),
    }
}

fn opt_field(v: &Value, key: &str) -> Option<String> {
    v.get(key).and_then(Value::as_str).map(str::to_owned)
}

fn param(p: &HashMap<String, String>, key: &str) -> Result<String, ApiError> {
    p.get(key)
        .cloned()
        .ok_or_else(|| ApiError::bad_request(format!("missing query parameter {key}")))
}

fn tokens_json(t: &Tokens) -> Value {
    json!({"AuthenticationResult": {
        "AccessToken": t.access_token,
        "RefreshToken": t.refresh_token,
        "ExpiresIn": t.expires_in_s,
        "TokenType": "Bearer",
    }})
}

fn channel_json(c: &ChannelSummary) -> Value {
    json!({
        "channel_id": c.channel_id,
        "channel_name": c.name,
        "channel_context": {"channel_description": c.description, "channel_type": c.channel_type},
        "member_count": c.member_count,
        "service_id": c.service_id,
    })
}

fn characters(v: &Value, key: &str) -> Result<Vec<String>, ApiError> {
    match v.get(key) {
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| {
                i.as_str().map(str::to_owned).ok_or_else(|| {
                    ApiError::bad_request(format!("{key} must be a list of id strings"))
                })
            })
            .collect(),
        _ => Err(ApiError::bad_request(format!(
            "{key} must be a list of id strings"
        ))),
    }
}

// ---- auth ----

/// The client's address: the listener's peer, or for a trusted proxy the client it forwards
/// for (unspecified for a request that did not come through the listener).
struct ClientAddr(IpAddr);

impl FromRequestParts<ChannelFace> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        face: &ChannelFace,
    ) -> Result<Self, Self::Rejection> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |c| c.0.ip());
        Ok(ClientAddr(
            face.trusted_proxies.client(peer, &parts.headers),
        ))
    }
}

async fn sign_in(face: Live, ClientAddr(from): ClientAddr, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (user, pw) = (field(&b, "username")?, field(&b, "password")?);
    let t = face.hub.sign_in_from(&user, &pw, from).await?;
    Ok(ok(tokens_json(&t)))
}

async fn refresh(face: Live, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (user, rt) = (field(&b, "username")?, field(&b, "refresh_token")?);
    let t = blocking(move || face.hub.refresh(&user, &rt)).await?;
    Ok(ok(tokens_json(&t)))
}

async fn sign_up(face: Live, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (user, pw) = (field(&b, "username")?, field(&b, "password")?);
    let slot = face.hub.passwords().slot().await?;
    let a = blocking(move || {
        let _slot = slot;
        face.hub.sign_up(&user, &pw)
    })
    .await?;
    Ok(ok(
        json!({"user_id": a.user_id, "email": a.email, "confirmed": true}),
    ))
}

async fn sign_out(face: Live, Caller(_): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let token = field(&b, "access_token")?;
    blocking(move || face.hub.sign_out(&token)).await?;
    Ok(ok(json!({})))
}

/// Accounts are confirmed at creation, so confirmation calls have nothing to do.
async fn not_needed() -> ApiResult {
    Ok(ok(
        json!({"message": "accounts on this server need no confirmation"}),
    ))
}

async fn operator_only() -> ApiResult {
    Err(ApiError::new(
        http::StatusCode::FORBIDDEN,
        40300,
        "password resets and deletions are done by the operator with `relay account`",
    ))
}

// ---- users ----

async fn user_info(face: Live, Caller(uid): Caller) -> ApiResult {
    let a = face.hub.user_info(&uid)?;
    Ok(ok(json!({
        "user_id": a.user_id,
        "email": a.email,
        "email_verified": true,
        "context": {"name": a.name, "avatar": a.avatar, "description": a.description},
        "system_context": {},
    })))
}

async fn update_user_info(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (n, a, d) = (
        opt_field(&b, "name"),
        opt_field(&b, "avatar"),
        opt_field(&b, "description"),
    );
    let acc = blocking(move || face.hub.update_user_info(&uid, n, a, d)).await?;
    Ok(ok(
        json!({"user_id": acc.user_id, "context": {"name": acc.name, "avatar": acc.avatar, "description": acc.description}}),
    ))
}

// ---- services and agents ----

async fn create_service(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let desc = opt_field(&b, "description").unwrap_or_default();
    let sid = blocking(move || face.hub.create_service(&uid, &desc)).await?;
    Ok(ok(json!({"service_id": sid})))
}

async fn list_services(face: Live, Caller(uid): Caller) -> ApiResult {
    let list: Vec<Value> = face
        .hub
        .list_services(&uid)
        .into_iter()
        .map(|(s, c)| json!({"service_id": s, "channel_ids": c}))
        .collect();
    Ok(ok(Value::Array(list)))
}

async fn bind(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (ch, sid) = (field(&b, "channel_id")?, field(&b, "service_id")?);
    blocking(move || face.hub.bind(&uid, &ch, &sid)).await?;
    Ok(ok(json!({})))
}

async fn unbind(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (ch, sid) = (field(&b, "channel_id")?, field(&b, "service_id")?);
    blocking(move || face.hub.unbind(&uid, &ch, &sid)).await?;
    Ok(ok(json!({})))
}

async fn create_agent(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let sid = field(&b, "service_id")?;
    let ctx = b.get("context").cloned().unwrap_or(json!({}));
    let name =
        opt_field(&ctx, "name").ok_or_else(|| ApiError::bad_request("missing context.name"))?;
    let (avatar, desc) = (opt_field(&ctx, "avatar"), opt_field(&ctx, "description"));
    let c = blocking(move || face.hub.create_agent(&uid, &sid, &name, avatar, desc)).await?;
    Ok(ok(serde_json::to_value(c).unwrap_or_default()))
}

async fn update_agent(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let (sid, cid) = (field(&b, "service_id")?, field(&b, "character_id")?);
    let ctx = b.get("context").cloned().unwrap_or(json!({}));
    let (n, a, d) = (
        opt_field(&ctx, "name"),
        opt_field(&ctx, "avatar"),
        opt_field(&ctx, "description"),
    );
    let c = blocking(move || face.hub.update_agent(&uid, &sid, &cid, n, a, d)).await?;
    Ok(ok(serde_json::to_value(c).unwrap_or_default()))
}

async fn list_agents(face: Live, Caller(_): Caller, Query(p): Params, raw: Raw) -> ApiResult {
    // The SDK sometimes sends the query as a JSON body on GET.
    let sid = match p.get("service_id") {
        Some(s) => s.clone(),
        None => field(&body(&raw)?, "service_id")?,
    };
    Ok(ok(
        serde_json::to_value(face.hub.list_agents(&sid)).unwrap_or_default()
    ))
}

/// Ids one `fetch_profile` may ask for. Every id, known or not, gets a profile in the answer, so
/// a 2 MiB body of one-letter ids once built about a gigabyte; real 36-character ids stop near
/// 50,000 per body anyway, and a client with more asks in parts.
const MAX_PROFILES: usize = 10_000;

async fn fetch_profile(face: Live, Caller(_): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let asked = b
        .get("character_list")
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if asked > MAX_PROFILES {
        return Err(ApiError::bad_request(format!(
            "character_list has {asked} ids; at most {MAX_PROFILES} per request"
        )));
    }
    let ids = characters(&b, "character_list")?;
    Ok(ok(
        serde_json::to_value(face.hub.fetch_profiles(&ids)).unwrap_or_default()
    ))
}

// ---- channels ----

async fn create_channel(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let name = field(&b, "channel_name")?;
    let desc = b
        .get("context")
        .and_then(|c| opt_field(c, "channel_description"))
        .unwrap_or_default();
    let ch = blocking(move || face.hub.create_channel(&uid, &name, &desc)).await?;
    Ok(ok(json!({"channel_id": ch})))
}

async fn update_channel(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let ch = field(&b, "channel_id")?;
    let name = opt_field(&b, "channel_name");
    let desc = b
        .get("context")
        .and_then(|c| opt_field(c, "channel_description"));
    let info = blocking(move || face.hub.update_channel(&uid, &ch, name, desc)).await?;
    Ok(ok(serde_json::to_value(info).unwrap_or_default()))
}

async fn list_channels(face: Live, Caller(uid): Caller) -> ApiResult {
    Ok(ok(Value::Array(
        face.hub
            .list_channels(&uid)
            .iter()
            .map(channel_json)
            .collect(),
    )))
}

async fn popular_channels(face: Live, Caller(_): Caller) -> ApiResult {
    Ok(ok(Value::Array(
        face.hub
            .popular_channels()
            .iter()
            .map(channel_json)
            .collect(),
    )))
}

/// Members only, never agents; the `service_id` parameter is ignored (user mode sends its own
/// user id there).
async fn character_list(face: Live, Caller(_): Caller, Query(p): Params) -> ApiResult {
    let ch = param(&p, "channel_id")?;
    Ok(ok(json!({"character_list": face.hub.members(&ch)?})))
}

async fn history(face: Live, Caller(uid): Caller, Query(p): Params, raw: Raw) -> ApiResult {
    let b = body(&raw).unwrap_or(json!({}));
    let ch = param(&p, "channel_id")?;
    let limit = p
        .get("limit")
        .cloned()
        .or_else(|| {
            b.get("limit").map(|v| {
                v.as_str()
                    .map(str::to_owned)
                    .unwrap_or_else(|| v.to_string())
            })
        })
        .and_then(|s| s.parse::<usize>().ok())
        .unwrap_or(64)
        .clamp(1, 1000);
    let before = p
        .get("before")
        .filter(|s| !s.is_empty() && s.as_str() != "null")
        .cloned();
    let msgs = blocking(move || face.hub.history(&uid, &ch, limit, before.as_deref())).await?;
    Ok(ok(serde_json::to_value(msgs).unwrap_or_default()))
}

// ---- groups ----

async fn create_service_group(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let chars = characters(&b, "characters")?;
    let ch = opt_field(&b, "channel_id");
    let gid = blocking(move || face.hub.create_group(&uid, ch.as_deref(), chars)).await?;
    // The SDK requires the bare id string here.
    Ok(ok(Value::String(gid)))
}

async fn create_user_group(face: Live, Caller(uid): Caller, raw: Raw) -> ApiResult {
    let b = body(&raw)?;
    let chars = characters(&b, "characters")?;
    let ch = opt_field(&b, "channel_id");
    let gid = blocking(move || face.hub.create_group(&uid, ch.as_deref(), chars)).await?;
    Ok(ok(json!({"group_id": gid})))
}

/// Resolves groups of either kind for any authenticated caller; `user_id` is not checked
/// (receivers pass the sender, an agent id or `no_sender` there).
async fn get_group(face: Live, Caller(_): Caller, Query(p): Params) -> ApiResult {
    let gid = param(&p, "group_id")?;
    match face.hub.group(&gid) {
        Some(chars) => Ok(ok(json!({"group_id": gid, "characters": chars}))),
        None => Err(ApiError::new(
            http::StatusCode::NOT_FOUND,
            40400,
            format!("no such group {gid}"),
        )),
    }
}

async fn list_groups(face: Live, Caller(_): Caller, Query(p): Params) -> ApiResult {
    let groups = match p.get("channel_id") {
        Some(ch) => face.hub.channel_groups(ch),
        None => Vec::new(),
    };
    Ok(ok(Value::Array(
        groups
            .into_iter()
            .map(|g| json!({"group_id": g.group_id, "characters": g.characters}))
            .collect(),
    )))
}
