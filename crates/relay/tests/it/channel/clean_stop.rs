//! A clean stop (SIGTERM) while a client is publishing: whatever a member received with an
//! offset is in the channel log after the restart, and a resume from the start replays it all
//! without a gap; a message the server could no longer log is refused, never delivered.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::support::server::{Options, Server};
use crate::support::ws::Ws;
use relay_client::channel::ChannelHttp;
use serde_json::{json, Value};

fn message_up(ch: &str, group: &str, text: &str) -> Value {
    json!({"type": "message_up", "body": {"subtype": "text", "channel_id": ch, "content": {"text": text}, "recipients": group, "timestamp": 1, "context": {}}})
}

/// Offset -> text of the `message_down` frames among `frames`.
fn delivered(frames: &[Value]) -> BTreeMap<u64, String> {
    frames
        .iter()
        .filter(|f| f["type"] == "message_down")
        .map(|f| {
            (
                f["offset"]
                    .as_u64()
                    .expect("a delivered message without an offset"),
                f["body"]["content"]["text"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn what_members_received_before_a_clean_stop_is_all_in_the_log_after_it() {
    // No rate limit: the publisher sends as fast as it can right through the stop.
    let mut s = Server::with(Options::default().args(&["--channel-max-frames-per-sec", "0"]));
    s.add_account("pub@example.com", "pw-pub");
    s.add_account("sub@example.com", "pw-sub");
    let rt = tokio::runtime::Runtime::new().unwrap();
    let (ch, group, pub_token, sub_token) = rt.block_on(async {
        let mut publisher = ChannelHttp::new(&s.http()).unwrap();
        publisher
            .sign_in("pub@example.com", "pw-pub")
            .await
            .unwrap();
        let mut subscriber = ChannelHttp::new(&s.http()).unwrap();
        subscriber
            .sign_in("sub@example.com", "pw-sub")
            .await
            .unwrap();
        let ids = [
            publisher.user_id().await.unwrap(),
            subscriber.user_id().await.unwrap(),
        ];
        // No service bound: a message_up is delivered to the group as a message_down.
        let ch = publisher.create_channel("room", "").await.unwrap();
        let group = publisher.create_service_group(&ids).await.unwrap();
        (
            ch,
            group,
            publisher.access_token.clone().unwrap(),
            subscriber.access_token.clone().unwrap(),
        )
    });

    let sub = Ws::open(&s);
    let login = sub.login_user(&sub_token);
    assert_eq!(login["status"], true, "{login}");
    let join = sub.request_as(json!({"type": "action", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}}), "join");
    assert_eq!(join["status"], true, "{join}");
    let publisher = Arc::new(Ws::open(&s));
    let login = publisher.login_user(&pub_token);
    assert_eq!(login["status"], true, "{login}");
    assert_eq!(
        publisher.request_as(message_up(&ch, &group, "first"), "first")["status"],
        true
    );

    let stop = Arc::new(AtomicBool::new(false));
    let sender = {
        let (publisher, stop, ch, group) =
            (publisher.clone(), stop.clone(), ch.clone(), group.clone());
        std::thread::spawn(move || {
            let mut i = 0u64;
            while !stop.load(Ordering::Relaxed) {
                let mut frame = message_up(&ch, &group, &format!("m{i}"));
                frame["request_id"] = format!("m{i}").into();
                if !publisher.send(&frame) {
                    break;
                }
                i += 1;
                if i.is_multiple_of(64) {
                    std::thread::sleep(Duration::from_millis(1));
                }
            }
        })
    };
    sub.wait("messages flowing", |f| {
        f["type"] == "message_down" && f["body"]["content"]["text"] == "m200"
    });
    s.stop();
    stop.store(true, Ordering::Relaxed);
    sender.join().unwrap();
    std::thread::sleep(Duration::from_millis(200));
    let received = delivered(&sub.frames());
    let accepted: Vec<String> = publisher
        .frames()
        .iter()
        .filter(|f| {
            f["type"] == "copy"
                && f["body"]["status"] == true
                && f["body"]["request_id"]
                    .as_str()
                    .is_some_and(|r| r.starts_with('m'))
        })
        .map(|f| f["body"]["request_id"].as_str().unwrap().to_owned())
        .collect();
    assert!(received.len() > 200, "{} messages received", received.len());

    s.restart();
    let again = Ws::open(&s);
    let login = again.login_user(&sub_token);
    assert_eq!(login["status"], true, "{login}");
    let mut replayed = BTreeMap::new();
    let mut from = 0u64;
    for round in 0.. {
        let copy = again.request_as(
            json!({"type": "resume", "body": {"channel_id": ch, "from": from}}),
            &format!("resume{round}"),
        );
        let ctx = &copy["context"];
        assert_eq!(copy["status"], true, "{copy}");
        assert_eq!(
            ctx["gap"], false,
            "a resume from the start after a clean stop reports a gap: {ctx}"
        );
        from = ctx["next_offset"].as_u64().unwrap();
        if ctx["more"] != true {
            break;
        }
    }
    replayed.extend(delivered(&again.frames()));
    for (offset, text) in &received {
        assert_eq!(replayed.get(offset), Some(text), "offset {offset} ({text}) reached a member before the stop but is not in the log after it");
    }
    let logged: std::collections::HashSet<&String> = replayed.values().collect();
    for rid in &accepted {
        assert!(
            logged.contains(rid),
            "{rid} was acknowledged before the stop but is not in the log after it"
        );
    }
}
