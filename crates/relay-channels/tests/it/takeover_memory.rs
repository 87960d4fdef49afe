//! What a hub reads into memory when it opens a store, or takes a PostgreSQL schema's state
//! over from a hub that died: with many channels and histories deeper than the budget, each
//! channel's newest messages as far as its share of the budget goes (at least the newest one),
//! not a fixed number per channel; the rest is read from the store on demand.

use std::sync::Arc;

use relay_channels::{Hub, HubConfig};
use serde_json::json;

use crate::support::recorder::Recorder;
use crate::support::stores::Place;

const CHANNELS: usize = 120;
const PER_CHANNEL: usize = 150;
/// About a kilobyte a message, encoded.
const TEXT: usize = 1000;

/// 2 MiB: 1 MiB for the newest messages, of which a load fills half: about 4 KiB a channel.
fn budget() -> HubConfig {
    HubConfig {
        max_frames_per_sec: 0,
        cache_bytes: 2 << 20,
        ..HubConfig::default()
    }
}

fn recent_bytes() -> usize {
    budget().cache_bytes / 2
}

/// Channels full of messages; returns the user who reads them and the channels.
fn fill(hub: &Hub) -> (String, Vec<String>) {
    let owner = hub.add_account("owner@example.com", "pw", None).unwrap();
    let owner_token = hub.sign_in("owner@example.com", "pw").unwrap().access_token;
    let service = hub.create_service(&owner.user_id, "test").unwrap();
    let user = hub.add_account("user@example.com", "pw", None).unwrap();
    let user_token = hub.sign_in("user@example.com", "pw").unwrap().access_token;
    let out = Arc::new(Recorder::default());
    let u = hub.connect(out.clone());
    hub.on_frame(
        u.id,
        &json!({"type": "user_login", "request_id": "l", "access_token": user_token}).to_string(),
    );
    let out = Arc::new(Recorder::default());
    let svc = hub.connect(out.clone());
    hub.on_frame(svc.id, &json!({"type": "service_login", "request_id": "l", "access_token": owner_token, "service_id": service}).to_string());
    assert_eq!(out.copies(), [true], "service login");
    let mut channels = Vec::new();
    for c in 0..CHANNELS {
        let channel = hub
            .create_channel(&owner.user_id, &format!("c{c}"), "")
            .unwrap();
        hub.bind(&owner.user_id, &channel, &service).unwrap();
        hub.on_frame(u.id, &json!({"type": "action", "request_id": "j", "body": {"subtype": "join_channel", "channel_id": channel, "context": {}}}).to_string());
        let group = hub
            .create_group("owner", Some(&channel), vec![user.user_id.clone()])
            .unwrap();
        for i in 0..PER_CHANNEL {
            let text = format!("{c}/{i} {}", "x".repeat(TEXT));
            hub.on_frame(svc.id, &json!({"type": "message_down", "request_id": "m", "body": {"subtype": "text", "channel_id": channel, "content": {"text": text}, "recipients": group, "timestamp": 0, "context": {}, "sender": "bot"}}).to_string());
        }
        channels.push(channel);
    }
    hub.flush().unwrap();
    (user.user_id, channels)
}

/// Opens the place again once the dead hub's writer has let go of it.
fn take_over(place: &Place) -> Hub {
    for _ in 0..500 {
        match place.open(budget()) {
            Err(relay_channels::HubError::Locked) => {
                std::thread::sleep(std::time::Duration::from_millis(10))
            }
            other => return other.unwrap(),
        }
    }
    panic!("{}: the store stayed locked", place.name)
}

#[test]
fn a_takeover_with_many_channels_reads_what_the_budget_keeps_and_the_rest_on_demand() {
    for place in Place::both("takeover_memory") {
        let hub = place.open(budget()).unwrap();
        let (user, channels) = fill(&hub);
        // Dies without a clean stop; the next hub takes the state over.
        drop(hub);
        let hub = take_over(&place);
        let m = hub.message_memory();
        let name = &place.name;
        // Every channel's newest message, and not many more: about 4 KiB of each channel.
        assert!(m.loaded_at_open >= CHANNELS, "{name}: {m:?}");
        assert!(
            m.loaded_at_open > CHANNELS,
            "{name}: more than the newest when the budget has room: {m:?}"
        );
        let most = CHANNELS + recent_bytes() / 2 / TEXT;
        assert!(
            m.loaded_at_open <= most,
            "{name}: read {} messages, the budget keeps at most {most} (of {} stored): {m:?}",
            m.loaded_at_open,
            CHANNELS * PER_CHANNEL
        );
        assert!(m.held <= m.loaded_at_open, "{name}: {m:?}");
        assert!(m.held_bytes <= recent_bytes(), "{name}: {m:?}");

        // All of every history is still there, read from the store.
        for (c, channel) in channels.iter().enumerate().step_by(17) {
            let h = hub.history(&user, channel, 10_000, None).unwrap();
            let texts: Vec<String> = h
                .iter()
                .map(|m| m.content["text"].as_str().unwrap().to_owned())
                .collect();
            let want: Vec<String> = (0..PER_CHANNEL)
                .rev()
                .map(|i| format!("{c}/{i} {}", "x".repeat(TEXT)))
                .collect();
            assert!(texts == want, "{name}: channel {c}'s history");
        }
        let after = hub.message_memory();
        assert!(after.held_bytes <= recent_bytes(), "{name}: {after:?}");
        drop(hub);
    }
}
