//! The persisted records. Stored as JSON in the embedded store so that a record can gain a field
//! without a migration.

use std::collections::HashSet;

use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub user_id: String,
    pub email: String,
    /// Argon2id PHC string.
    pub password_hash: String,
    pub name: String,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    pub created_ms: i64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TokenKind {
    Access,
    Refresh,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Token {
    pub user_id: String,
    pub kind: TokenKind,
    pub expires_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub service_id: String,
    pub owner: String,
    #[serde(default)]
    pub description: String,
}

/// A character created by a service; never a member, never a recipient.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Agent {
    pub character_id: String,
    pub service_id: String,
    pub name: String,
    #[serde(default)]
    pub avatar: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Channel {
    pub channel_id: String,
    pub name: String,
    pub description: String,
    pub channel_type: String,
    pub owner: String,
    /// User ids in join order.
    pub members: Vec<String>,
    pub service_id: Option<String>,
    #[serde(skip)]
    pub member_set: HashSet<String>,
}

impl Channel {
    pub fn is_member(&self, user_id: &str) -> bool {
        self.member_set.contains(user_id)
    }
    pub(crate) fn reindex(&mut self) {
        self.member_set = self.members.iter().cloned().collect();
    }
}

/// An immutable, ordered list of character ids.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub group_id: String,
    pub characters: Vec<String>,
    pub creator: String,
    #[serde(default)]
    pub channel_id: Option<String>,
}

/// One channel message in the log, with who may see it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LoggedMessage {
    pub offset: u64,
    /// `message_up` or `message_down`.
    pub kind: String,
    pub body: relay_wire::channel::outbound::MessageBody,
    /// The service that sent a `message_down`, or the channel's bound service for a `message_up`.
    pub service_id: Option<String>,
    /// Recipients after resolution (current members at the time), or `None` when that is
    /// exactly the recipients group: groups are immutable, so the common case stores no list.
    #[serde(default)]
    pub resolved: Option<Vec<String>>,
}

impl LoggedMessage {
    /// Whether `user_id` was a resolved recipient; `groups` resolves the `None` case.
    pub fn reached(
        &self,
        user_id: &str,
        groups: &std::collections::HashMap<String, Group>,
    ) -> bool {
        match &self.resolved {
            Some(list) => list.iter().any(|r| r == user_id),
            None => groups
                .get(&self.body.recipients)
                .is_some_and(|g| g.characters.iter().any(|c| c == user_id)),
        }
    }
}

/// The last value of one kind of UI state pushed to one user in one channel.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct UiEntry {
    pub service_id: String,
    pub recipients: String,
    pub content: Value,
    #[serde(default)]
    pub group_id: Option<String>,
}

/// What the store keeps about a channel's log besides its messages. Offsets are handed out
/// only below `reserved`, which is on disk first, so a crash that loses the newest messages
/// (they are delivered before their commit) can never lead to their offsets being given again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogMeta {
    /// Every offset given so far is below this.
    pub reserved: u64,
    /// Set by a clean stop, which first lowers `reserved` to the next offset: nothing was lost.
    pub clean: bool,
    /// Offset ranges `[start, end)` that may have held messages lost in a crash.
    pub holes: Vec<(u64, u64)>,
}
