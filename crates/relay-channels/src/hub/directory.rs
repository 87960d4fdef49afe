//! Accounts, tokens, services, agents, channels, bindings and groups: everything the HTTP API
//! reads and writes. Records that a client will rely on after the call returns (an account, a
//! token, a group id) are on disk before the call returns.

use relay_wire::channel::types::{ChannelInfo, Character, CharacterContext};

use super::Hub;
use crate::auth::{self, ACCESS_TTL_MS, REFRESH_TTL_MS};
use crate::error::HubError;
use crate::model::{Account, Agent, Channel, Group, Service, Token, TokenKind};
use crate::store::Table;

/// How long an upload key from `GET /file/upload` may wait for its upload.
pub(super) const UPLOAD_KEY_TTL_MS: i64 = 3_600_000;

/// The longest channel name and description: far above any real one, and small enough that the
/// `channel_info` frame carrying them stays within the 1 MiB a client accepts.
pub(super) const MAX_CHANNEL_NAME: usize = 1024;
pub(super) const MAX_CHANNEL_DESCRIPTION: usize = 64 * 1024;

/// Checks what a create or update would set (`None`: left as it is). A name is what every list
/// and client shows a channel by, so it is never empty or only whitespace.
fn check_channel_text(name: Option<&str>, description: Option<&str>) -> Result<(), HubError> {
    let (name, description) = (name.unwrap_or("-"), description.unwrap_or(""));
    if name.trim().is_empty() {
        return Err(HubError::Invalid(
            "channel_name must not be empty or only whitespace".into(),
        ));
    }
    if name.len() > MAX_CHANNEL_NAME {
        return Err(HubError::Invalid(format!(
            "channel_name is {} bytes; at most {MAX_CHANNEL_NAME}",
            name.len()
        )));
    }
    if description.len() > MAX_CHANNEL_DESCRIPTION {
        return Err(HubError::Invalid(format!(
            "channel_description is {} bytes; at most {MAX_CHANNEL_DESCRIPTION}",
            description.len()
        )));
    }
    Ok(())
}

/// The result of a sign-in or refresh.
#[derive(Debug, Clone)]
pub struct Tokens {
    pub access_token: String,
    pub refresh_token: String,
    pub expires_in_s: i64,
}

/// A channel as listed to users.
#[derive(Debug, Clone)]
pub struct ChannelSummary {
    pub channel_id: String,
    pub name: String,
    pub description: String,
    pub channel_type: String,
    pub owner: String,
    pub member_count: usize,
    pub service_id: Option<String>,
}

impl From<&Channel> for ChannelSummary {
    fn from(c: &Channel) -> Self {
        Self {
            channel_id: c.channel_id.clone(),
            name: c.name.clone(),
            description: c.description.clone(),
            channel_type: c.channel_type.clone(),
            owner: c.owner.clone(),
            member_count: c.members.len(),
            service_id: c.service_id.clone(),
        }
    }
}

fn normalise_email(email: &str) -> Result<String, HubError> {
    let e = email.trim().to_lowercase();
    if e.is_empty() || e.contains(char::is_whitespace) {
        return Err(HubError::Invalid(
            "the account name (an e-mail) must be non-empty and contain no spaces".into(),
        ));
    }
    Ok(e)
}

fn character_of_account(a: &Account) -> Character {
    Character {
        character_id: a.user_id.clone(),
        character_context: CharacterContext {
            name: a.name.clone(),
            avatar: a.avatar.clone(),
            description: a.description.clone(),
        },
    }
}

fn character_of_agent(a: &Agent) -> Character {
    Character {
        character_id: a.character_id.clone(),
        character_context: CharacterContext {
            name: a.name.clone(),
            avatar: a.avatar.clone(),
            description: a.description.clone(),
        },
    }
}

impl Hub {
    // ---- accounts and tokens ----

