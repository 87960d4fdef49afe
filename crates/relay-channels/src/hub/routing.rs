//! What each frame does once its sender is known. Identity comes from the socket's login only:
//! the frames' own `user_id`/`service_id` fields are never read.

use std::collections::HashSet;
use std::sync::Arc;

use relay_wire::channel::inbound::{ClientMessage, Fetch, Inbound, ResumeFrom};
use relay_wire::channel::outbound::{self, MessageBody, Position};
use relay_wire::channel::types::{ChannelInfo, ClickArgument, UpdateKind};
use relay_wire::channel::SERVICE_GROUP;
use serde_json::{Map, Value};

use super::session::{copy, copy_with_context, text, CachedTargets, ConnId, Identity};
use super::{Hub, State};
use crate::auth::{new_id, now_ms};
use crate::model::{Channel, LoggedMessage, UiEntry};
use crate::store::{ui_key, Table};

type Outcome = Result<Option<Map<String, Value>>, String>;

impl Hub {
    pub(crate) fn route(&self, st: &mut State, id: ConnId, identity: &Identity, inbound: Inbound) {
        let outcome = match identity {
            Identity::User { user_id } => self.route_user(st, id, user_id, &inbound),
            Identity::Service { service_id, .. } => {
                self.route_service(st, id, service_id, &inbound)
            }
        };
        let frame = match outcome {
            Ok(None) => copy(&inbound.request_id, &inbound.origin_type, true, None),
            Ok(Some(ctx)) => {
                copy_with_context(&inbound.request_id, &inbound.origin_type, true, ctx)
            }
            Err(reason) => copy(
                &inbound.request_id,
                &inbound.origin_type,
                false,
                Some(&reason),
            ),
        };
        st.sessions.send(id, &frame);
    }

    fn route_user(&self, st: &mut State, id: ConnId, user_id: &str, inbound: &Inbound) -> Outcome {
        match &inbound.message {
            ClientMessage::Join { channel_id } => self.user_join(st, user_id, channel_id),
            ClientMessage::Leave { channel_id } => self.user_leave(st, user_id, channel_id),
            ClientMessage::Refresh { channel_id } => self.user_refresh(st, id, user_id, channel_id),
            ClientMessage::Fetch { channel_id, what } => {
                self.user_fetch(st, id, user_id, channel_id, what)
            }
            ClientMessage::ButtonClick {
                channel_id,
                button_id,
                bottom_button_id,
                arguments,
            } => self.user_button_click(
                st,
                user_id,
                channel_id,
                button_id,
                bottom_button_id.as_deref(),
                arguments,
            ),
            ClientMessage::MenuItemClick {
                channel_id,
                menu_item_id,
                message_id,
                message_subtype,
                message_content,
                bottom_button_id,
                arguments,
            } => self.user_menu_item_click(
                st,
                user_id,
                channel_id,
                menu_item_id,
                message_id.as_deref(),
                message_subtype,
                message_content,
                bottom_button_id.as_deref(),
                arguments,
            ),
            ClientMessage::MessageUp {
                channel_id,
                subtype,
                content,
                recipients,
                context,
            } => self.user_message_up(
                st, user_id, channel_id, subtype, content, recipients, context,
            ),
            ClientMessage::Resume {
                channel_id,
                epoch,
                from,
            } => self.user_resume(st, id, user_id, channel_id, epoch.as_deref(), *from),
            ClientMessage::MessageDown { .. }
            | ClientMessage::Update { .. }
            | ClientMessage::ChannelInfo(_) => Err(format!(
                "{} is for services only: only a channel's bound service may send it",
                inbound.origin_type
            )),
            ClientMessage::Heartbeat
            | ClientMessage::ServiceLogin { .. }
            | ClientMessage::UserLogin { .. } => Ok(None),
        }
    }

