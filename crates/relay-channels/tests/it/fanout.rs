//! The hub's side of fan-out, through a recording outbox: a batch flushes each recipient once,
//! a newer login gets the messages (the cached recipient connections follow it), and a full
//! outbox cuts its connection off without holding up the others. Each on both stores, since
//! the PostgreSQL one must hold frames back and let them go just as the embedded one does.

use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use relay_channels::{ConnHandle, Hub, HubConfig};
use serde_json::json;

use crate::support::recorder::Recorder;
use crate::support::stores::Place;

struct World {
    hub: Hub,
    _place: Place,
    channel: String,
    service: String,
    owner_token: String,
    tokens: Vec<(String, String)>,
}

fn world(place: Place, users: usize) -> World {
    let cfg = HubConfig {
        max_frames_per_sec: 0,
        ..HubConfig::default()
    };
    let hub = place.open(cfg).unwrap();
    let owner = hub.add_account("owner@example.com", "pw", None).unwrap();
    let owner_token = hub.sign_in("owner@example.com", "pw").unwrap().access_token;
    let service = hub.create_service(&owner.user_id, "test").unwrap();
    let channel = hub.create_channel(&owner.user_id, "room", "").unwrap();
    hub.bind(&owner.user_id, &channel, &service).unwrap();
    let tokens = (0..users)
        .map(|i| {
            let email = format!("user{i}@example.com");
            let a = hub.add_account(&email, "pw", None).unwrap();
            (a.user_id, hub.sign_in(&email, "pw").unwrap().access_token)
        })
        .collect();
    World {
        hub,
        _place: place,
        channel,
        service,
        owner_token,
        tokens,
    }
}

impl World {
    fn service_socket(&self) -> (ConnHandle, Arc<Recorder>) {
        let out = Arc::new(Recorder::default());
        let h = self.hub.connect(out.clone());
        self.hub.on_frame(h.id, &json!({"type": "service_login", "request_id": "l", "access_token": self.owner_token, "service_id": self.service}).to_string());
        (h, out)
    }

    fn user_socket(&self, i: usize, cap: usize, join: bool) -> (ConnHandle, Arc<Recorder>) {
        let out = Arc::new(Recorder::with_cap(cap));
        let h = self.hub.connect(out.clone());
        self.hub.on_frame(
            h.id,
            &json!({"type": "user_login", "request_id": "l", "access_token": self.tokens[i].1})
                .to_string(),
        );
        if join {
            self.hub.on_frame(h.id, &json!({"type": "action", "request_id": "j", "body": {"subtype": "join_channel", "channel_id": self.channel, "context": {}}}).to_string());
        }
        (h, out)
    }

    fn group(&self, users: &[usize]) -> String {
        let ids = users.iter().map(|&i| self.tokens[i].0.clone()).collect();
        self.hub
            .create_group("owner", Some(&self.channel), ids)
            .unwrap()
    }

    fn message_down(&self, group: &str, text: &str) -> String {
        json!({"type": "message_down", "request_id": text, "body": {"subtype": "text", "channel_id": self.channel, "content": {"text": text}, "recipients": group, "timestamp": 0, "context": {}, "sender": "bot"}}).to_string()
    }
}

#[test]
fn a_batch_flushes_each_recipient_once() {
    for place in Place::both("fanout") {
        a_batch_flushes_each_recipient_once_on(place);
    }
}

fn a_batch_flushes_each_recipient_once_on(place: Place) {
    let w = world(place, 3);
    let (svc, svc_out) = w.service_socket();
    let users: Vec<_> = (0..3).map(|i| w.user_socket(i, 0, true)).collect();
    let g = w.group(&[0, 1, 2]);
    let before: Vec<usize> = users
        .iter()
        .map(|(_, o)| o.flushes.load(Ordering::Relaxed))
        .collect();
    {
        let mut batch = w.hub.batch();
        for t in ["a", "b", "c"] {
            batch.on_frame(svc.id, &w.message_down(&g, t));
        }
    }
    for ((_, out), before) in users.iter().zip(before) {
        assert_eq!(out.messages(), ["a", "b", "c"]);
        assert_eq!(out.flushes.load(Ordering::Relaxed) - before, 1);
    }
    assert_eq!(
        svc_out.copies().iter().filter(|s| **s).count(),
        1 + 3,
        "the login and three messages acknowledged"
    );
}

#[test]
fn a_newer_login_receives_what_follows() {
    for place in Place::both("fanout") {
        a_newer_login_receives_what_follows_on(place);
    }
}

fn a_newer_login_receives_what_follows_on(place: Place) {
    let w = world(place, 2);
    let (svc, _) = w.service_socket();
    let (_, first) = w.user_socket(0, 0, true);
    let (_, other) = w.user_socket(1, 0, true);
    let g = w.group(&[0, 1]);
    w.hub.on_frame(svc.id, &w.message_down(&g, "one"));
    let (_, second) = w.user_socket(0, 0, false);
    w.hub.on_frame(svc.id, &w.message_down(&g, "two"));
    assert_eq!(first.messages(), ["one"]);
    assert_eq!(second.messages(), ["two"]);
    assert_eq!(other.messages(), ["one", "two"]);
}

#[test]
fn a_full_outbox_is_cut_off_and_the_others_still_get_everything() {
    for place in Place::both("fanout") {
        a_full_outbox_is_cut_off_and_the_others_still_get_everything_on(place);
    }
}

fn a_full_outbox_is_cut_off_and_the_others_still_get_everything_on(place: Place) {
    let w = world(place, 2);
    let (svc, _) = w.service_socket();
    // Room for the login and join copies and two messages.
    let (slow_handle, slow) = w.user_socket(0, 4, true);
    let (_, fast) = w.user_socket(1, 0, true);
    let g = w.group(&[0, 1]);
    for t in ["1", "2", "3", "4"] {
        w.hub.on_frame(svc.id, &w.message_down(&g, t));
    }
    assert_eq!(slow.messages(), ["1", "2"]);
    assert_eq!(fast.messages(), ["1", "2", "3", "4"]);
    let (code, reason) = wait_fired(slow_handle.kill.wait());
    assert_eq!(code, 1008);
    assert!(reason.contains("slow consumer"), "{reason}");
}

/// Polls a future that is already resolved (the kill fired synchronously above).
fn wait_fired<F: std::future::Future>(f: F) -> F::Output {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    rt.block_on(async {
        tokio::time::timeout(Duration::from_secs(1), f)
            .await
            .expect("kill fired")
    })
}