    /// Creates an account (operator path: always allowed).
    pub fn add_account(
        &self,
        email: &str,
        password: &str,
        name: Option<&str>,
    ) -> Result<Account, HubError> {
        let email = normalise_email(email)?;
        if password.is_empty() {
            return Err(HubError::Invalid("the password must not be empty".into()));
        }
        // Hash before taking the lock: argon2 is deliberately slow.
        let password_hash = auth::hash_password(password)?;
        let account = {
            let mut st = self.lock();
            if st.accounts.contains_key(&email) {
                return Err(HubError::AccountExists(email));
            }
            let default_name = email.split('@').next().unwrap_or(&email).to_owned();
            let account = Account {
                user_id: auth::new_id(),
                email: email.clone(),
                password_hash,
                name: name.map(str::to_owned).unwrap_or(default_name),
                avatar: None,
                description: None,
                created_ms: auth::now_ms(),
            };
            self.inner.store.put(Table::Accounts, &email, &account);
            st.email_of.insert(account.user_id.clone(), email.clone());
            st.accounts.insert(email, account.clone());
            account
        };
        self.flush()?;
        Ok(account)
    }

    /// Self-service sign-up, only when the operator enabled it.
    pub fn sign_up(&self, email: &str, password: &str) -> Result<Account, HubError> {
        if !self.inner.cfg.open_signup {
            return Err(HubError::SignupClosed);
        }
        self.add_account(email, password, None)
    }

    pub fn list_accounts(&self) -> Vec<Account> {
        let mut v: Vec<Account> = self.lock().accounts.values().cloned().collect();
        v.sort_by_key(|a| a.created_ms);
        v
    }

    /// [`Hub::sign_in`] for a client at `from`, as the network faces call it: throttled per
    /// account and address, and hashing only in one of the few slots (on the blocking pool).
    pub async fn sign_in_from(
        &self,
        email: &str,
        password: &str,
        from: std::net::IpAddr,
    ) -> Result<Tokens, HubError> {
        let guard = self.passwords();
        let attempt = guard.admit(email, from)?;
        let slot = attempt.slot(guard).await?;
        let (hub, email, password) = (self.clone(), email.to_owned(), password.to_owned());
        let result = match tokio::task::spawn_blocking(move || {
            let _slot = slot;
            hub.sign_in(&email, &password)
        })
        .await
        {
            Ok(result) => result,
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime is shutting down.
            Err(_) => Err(HubError::Busy),
        };
        if result.is_ok() {
            attempt.succeeded(guard);
        }
        result
    }

    /// Checks the password and mints tokens, unthrottled: the operator's and tests' path.
    pub fn sign_in(&self, email: &str, password: &str) -> Result<Tokens, HubError> {
        let email = normalise_email(email).map_err(|_| HubError::BadCredentials)?;
        let account = self.lock().accounts.get(&email).cloned();
        let Some(account) = account else {
            auth::verify_against_nothing(password);
            return Err(HubError::BadCredentials);
        };
        if !auth::verify_password(password, &account.password_hash) {
            return Err(HubError::BadCredentials);
        }
        let now = auth::now_ms();
        let access = auth::new_token();
        let refresh = auth::new_token();
        {
            let mut st = self.lock();
            for (tok, kind, ttl) in [
                (&access, TokenKind::Access, ACCESS_TTL_MS),
                (&refresh, TokenKind::Refresh, REFRESH_TTL_MS),
            ] {
                let t = Token {
                    user_id: account.user_id.clone(),
                    kind,
                    expires_ms: now + ttl,
                };
                self.inner.store.put(Table::Tokens, tok, &t);
                st.tokens.insert(tok.clone(), t);
            }
            self.purge_expired(&mut st.tokens, now);
        }
        self.flush()?;
        Ok(Tokens {
            access_token: access,
            refresh_token: refresh,
            expires_in_s: ACCESS_TTL_MS / 1000,
        })
    }

