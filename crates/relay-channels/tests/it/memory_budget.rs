//! Channel messages beyond the memory budget (`HubConfig::cache_bytes`): with a budget that
//! holds a few dozen messages, thousands sent to two channels all read back right through
//! history and resume, while running, after a clean reopen and after a crash, on each store.

use std::sync::Arc;

use relay_channels::{ConnHandle, Hub, HubConfig};
use serde_json::{json, Value};

use crate::support::recorder::Recorder;
use crate::support::stores::Place;

/// 64 KiB: half for the newest messages (a few dozen of these), half for redb's pages.
fn small() -> HubConfig {
    HubConfig {
        max_frames_per_sec: 0,
        cache_bytes: 64 << 10,
        ..HubConfig::default()
    }
}

const PER_CHANNEL: usize = 2500;

struct Setup {
    owner_token: String,
    service: String,
    user: (String, String),
    channels: Vec<(String, String)>, // (channel, group of the user)
}

fn setup(hub: &Hub) -> Setup {
    let owner = hub.add_account("owner@example.com", "pw", None).unwrap();
    let owner_token = hub.sign_in("owner@example.com", "pw").unwrap().access_token;
    let service = hub.create_service(&owner.user_id, "test").unwrap();
    let user = hub.add_account("user@example.com", "pw", None).unwrap();
    let user_token = hub.sign_in("user@example.com", "pw").unwrap().access_token;
    let mut s = Setup {
        owner_token,
        service,
        user: (user.user_id, user_token),
        channels: Vec::new(),
    };
    for name in ["one", "two"] {
        let channel = hub.create_channel(&owner.user_id, name, "").unwrap();
        hub.bind(&owner.user_id, &channel, &s.service).unwrap();
        s.channels.push((channel.clone(), String::new()));
        let (h, _) = s.user_socket(hub);
        hub.on_frame(h.id, &json!({"type": "action", "request_id": "j", "body": {"subtype": "join_channel", "channel_id": channel, "context": {}}}).to_string());
        let group = hub
            .create_group("owner", Some(&channel), vec![s.user.0.clone()])
            .unwrap();
        s.channels.last_mut().unwrap().1 = group;
    }
    s
}

impl Setup {
    fn service_socket(&self, hub: &Hub) -> (ConnHandle, Arc<Recorder>) {
        let out = Arc::new(Recorder::default());
        let h = hub.connect(out.clone());
        hub.on_frame(h.id, &json!({"type": "service_login", "request_id": "l", "access_token": self.owner_token, "service_id": self.service}).to_string());
        assert_eq!(out.copies(), [true], "service login");
        (h, out)
    }

    fn user_socket(&self, hub: &Hub) -> (ConnHandle, Arc<Recorder>) {
        let out = Arc::new(Recorder::default());
        let h = hub.connect(out.clone());
        hub.on_frame(
            h.id,
            &json!({"type": "user_login", "request_id": "l", "access_token": self.user.1})
                .to_string(),
        );
        (h, out)
    }

    /// What channel `c` is sent: its messages, interleaved with the other channel's.
    fn texts(c: usize) -> Vec<String> {
        (0..PER_CHANNEL)
            .map(|i| format!("channel {c} message {i} {}", "x".repeat(i % 300)))
            .collect()
    }

    fn send_all(&self, hub: &Hub) {
        let (svc, _) = self.service_socket(hub);
        let texts: Vec<Vec<String>> = (0..self.channels.len()).map(Self::texts).collect();
        for i in 0..PER_CHANNEL {
            for ((channel, group), texts) in self.channels.iter().zip(&texts) {
                hub.on_frame(svc.id, &json!({"type": "message_down", "request_id": "m", "body": {"subtype": "text", "channel_id": channel, "content": {"text": texts[i]}, "recipients": group, "timestamp": 0, "context": {}, "sender": "bot"}}).to_string());
            }
        }
        hub.flush().unwrap();
    }