    /// `join`: the user becomes a member (once) and the channel's service is told.
    fn user_join(&self, st: &mut State, user_id: &str, channel_id: &str) -> Outcome {
        let ch = st
            .channels
            .get_mut(channel_id)
            .ok_or_else(|| format!("no such channel {channel_id}"))?;
        if !ch.is_member(user_id) {
            ch.members.push(user_id.to_owned());
            ch.member_set.insert(user_id.to_owned());
            self.inner.store.put(Table::Channels, channel_id, ch);
        }
        let service = ch.service_id.clone();
        st.resolved.remove(channel_id);
        self.to_service(
            st,
            service.as_deref(),
            outbound::simple_action(&new_id(), "join", channel_id, user_id),
        );
        Ok(None)
    }

    /// `leave`: the user stops being a member, their UI state in the channel is dropped, and
    /// the service is told.
    fn user_leave(&self, st: &mut State, user_id: &str, channel_id: &str) -> Outcome {
        let ch = st
            .channels
            .get_mut(channel_id)
            .ok_or_else(|| format!("no such channel {channel_id}"))?;
        if ch.is_member(user_id) {
            ch.members.retain(|m| m != user_id);
            ch.member_set.remove(user_id);
            self.inner.store.put(Table::Channels, channel_id, ch);
        }
        let service = ch.service_id.clone();
        st.resolved.remove(channel_id);
        for kind in UpdateKind::ALL {
            let key = ui_key(channel_id, user_id, kind.as_str());
            if st.ui.remove(&key).is_some() {
                self.inner.store.delete(Table::Ui, &key);
            }
        }
        self.to_service(
            st,
            service.as_deref(),
            outbound::simple_action(&new_id(), "leave", channel_id, user_id),
        );
        Ok(None)
    }

    /// `refresh`: replays the user's UI state, then asks the service for a fresh one.
    fn user_refresh(&self, st: &mut State, id: ConnId, user_id: &str, channel_id: &str) -> Outcome {
        let service = member_channel(st, channel_id, user_id)?.service_id.clone();
        for kind in UpdateKind::ALL {
            self.replay_ui(st, id, channel_id, user_id, kind);
        }
        self.to_service(
            st,
            service.as_deref(),
            outbound::simple_action(&new_id(), "refresh", channel_id, user_id),
        );
        Ok(None)
    }

    /// `fetch`: one kind of UI state, or the channel's info, sent back on this socket.
    fn user_fetch(
        &self,
        st: &mut State,
        id: ConnId,
        user_id: &str,
        channel_id: &str,
        what: &Fetch,
    ) -> Outcome {
        let ch = member_channel(st, channel_id, user_id)?;
        match what {
            Fetch::Kind(kind) => self.replay_ui(st, id, channel_id, user_id, *kind),
            Fetch::ChannelInfo => {
                let info = channel_info(ch);
                st.sessions
                    .send(id, &text(outbound::channel_info(&new_id(), &info)));
            }
        }
        Ok(None)
    }

    /// `button_click`: forwarded to the channel's service.
    fn user_button_click(
        &self,
        st: &mut State,
        user_id: &str,
        channel_id: &str,
        button_id: &str,
        bottom_button_id: Option<&str>,
        arguments: &[ClickArgument],
    ) -> Outcome {
        let service = member_channel(st, channel_id, user_id)?.service_id.clone();
        let frame = deliverable(outbound::button_click(
            &new_id(),
            channel_id,
            button_id,
            bottom_button_id,
            arguments,
            user_id,
        ))?;
        self.to_service(st, service.as_deref(), frame);
        Ok(None)
    }

    /// `menu_item_click`: forwarded to the service, with the clicked message's subtype and
    /// content filled in from the log when the client sent none.
    #[allow(clippy::too_many_arguments)] // one parameter per field of the frame
    fn user_menu_item_click(
        &self,
        st: &mut State,
        user_id: &str,
        channel_id: &str,
        menu_item_id: &str,
        message_id: Option<&str>,
        message_subtype: &str,
        message_content: &Value,
        bottom_button_id: Option<&str>,
        arguments: &[ClickArgument],
    ) -> Outcome {
        let service = member_channel(st, channel_id, user_id)?.service_id.clone();
        let (mut subtype, mut content) = (message_subtype.to_owned(), message_content.clone());
        let unknown =
            subtype == "<unknown>" || content.as_object().map(|o| o.is_empty()).unwrap_or(true);
        if let (true, Some(mid)) = (unknown, message_id) {
            if let Some(m) = self.find_visible_message(st, channel_id, mid, user_id) {
                subtype = m.body.subtype.clone();
                content = m.body.content.clone();
            }
        }
        let frame = deliverable(outbound::menu_item_click(
            &new_id(),
            channel_id,
            menu_item_id,
            message_id,
            &subtype,
            &content,
            arguments,
            bottom_button_id,
            user_id,
        ))?;
        self.to_service(st, service.as_deref(), frame);
        Ok(None)
    }

