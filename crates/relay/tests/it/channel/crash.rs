//! The channel log across a crash (`kill -9`): a message whose copy was not yet sent may be lost
//! from history (its offset was reserved); its offsets must never be given again (a client
//! that saw one would skip the new message under it), and a resume across the lost range says
//! that messages may be missing there. A clean stop loses nothing and leaves no such range.

use std::time::Duration;

use crate::support::channel::{recorder, setup, until, Seen};
use crate::support::server::Server;
use relay_client::channel::types::MessageContent;
use relay_client::channel::{ChannelClient, ClientConfig, Login, ResumeFrom, ServerFrame};

fn client(s: &Server, login: Login) -> (ChannelClient, Seen) {
    let (seen, handler) = recorder();
    let mut cfg = ClientConfig::new(s.ws(), login);
    cfg.backoff_max = Duration::from_millis(300);
    (ChannelClient::connect(cfg, handler), seen)
}

fn texts_with_offsets(seen: &Seen) -> Vec<(String, u64)> {
    let frames = seen.lock().unwrap();
    frames
        .iter()
        .filter(|f| f.kind == "message_down")
        .map(|f| {
            (
                f.body["content"]["text"].as_str().unwrap().to_owned(),
                f.offset.unwrap(),
            )
        })
        .collect()
}

fn copy_of(seen: &Seen, rid: &str) -> Option<ServerFrame> {
    seen.lock()
        .unwrap()
        .iter()
        .find(|f| f.ack().is_some_and(|(r, _)| r == rid))
        .cloned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn offsets_are_never_given_twice_and_a_resume_across_a_crash_says_what_may_be_lost() {
    let mut s = Server::start();
    let st = setup(&s).await;
    let (svc, _) = client(
        &s,
        Login::Service {
            access_token: st.owner.access_token.clone().unwrap(),
            service_id: st.sid.clone(),
        },
    );
    let (user, seen) = client(
        &s,
        Login::User {
            access_token: st.user.access_token.clone().unwrap(),
        },
    );
    svc.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    user.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    let rid = user.join_channel(&st.ch).send().unwrap();
    until("join", || copy_of(&seen, &rid)).await;
    let g = st
        .owner
        .create_service_group(std::slice::from_ref(&st.user_id))
        .await
        .unwrap();
    for i in 0..10 {
        svc.message_down(
            &st.ch,
            &g,
            "text",
            &MessageContent::text(format!("m{i}")),
            "no_sender",
        )
        .send()
        .unwrap();
    }
    let before = until("ten messages", || {
        Some(texts_with_offsets(&seen)).filter(|v| v.len() == 10)
    })
    .await;
    let last_before = before.iter().map(|(_, o)| *o).max().unwrap();
    let epoch = seen
        .lock()
        .unwrap()
        .iter()
        .find_map(|f| f.epoch.clone())
        .unwrap();

    let s = tokio::task::spawn_blocking(move || {
        s.crash_and_restart();
        s
    })
    .await
    .unwrap();
    user.wait_logged_in(2, Duration::from_secs(30))
        .await
        .unwrap();
    svc.wait_logged_in(2, Duration::from_secs(30))
        .await
        .unwrap();
    svc.message_down(
        &st.ch,
        &g,
        "text",
        &MessageContent::text("after"),
        "no_sender",
    )
    .send()
    .unwrap();
    let after = until("the message after the crash", || {
        texts_with_offsets(&seen)
            .into_iter()
            .find(|(t, _)| t == "after")
    })
    .await;
    // Whether or not the crash lost any of them, the offsets reserved before it are not
    // given again: the next message comes after the whole reservation.
    assert!(
        after.1 > last_before + 1,
        "offset {} after the crash, last before it {last_before}: the reservation was not kept",
        after.1
    );

    // Resuming from the last message seen before the crash crosses the offsets the crash may
    // have lost: the new message is replayed, and the copy says that some may be missing.
    let rid = user
        .resume(&st.ch, Some(&epoch), ResumeFrom::After(last_before))
        .send()
        .unwrap();
    let copy = until("the resume's copy", || copy_of(&seen, &rid)).await;
    let ctx = &copy.body["context"];
    assert_eq!(ctx["gap"], true, "{ctx}");
    let why = ctx["message"].as_str().unwrap();
    assert!(
        why.contains("without a clean shutdown")
            && why.contains(&format!("offsets {}", last_before + 1)),
        "{why}"
    );
    assert!(ctx["replayed"].as_u64().unwrap() >= 1, "{ctx}");
    let replayed_after = texts_with_offsets(&seen)
        .into_iter()
        .filter(|(t, _)| t == "after")
        .count();
    assert_eq!(replayed_after, 2, "delivered live and replayed once");

    // A clean stop then leaves nothing missing: a resume from the newest offset is whole.
    let s = tokio::task::spawn_blocking(move || {
        let mut s = s;
        s.restart();
        s
    })
    .await
    .unwrap();
    user.wait_logged_in(3, Duration::from_secs(30))
        .await
        .unwrap();
    svc.wait_logged_in(3, Duration::from_secs(30))
        .await
        .unwrap();
    svc.message_down(
        &st.ch,
        &g,
        "text",
        &MessageContent::text("after the clean stop"),
        "no_sender",
    )
    .send()
    .unwrap();
    let clean = until("the message after the clean stop", || {
        texts_with_offsets(&seen)
            .into_iter()
            .find(|(t, _)| t == "after the clean stop")
    })
    .await;
    assert_eq!(clean.1, after.1 + 1, "a clean stop skips no offsets");
    let rid = user
        .resume(&st.ch, Some(&epoch), ResumeFrom::After(after.1))
        .send()
        .unwrap();
    let copy = until("the second resume's copy", || copy_of(&seen, &rid)).await;
    assert_eq!(copy.body["context"]["gap"], false, "{}", copy.body);
    assert_eq!(copy.body["context"]["replayed"], 1, "{}", copy.body);
    svc.close().await;
    user.close().await;
    drop(s);
}