    fn purge_expired(&self, tokens: &mut std::collections::HashMap<String, Token>, now: i64) {
        let expired: Vec<String> = tokens
            .iter()
            .filter(|(_, t)| t.expires_ms <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for k in expired {
            tokens.remove(&k);
            self.inner.store.delete(Table::Tokens, &k);
        }
    }

    /// A new access token for a still-valid refresh token; the refresh token stays valid.
    pub fn refresh(&self, email: &str, refresh_token: &str) -> Result<Tokens, HubError> {
        let email = normalise_email(email).map_err(|_| HubError::BadToken)?;
        let now = auth::now_ms();
        let access = auth::new_token();
        {
            let mut st = self.lock();
            let t = st.tokens.get(refresh_token).ok_or(HubError::BadToken)?;
            if t.kind != TokenKind::Refresh || t.expires_ms <= now {
                return Err(HubError::BadToken);
            }
            let user_id = t.user_id.clone();
            if st.email_of.get(&user_id) != Some(&email) {
                return Err(HubError::BadToken);
            }
            let tok = Token {
                user_id,
                kind: TokenKind::Access,
                expires_ms: now + ACCESS_TTL_MS,
            };
            self.inner.store.put(Table::Tokens, &access, &tok);
            st.tokens.insert(access.clone(), tok);
        }
        self.flush()?;
        Ok(Tokens {
            access_token: access,
            refresh_token: refresh_token.to_owned(),
            expires_in_s: ACCESS_TTL_MS / 1000,
        })
    }

    pub fn sign_out(&self, access_token: &str) -> Result<(), HubError> {
        let removed = self.lock().tokens.remove(access_token).is_some();
        if !removed {
            return Err(HubError::BadToken);
        }
        self.inner.store.delete(Table::Tokens, access_token);
        self.flush()
    }

    /// The user id of a valid, unexpired access token.
    pub fn authenticate(&self, access_token: &str) -> Result<String, HubError> {
        let st = self.lock();
        match st.tokens.get(access_token) {
            Some(t) if t.kind == TokenKind::Access && t.expires_ms > auth::now_ms() => {
                Ok(t.user_id.clone())
            }
            _ => Err(HubError::BadToken),
        }
    }

    pub fn user_info(&self, user_id: &str) -> Result<Account, HubError> {
        let st = self.lock();
        st.email_of
            .get(user_id)
            .and_then(|e| st.accounts.get(e))
            .cloned()
            .ok_or_else(|| HubError::NotFound(format!("user {user_id}")))
    }

    pub fn update_user_info(
        &self,
        user_id: &str,
        name: Option<String>,
        avatar: Option<String>,
        description: Option<String>,
    ) -> Result<Account, HubError> {
        let account = {
            let mut st = self.lock();
            let email = st
                .email_of
                .get(user_id)
                .cloned()
                .ok_or_else(|| HubError::NotFound(format!("user {user_id}")))?;
            let a = st
                .accounts
                .get_mut(&email)
                .ok_or_else(|| HubError::NotFound(format!("user {user_id}")))?;
            if let Some(n) = name {
                a.name = n;
            }
            if avatar.is_some() {
                a.avatar = avatar;
            }
            if description.is_some() {
                a.description = description;
            }
            self.inner.store.put(Table::Accounts, &email, a);
            a.clone()
        };
        self.flush()?;
        Ok(account)
    }

    // ---- services and agents ----

    pub fn create_service(&self, owner: &str, description: &str) -> Result<String, HubError> {
        let service = Service {
            service_id: auth::new_id(),
            owner: owner.to_owned(),
            description: description.to_owned(),
        };
        {
            let mut st = self.lock();
            self.inner
                .store
                .put(Table::Services, &service.service_id, &service);
            st.services
                .insert(service.service_id.clone(), service.clone());
        }
        self.flush()?;
        Ok(service.service_id)
    }

    /// The caller's services with the channels currently bound to each.
    pub fn list_services(&self, owner: &str) -> Vec<(String, Vec<String>)> {
        let st = self.lock();
        let mut out: Vec<(String, Vec<String>)> = st
            .services
            .values()
            .filter(|s| s.owner == owner)
            .map(|s| {
                let mut chans: Vec<String> = st
                    .channels
                    .values()
                    .filter(|c| c.service_id.as_deref() == Some(&s.service_id))
                    .map(|c| c.channel_id.clone())
                    .collect();
                chans.sort();
                (s.service_id.clone(), chans)
            })
            .collect();
        out.sort();
        out
    }

    pub(crate) fn owned_service(
        st: &super::State,
        owner: &str,
        service_id: &str,
    ) -> Result<(), HubError> {
        match st.services.get(service_id) {
            Some(s) if s.owner == owner => Ok(()),
            Some(_) => Err(HubError::Forbidden(format!(
                "service {service_id} belongs to another account"
            ))),
            None => Err(HubError::NotFound(format!("service {service_id}"))),
        }
    }

    /// Binds a channel the caller owns to a service the caller owns, replacing any binding.
    pub fn bind(&self, caller: &str, channel_id: &str, service_id: &str) -> Result<(), HubError> {
        {
            let mut st = self.lock();
            Self::owned_service(&st, caller, service_id)?;
            let ch = st
                .channels
                .get_mut(channel_id)
                .ok_or_else(|| HubError::NotFound(format!("channel {channel_id}")))?;
            if ch.owner != caller {
                return Err(HubError::Forbidden(format!(
                    "channel {channel_id} belongs to another account"
                )));
            }
            ch.service_id = Some(service_id.to_owned());
            self.inner.store.put(Table::Channels, channel_id, ch);
        }
        self.flush()
    }

    pub fn unbind(&self, caller: &str, channel_id: &str, service_id: &str) -> Result<(), HubError> {
        {
            let mut st = self.lock();
            Self::owned_service(&st, caller, service_id)?;
            let ch = st
                .channels
                .get_mut(channel_id)
                .ok_or_else(|| HubError::NotFound(format!("channel {channel_id}")))?;
            if ch.service_id.as_deref() != Some(service_id) {
                return Err(HubError::Invalid(format!(
                    "channel {channel_id} is not bound to service {service_id}"
                )));
            }
            ch.service_id = None;
            self.inner.store.put(Table::Channels, channel_id, ch);
        }
        self.flush()
    }

    pub fn create_agent(
        &self,
        caller: &str,
        service_id: &str,
        name: &str,
        avatar: Option<String>,
        description: Option<String>,
    ) -> Result<Character, HubError> {
        let agent = Agent {
            character_id: auth::new_id(),
            service_id: service_id.to_owned(),
            name: name.to_owned(),
            avatar,
            description,
        };
        {
            let mut st = self.lock();
            Self::owned_service(&st, caller, service_id)?;
            self.inner
                .store
                .put(Table::Agents, &agent.character_id, &agent);
            st.agents.insert(agent.character_id.clone(), agent.clone());
        }
        self.flush()?;
        Ok(character_of_agent(&agent))
    }

    pub fn update_agent(
        &self,
        caller: &str,
        service_id: &str,
        character_id: &str,
        name: Option<String>,
        avatar: Option<String>,
        description: Option<String>,
    ) -> Result<Character, HubError> {
        let agent = {
            let mut st = self.lock();
            Self::owned_service(&st, caller, service_id)?;
            let a = st
                .agents
                .get_mut(character_id)
                .filter(|a| a.service_id == service_id)
                .ok_or_else(|| HubError::NotFound(format!("agent {character_id}")))?;
            if let Some(n) = name {
                a.name = n;
            }
            if avatar.is_some() {
                a.avatar = avatar;
            }
            if description.is_some() {
                a.description = description;
            }
            self.inner.store.put(Table::Agents, character_id, a);
            a.clone()
        };
        self.flush()?;
        Ok(character_of_agent(&agent))
    }

    pub fn list_agents(&self, service_id: &str) -> Vec<Character> {
        let st = self.lock();
        let mut v: Vec<&Agent> = st
            .agents
            .values()
            .filter(|a| a.service_id == service_id)
            .collect();
        v.sort_by(|a, b| {
            a.name
                .cmp(&b.name)
                .then(a.character_id.cmp(&b.character_id))
        });
        v.into_iter().map(character_of_agent).collect()
    }

    /// Profiles of users and agents in request order; unknown ids get a placeholder profile
    /// (the SDK indexes the result positionally).
    pub fn fetch_profiles(&self, ids: &[String]) -> Vec<Character> {
        let st = self.lock();
        ids.iter()
            .map(|id| {
                if let Some(a) = st.email_of.get(id).and_then(|e| st.accounts.get(e)) {
                    character_of_account(a)
                } else if let Some(a) = st.agents.get(id) {
                    character_of_agent(a)
                } else {
                    Character {
                        character_id: id.clone(),
                        character_context: CharacterContext {
                            name: "<unknown>".into(),
                            avatar: None,
                            description: None,
                        },
                    }
                }
            })
            .collect()
    }

    // ---- channels ----

    /// Creates a channel owned by (and containing) the caller.
    pub fn create_channel(
        &self,
        owner: &str,
        name: &str,
        description: &str,
    ) -> Result<String, HubError> {
        check_channel_text(Some(name), Some(description))?;
        let mut ch = Channel {
            channel_id: auth::new_id(),
            name: name.to_owned(),
            description: description.to_owned(),
            channel_type: "ccs".into(),
            owner: owner.to_owned(),
            members: vec![owner.to_owned()],
            service_id: None,
            member_set: Default::default(),
        };
        ch.reindex();
        {
            let mut st = self.lock();
            self.inner.store.put(Table::Channels, &ch.channel_id, &ch);
            st.channels.insert(ch.channel_id.clone(), ch.clone());
        }
        self.flush()?;
        Ok(ch.channel_id)
    }

    /// Renames a channel (its owner or the owner of its bound service) and pushes the new
    /// channel info to its online members.
    pub fn update_channel(
        &self,
        caller: &str,
        channel_id: &str,
        name: Option<String>,
        description: Option<String>,
    ) -> Result<ChannelInfo, HubError> {
        check_channel_text(name.as_deref(), description.as_deref())?;
        let info = {
            let mut st = self.lock();
            let ch = st
                .channels
                .get(channel_id)
                .ok_or_else(|| HubError::NotFound(format!("channel {channel_id}")))?;
            let via_service = ch
                .service_id
                .as_ref()
                .and_then(|s| st.services.get(s))
                .map(|s| s.owner == caller)
                .unwrap_or(false);
            if ch.owner != caller && !via_service {
                return Err(HubError::Forbidden(format!(
                    "only the owner of channel {channel_id} or of its service may update it"
                )));
            }
            let info = ChannelInfo {
                channel_id: channel_id.to_owned(),
                channel_name: name.unwrap_or_else(|| ch.name.clone()),
                channel_description: description.unwrap_or_else(|| ch.description.clone()),
                channel_type: ch.channel_type.clone(),
            };
            self.apply_channel_info(&mut st, &info);
            info
        };
        self.flush()?;
        Ok(info)
    }

    pub fn list_channels(&self, user_id: &str) -> Vec<ChannelSummary> {
        let st = self.lock();
        let mut v: Vec<ChannelSummary> = st
            .channels
            .values()
            .filter(|c| c.is_member(user_id))
            .map(ChannelSummary::from)
            .collect();
        v.sort_by(|a, b| a.name.cmp(&b.name).then(a.channel_id.cmp(&b.channel_id)));
        v
    }

    /// Every channel, most members first.
    pub fn popular_channels(&self) -> Vec<ChannelSummary> {
        let st = self.lock();
        let mut v: Vec<ChannelSummary> = st.channels.values().map(ChannelSummary::from).collect();
        v.sort_by(|a, b| {
            b.member_count
                .cmp(&a.member_count)
                .then(a.channel_id.cmp(&b.channel_id))
        });
        v
    }

    pub fn channel(&self, channel_id: &str) -> Option<ChannelSummary> {
        self.lock()
            .channels
            .get(channel_id)
            .map(ChannelSummary::from)
    }

    /// Current member user ids in join order.
    pub fn members(&self, channel_id: &str) -> Result<Vec<String>, HubError> {
        self.lock()
            .channels
            .get(channel_id)
            .map(|c| c.members.clone())
            .ok_or_else(|| HubError::NotFound(format!("channel {channel_id}")))
    }

    // ---- groups ----

    pub fn create_group(
        &self,
        creator: &str,
        channel_id: Option<&str>,
        characters: Vec<String>,
    ) -> Result<String, HubError> {
        let g = Group {
            group_id: auth::new_id(),
            characters,
            creator: creator.to_owned(),
            channel_id: channel_id.map(str::to_owned),
        };
        {
            let mut st = self.lock();
            self.inner.store.put(Table::Groups, &g.group_id, &g);
            st.groups.insert(g.group_id.clone(), g.clone());
        }
        self.flush()?;
        Ok(g.group_id)
    }

    /// A group's characters in creation order; `"service"` is the empty group.
    pub fn group(&self, group_id: &str) -> Option<Vec<String>> {
        if group_id == relay_wire::channel::SERVICE_GROUP {
            return Some(Vec::new());
        }
        self.lock()
            .groups
            .get(group_id)
            .map(|g| g.characters.clone())
    }

    /// Groups created for a channel.
    pub fn channel_groups(&self, channel_id: &str) -> Vec<Group> {
        let st = self.lock();
        let mut v: Vec<Group> = st
            .groups
            .values()
            .filter(|g| g.channel_id.as_deref() == Some(channel_id))
            .cloned()
            .collect();
        v.sort_by(|a, b| a.group_id.cmp(&b.group_id));
        v
    }

    // ---- uploads ----

    /// Issues an unguessable file key for one upload, valid for [`UPLOAD_KEY_TTL_MS`]. Keys
    /// never used are forgotten once expired, so asking for keys does not grow the memory.
    pub fn new_upload_key(&self, extension: &str) -> Result<String, HubError> {
        let ext: String = extension
            .trim_start_matches('.')
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .take(16)
            .collect();
        let key = if ext.is_empty() {
            auth::new_token()
        } else {
            format!("{}.{ext}", auth::new_token())
        };
        let now = auth::now_ms();
        let mut st = self.lock();
        let uploads = &mut st.sessions.uploads;
        // Swept when the map has doubled since the last sweep: amortised constant time.
        if uploads.len() >= 64 && uploads.len().is_power_of_two() {
            uploads.retain(|_, issued| now - *issued < UPLOAD_KEY_TTL_MS);
        }
        uploads.insert(key.clone(), now);
        Ok(key)
    }

    /// Whether an upload key was issued, is unused and has not expired (without using it).
    pub fn upload_key_pending(&self, key: &str) -> bool {
        let st = self.lock();
        st.sessions
            .uploads
            .get(key)
            .is_some_and(|t| auth::now_ms() - t < UPLOAD_KEY_TTL_MS)
    }

    /// Consumes an issued upload key; false if it was never issued, already used or expired.
    pub fn take_upload_key(&self, key: &str) -> bool {
        let issued = self.lock().sessions.uploads.remove(key);
        issued.is_some_and(|t| auth::now_ms() - t < UPLOAD_KEY_TTL_MS)
    }
}