    /// `message_up`: logged and sent to the bound service, or, in a channel without one (a
    /// plain group chat), logged as `message_down` and delivered to its recipients.
    #[allow(clippy::too_many_arguments)] // one parameter per field of the frame
    fn user_message_up(
        &self,
        st: &mut State,
        user_id: &str,
        channel_id: &str,
        subtype: &str,
        content: &Value,
        recipients: &str,
        context: &Value,
    ) -> Outcome {
        let service = member_channel(st, channel_id, user_id)?.service_id.clone();
        let body = new_message(channel_id, subtype, content, recipients, context, user_id);
        fits(&body)?;
        let resolved = resolve(st, channel_id, recipients)?;
        match service {
            Some(sid) => {
                let logged = self.append(st, "message_up", body, Some(sid.clone()), &resolved);
                let pos = Position {
                    epoch: &self.inner.epoch,
                    offset: logged.offset,
                };
                let frame = outbound::message("message_up", None, &logged.body, Some(pos));
                st.sessions.send_service(&sid, &text(frame));
            }
            // No bound service at all: the channel is a plain group chat.
            None => {
                let logged = self.append(st, "message_down", body, None, &resolved);
                self.deliver(st, &logged, &resolved);
            }
        }
        Ok(None)
    }

    /// `resume`: replays the channel's log to a member from a position it names.
    fn user_resume(
        &self,
        st: &mut State,
        id: ConnId,
        user_id: &str,
        channel_id: &str,
        epoch: Option<&str>,
        from: ResumeFrom,
    ) -> Outcome {
        member_channel(st, channel_id, user_id)?;
        self.resume(
            st,
            id,
            &Identity::User {
                user_id: user_id.to_owned(),
            },
            channel_id,
            epoch,
            from,
        )
    }

    fn route_service(
        &self,
        st: &mut State,
        id: ConnId,
        service_id: &str,
        inbound: &Inbound,
    ) -> Outcome {
        match &inbound.message {
            ClientMessage::MessageDown {
                channel_id,
                subtype,
                content,
                recipients,
                sender,
                context,
            } => {
                bound_channel(st, channel_id, service_id)?;
                let body = new_message(channel_id, subtype, content, recipients, context, sender);
                fits(&body)?;
                let resolved = resolve(st, channel_id, recipients)?;
                let logged = self.append(
                    st,
                    "message_down",
                    body,
                    Some(service_id.to_owned()),
                    &resolved,
                );
                self.deliver(st, &logged, &resolved);
                Ok(None)
            }
            ClientMessage::Update {
                channel_id,
                kind,
                recipients,
                content,
                group_id,
            } => {
                bound_channel(st, channel_id, service_id)?;
                let targets = resolve(st, channel_id, recipients)?;
                let frame = text(deliverable(outbound::update(
                    &new_id(),
                    Some(service_id),
                    *kind,
                    channel_id,
                    recipients,
                    content,
                    group_id.as_deref(),
                ))?);
                let entry = UiEntry {
                    service_id: service_id.to_owned(),
                    recipients: recipients.clone(),
                    content: content.clone(),
                    group_id: group_id.clone(),
                };
                for user in &targets.users {
                    let key = ui_key(channel_id, user, kind.as_str());
                    self.inner.store.put(Table::Ui, &key, &entry);
                    st.ui.insert(key, entry.clone());
                    st.sessions.send_user(user, &frame);
                }
                Ok(None)
            }
            ClientMessage::ChannelInfo(info) => {
                bound_channel(st, &info.channel_id, service_id)?;
                deliverable(outbound::channel_info(&new_id(), info))?;
                self.apply_channel_info(st, info);
                Ok(None)
            }
            ClientMessage::Resume {
                channel_id,
                epoch,
                from,
            } => {
                bound_channel(st, channel_id, service_id)?;
                self.resume(
                    st,
                    id,
                    &Identity::Service {
                        service_id: service_id.to_owned(),
                        owner: String::new(),
                    },
                    channel_id,
                    epoch.as_deref(),
                    *from,
                )
            }
            ClientMessage::Heartbeat
            | ClientMessage::ServiceLogin { .. }
            | ClientMessage::UserLogin { .. } => Ok(None),
            _ => Err(format!(
                "{} is for users only: a service socket cannot send it",
                describe(inbound)
            )),
        }
    }

