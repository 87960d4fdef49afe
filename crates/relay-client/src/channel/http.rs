//! The HTTP half of the channel face's API, enough for tools and tests.

use serde_json::{json, Value};

use super::error::ClientError;

/// An HTTP client for one server, optionally signed in.
#[derive(Clone)]
pub struct ChannelHttp {
    base: String,
    http: reqwest::Client,
    /// The bearer token sent (with `Auth-Origin: cognito`) on every call; `None` until signed in.
    pub access_token: Option<String>,
}

impl ChannelHttp {
    /// A client for the server at `base` (a trailing `/` is dropped), with a 16-second timeout per
    /// request.
    pub fn new(base: &str) -> Result<Self, ClientError> {
        let http = reqwest::Client::builder()
            .timeout(std::time::Duration::from_secs(16))
            .build()?;
        Ok(Self {
            base: base.trim_end_matches('/').to_owned(),
            http,
            access_token: None,
        })
    }

    async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, ClientError> {
        let mut req = self.http.request(method, format!("{}{}", self.base, path));
        if let Some(t) = &self.access_token {
            req = req.bearer_auth(t).header("Auth-Origin", "cognito");
        }
        if let Some(b) = body {
            req = req.json(&b);
        }
        let resp = req.send().await?;
        let status = resp.status().as_u16();
        let bytes = resp.bytes().await?;
        let v: Value = serde_json::from_slice(&bytes).map_err(|_| {
            let text = String::from_utf8_lossy(&bytes);
            // An error page can be long; its start says what answered.
            let body: String = text.trim().chars().take(500).collect();
            ClientError::NotJson { status, body }
        })?;
        match v.get("code").and_then(Value::as_i64) {
            Some(10000) => Ok(v.get("data").cloned().unwrap_or(Value::Null)),
            Some(code) => Err(ClientError::Api {
                code,
                message: v
                    .get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_owned(),
            }),
            None => Err(ClientError::Response(v.to_string())),
        }
    }

    fn str_at(v: &Value, ptr: &str) -> Result<String, ClientError> {
        v.pointer(ptr)
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Response(format!("missing {ptr} in {v}")))
    }

    /// Signs in and keeps the access token for later calls; returns (access, refresh).
    pub async fn sign_in(
        &mut self,
        email: &str,
        password: &str,
    ) -> Result<(String, String), ClientError> {
        let d = self
            .call(
                reqwest::Method::POST,
                "/auth/sign_in",
                Some(json!({"username": email, "password": password})),
            )
            .await?;
        let access = Self::str_at(&d, "/AuthenticationResult/AccessToken")?;
        let refresh = Self::str_at(&d, "/AuthenticationResult/RefreshToken")?;
        self.access_token = Some(access.clone());
        Ok((access, refresh))
    }

    /// The signed-in user's `user_id`, from `GET /user/info`.
    pub async fn user_id(&self) -> Result<String, ClientError> {
        let d = self.call(reqwest::Method::GET, "/user/info", None).await?;
        Self::str_at(&d, "/user_id")
    }

    /// Creates a channel (`POST /channel/create`) and returns its `channel_id`.
    pub async fn create_channel(
        &self,
        name: &str,
        description: &str,
    ) -> Result<String, ClientError> {
        let d = self
            .call(
                reqwest::Method::POST,
                "/channel/create",
                Some(
                    json!({"channel_name": name, "context": {"channel_description": description}}),
                ),
            )
            .await?;
        Self::str_at(&d, "/channel_id")
    }

    /// Channels the caller is a member of, as returned by the server.
    pub async fn channels(&self) -> Result<Vec<Value>, ClientError> {
        let d = self
            .call(reqwest::Method::GET, "/channel/list", None)
            .await?;
        Ok(d.as_array().cloned().unwrap_or_default())
    }

    /// The `character_list` of a channel (`GET /channel/character_list`).
    pub async fn members(&self, channel_id: &str) -> Result<Vec<String>, ClientError> {
        let d = self
            .call(
                reqwest::Method::GET,
                &format!("/channel/character_list?channel_id={channel_id}"),
                None,
            )
            .await?;
        serde_json::from_value(d.get("character_list").cloned().unwrap_or(Value::Null))
            .map_err(|e| ClientError::Response(e.to_string()))
    }

    /// Creates a service (`POST /service/create`) and returns its `service_id`.
    pub async fn create_service(&self, description: &str) -> Result<String, ClientError> {
        let d = self
            .call(
                reqwest::Method::POST,
                "/service/create",
                Some(json!({"description": description})),
            )
            .await?;
        Self::str_at(&d, "/service_id")
    }

    /// Binds a service to a channel (`POST /service/bind`).
    pub async fn bind(&self, channel_id: &str, service_id: &str) -> Result<(), ClientError> {
        self.call(
            reqwest::Method::POST,
            "/service/bind",
            Some(json!({"channel_id": channel_id, "service_id": service_id})),
        )
        .await
        .map(|_| ())
    }

    /// A service-side group (bare id string in the response).
    pub async fn create_service_group(&self, characters: &[String]) -> Result<String, ClientError> {
        let d = self
            .call(
                reqwest::Method::POST,
                "/service/group/create",
                Some(json!({"group_id": "", "characters": characters})),
            )
            .await?;
        d.as_str()
            .map(str::to_owned)
            .ok_or_else(|| ClientError::Response(d.to_string()))
    }

    /// A user-side group for `message_up` recipients.
    pub async fn create_user_group(
        &self,
        channel_id: &str,
        characters: &[String],
    ) -> Result<String, ClientError> {
        let d = self.call(reqwest::Method::POST, "/user/group/create", Some(json!({"channel_id": channel_id, "group_name": "A_message_up_group", "characters": characters}))).await?;
        Self::str_at(&d, "/group_id")
    }

    /// Up to `limit` most recent messages of a channel (`GET /channel/history_message`), as
    /// returned.
    pub async fn history(&self, channel_id: &str, limit: usize) -> Result<Vec<Value>, ClientError> {
        let d = self
            .call(
                reqwest::Method::GET,
                &format!(
                    "/channel/history_message?channel_id={channel_id}&limit={limit}&before=null"
                ),
                None,
            )
            .await?;
        Ok(d.as_array().cloned().unwrap_or_default())
    }
}