    /// Every channel's history, all of it at once and 100 at a time by `before`, newest first.
    fn check_history(&self, hub: &Hub, when: &str) {
        for (c, (channel, _)) in self.channels.iter().enumerate() {
            let newest_first: Vec<String> = Self::texts(c).into_iter().rev().collect();
            let all = hub.history(&self.user.0, channel, 10_000, None).unwrap();
            assert_eq!(text_of(&all), newest_first, "{when}: channel {c}, at once");
            let mut paged = Vec::new();
            let mut before: Option<String> = None;
            loop {
                let page = hub
                    .history(&self.user.0, channel, 100, before.as_deref())
                    .unwrap();
                let Some(last) = page.last() else { break };
                before = Some(last.message_id.clone());
                paged.extend(text_of(&page));
            }
            assert_eq!(paged, newest_first, "{when}: channel {c}, by pages");
        }
    }

    /// Every channel replayed from its start, request after request, with no gap.
    fn check_resume(&self, hub: &Hub, when: &str) {
        for (c, (channel, _)) in self.channels.iter().enumerate() {
            let (user, out) = self.user_socket(hub);
            let mut from = 0u64;
            loop {
                hub.on_frame(user.id, &json!({"type": "resume", "request_id": "r", "body": {"channel_id": channel, "from": from}}).to_string());
                let ctx: Value = out.last_copy()["body"]["context"].clone();
                assert_eq!(ctx["gap"], false, "{when}: channel {c}: {ctx}");
                from = ctx["next_offset"].as_u64().unwrap();
                if ctx["more"] == false {
                    break;
                }
            }
            assert_eq!(out.messages(), Self::texts(c), "{when}: channel {c}");
            let offsets = out.offsets();
            assert!(
                offsets.windows(2).all(|w| w[0] + 1 == w[1]),
                "{when}: channel {c}: offsets in order with none missing"
            );
        }
    }
}

/// Opens the place again once the dropped hub's store writer, which holds the embedded file
/// until it finds its queue closed, has let go of it.
fn reopen(place: &Place) -> Hub {
    for _ in 0..500 {
        match place.open(small()) {
            Err(relay_channels::HubError::Locked) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{}: the store stayed locked", place.name)
}

fn text_of(history: &[relay_wire::channel::outbound::MessageBody]) -> Vec<String> {
    history
        .iter()
        .map(|m| m.content["text"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn more_messages_than_the_budget_read_back_through_history_and_resume() {
    for place in Place::both("membudget") {
        let hub = place.open(small()).unwrap();
        let s = setup(&hub);
        s.send_all(&hub);
        s.check_history(&hub, &format!("{}: while running", place.name));
        s.check_resume(&hub, &format!("{}: while running", place.name));
        hub.close().unwrap();
        drop(hub);

        let hub = place.open(small()).unwrap();
        s.check_history(&hub, &format!("{}: after a reopen", place.name));
        s.check_resume(&hub, &format!("{}: after a reopen", place.name));
        // A crash: dropped without a clean stop, right after more messages came.
        let (svc, _) = s.service_socket(&hub);
        let (channel, group) = &s.channels[0];
        hub.on_frame(svc.id, &json!({"type": "message_down", "request_id": "m", "body": {"subtype": "text", "channel_id": channel, "content": {"text": "last"}, "recipients": group, "timestamp": 0, "context": {}, "sender": "bot"}}).to_string());
        hub.flush().unwrap();
        drop(svc);
        drop(hub);

        let hub = reopen(&place);
        let history = hub.history(&s.user.0, channel, 10_000, None).unwrap();
        let mut expected: Vec<String> = Setup::texts(0).into_iter().rev().collect();
        expected.insert(0, "last".into());
        assert_eq!(text_of(&history), expected, "{}: after a crash", place.name);
        let (_, out) = s.user_socket(&hub);
        assert!(out.copies().iter().all(|c| *c));
        drop(hub);
    }
}