    /// Sends `frame` to the channel's bound service if it is online. Events for an offline
    /// service are not kept for later (the platform's semantics: the service resyncs on refresh).
    fn to_service(&self, st: &mut State, service_id: Option<&str>, frame: String) {
        if let Some(sid) = service_id {
            st.sessions.send_service(sid, &text(frame));
        }
    }

    fn replay_ui(
        &self,
        st: &mut State,
        id: ConnId,
        channel_id: &str,
        user_id: &str,
        kind: UpdateKind,
    ) {
        if let Some(e) = st.ui.get(&ui_key(channel_id, user_id, kind.as_str())) {
            let frame = outbound::update(
                &new_id(),
                Some(&e.service_id),
                kind,
                channel_id,
                &e.recipients,
                &e.content,
                e.group_id.as_deref(),
            );
            st.sessions.send(id, &text(frame));
        }
    }

    /// Delivers a logged `message_down` to its resolved recipients, serialising it once.
    pub(crate) fn deliver(&self, st: &mut State, m: &LoggedMessage, resolved: &Resolved) {
        let pos = Position {
            epoch: &self.inner.epoch,
            offset: m.offset,
        };
        let frame = text(outbound::message(
            "message_down",
            m.service_id.as_deref(),
            &m.body,
            Some(pos),
        ));
        let queued = st
            .sessions
            .send_users(&resolved.users, &resolved.targets, &frame);
        // Once per message, not per recipient: the fan-out's loop stays free of it.
        metrics::counter!("relay_channel_deliveries_total").increment(queued as u64);
    }

    /// Updates a channel's info in place and pushes it to every online member.
    pub(crate) fn apply_channel_info(&self, st: &mut State, info: &ChannelInfo) {
        let Some(ch) = st.channels.get_mut(&info.channel_id) else {
            return;
        };
        ch.name = info.channel_name.clone();
        ch.description = info.channel_description.clone();
        ch.channel_type = info.channel_type.clone();
        self.inner.store.put(Table::Channels, &info.channel_id, ch);
        let members = ch.members.clone();
        let frame = text(outbound::channel_info(&new_id(), info));
        for m in &members {
            st.sessions.send_user(m, &frame);
        }
    }
}

/// Room left for the envelope and server-added keys around a message body in one outbound frame.
const ENVELOPE_ROOM: usize = 4096;

/// A channel message as it enters the log: stamped with the time and a fresh message id.
fn new_message(
    channel_id: &str,
    subtype: &str,
    content: &Value,
    recipients: &str,
    context: &Value,
    sender: &str,
) -> MessageBody {
    MessageBody {
        subtype: subtype.to_owned(),
        channel_id: channel_id.to_owned(),
        content: content.clone(),
        recipients: recipients.to_owned(),
        timestamp: now_ms(),
        context: context.clone(),
        sender: sender.to_owned(),
        message_id: new_id(),
    }
}

/// Receivers refuse frames over 1 MiB, so a message that would not fit once wrapped (its
/// content, context, sender and ids all count) is refused here rather than delivered as
/// something the SDK drops.
fn fits(body: &MessageBody) -> Result<(), String> {
    let len = serde_json::to_string(body)
        .map(|s| s.len())
        .unwrap_or(usize::MAX);
    if len + ENVELOPE_ROOM > relay_wire::channel::MAX_FRAME_BYTES {
        return Err(too_big(len));
    }
    Ok(())
}

/// The frame, if receivers accept its size; else why it is refused.
fn deliverable(frame: String) -> Result<String, String> {
    if frame.len() > relay_wire::channel::MAX_FRAME_BYTES {
        return Err(too_big(frame.len()));
    }
    Ok(frame)
}

fn too_big(len: usize) -> String {
    let max = relay_wire::channel::MAX_FRAME_BYTES;
    format!("the frame delivering this would be about {len} bytes, over the {max} byte limit")
}

fn describe(inbound: &Inbound) -> String {
    match &inbound.message {
        ClientMessage::MessageUp { .. } => "message_up".into(),
        ClientMessage::Join { .. } => "action join_channel".into(),
        ClientMessage::Leave { .. } => "action leave_channel".into(),
        ClientMessage::Refresh { .. } => "action refresh".into(),
        ClientMessage::ButtonClick { .. } => "action button_click".into(),
        ClientMessage::MenuItemClick { .. } => "action menu_item_click".into(),
        ClientMessage::Fetch { .. } => "action fetch".into(),
        _ => inbound.origin_type.clone(),
    }
}

fn channel_info(ch: &Channel) -> ChannelInfo {
    ChannelInfo {
        channel_id: ch.channel_id.clone(),
        channel_name: ch.name.clone(),
        channel_description: ch.description.clone(),
        channel_type: ch.channel_type.clone(),
    }
}

fn member_channel<'a>(
    st: &'a State,
    channel_id: &str,
    user_id: &str,
) -> Result<&'a Channel, String> {
    let ch = st
        .channels
        .get(channel_id)
        .ok_or_else(|| format!("no such channel {channel_id}"))?;
    if !ch.is_member(user_id) {
        return Err(format!("not a member of channel {channel_id}"));
    }
    Ok(ch)
}

fn bound_channel<'a>(
    st: &'a State,
    channel_id: &str,
    service_id: &str,
) -> Result<&'a Channel, String> {
    let ch = st
        .channels
        .get(channel_id)
        .ok_or_else(|| format!("no such channel {channel_id}"))?;
    if ch.service_id.as_deref() != Some(service_id) {
        return Err(format!("channel {channel_id} is not bound to this service"));
    }
    Ok(ch)
}

/// A recipients group resolved against a channel's current members.
pub(crate) struct Resolved {
    /// The members the group names, in group order, without repeats.
    pub users: Vec<String>,
    /// `users` is exactly the group's character list (the log then need not store it).
    pub same_as_group: bool,
    /// The online connections of `users` (see `Registry::send_users`).
    pub targets: CachedTargets,
}

/// Resolved groups kept per channel at most; the cache of a channel is emptied beyond it.
const MAX_RESOLVED_PER_CHANNEL: usize = 256;

/// A recipients group id -> the current members it names, in group order, without repeats.
/// Agents, former members and unknown ids are dropped; `"service"` names nobody. Groups are
/// immutable, so the result is cached per channel until the channel's membership changes.
fn resolve(st: &mut State, channel_id: &str, recipients: &str) -> Result<Arc<Resolved>, String> {
    if recipients == SERVICE_GROUP {
        return Ok(Arc::new(Resolved {
            users: Vec::new(),
            same_as_group: false,
            targets: Default::default(),
        }));
    }
    if let Some(r) = st.resolved.get(channel_id).and_then(|m| m.get(recipients)) {
        return Ok(r.clone());
    }
    let ch = st
        .channels
        .get(channel_id)
        .ok_or_else(|| format!("no such channel {channel_id}"))?;
    let g = st
        .groups
        .get(recipients)
        .ok_or_else(|| format!("unknown recipients group {recipients}"))?;
    let mut seen = HashSet::new();
    let users: Vec<String> = g
        .characters
        .iter()
        .filter(|c| ch.is_member(c) && seen.insert(c.as_str()))
        .cloned()
        .collect();
    let same_as_group = g.characters == users;
    let r = Arc::new(Resolved {
        users,
        same_as_group,
        targets: Default::default(),
    });
    let per = st.resolved.entry(channel_id.to_owned()).or_default();
    if per.len() >= MAX_RESOLVED_PER_CHANNEL {
        per.clear();
    }
    per.insert(recipients.to_owned(), r.clone());
    Ok(r)
}
