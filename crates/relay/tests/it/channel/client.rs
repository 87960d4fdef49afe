//! The Rust channel client (`relay_client::channel`) against the real binary: login, routing,
//! offsets, an outbound queue that survives a server restart, dry runs and payload checks.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::support::channel::{recorder, setup, until, Seen, Setup};
use crate::support::server::Server;
use relay_client::channel::types::{Button, MessageContent};
use relay_client::channel::{
    ChannelClient, ClientConfig, Login, ResumeFrom, ServerFrame, Status, UpdateContent,
};

fn frames(seen: &Seen, kind: &str) -> Vec<ServerFrame> {
    seen.lock()
        .unwrap()
        .iter()
        .filter(|f| f.kind == kind)
        .cloned()
        .collect()
}

fn service_client(
    s: &Server,
    st: &Setup,
    handler: relay_client::channel::Handler,
) -> ChannelClient {
    let login = Login::Service {
        access_token: st.owner.access_token.clone().unwrap(),
        service_id: st.sid.clone(),
    };
    ChannelClient::connect(ClientConfig::new(s.ws(), login), handler)
}

fn user_client(s: &Server, st: &Setup, handler: relay_client::channel::Handler) -> ChannelClient {
    let login = Login::User {
        access_token: st.user.access_token.clone().unwrap(),
    };
    ChannelClient::connect(ClientConfig::new(s.ws(), login), handler)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_and_user_talk_and_messages_carry_increasing_offsets() {
    let s = Server::start();
    let st = setup(&s).await;
    let (svc_seen, h) = recorder();
    let svc = service_client(&s, &st, h);
    let (user_seen, h) = recorder();
    let user = user_client(&s, &st, h);
    svc.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    user.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();

    user.join_channel(&st.ch).send().unwrap();
    let join = until("join", || {
        frames(&svc_seen, "action")
            .into_iter()
            .find(|f| f.subtype() == Some("join"))
    })
    .await;
    assert_eq!(join.body["sender"], st.user_id.as_str());

    let g = st
        .owner
        .create_service_group(std::slice::from_ref(&st.user_id))
        .await
        .unwrap();
    let buttons = UpdateContent::Buttons(vec![Button {
        button_id: "b".into(),
        button_text: "B".into(),
        dialog: None,
    }]);
    svc.update(&st.ch, &g, &buttons).send().unwrap();
    for i in 0..3 {
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
    let downs = until("three messages", || {
        Some(frames(&user_seen, "message_down")).filter(|v| v.len() == 3)
    })
    .await;
    let offsets: Vec<u64> = downs.iter().map(|f| f.offset.unwrap()).collect();
    assert!(offsets.windows(2).all(|w| w[0] < w[1]), "{offsets:?}");
    let texts: Vec<&str> = downs
        .iter()
        .map(|f| f.body["content"]["text"].as_str().unwrap())
        .collect();
    assert_eq!(texts, ["m0", "m1", "m2"]);
    let upd = until("buttons", || {
        frames(&user_seen, "update").into_iter().next()
    })
    .await;
    assert_eq!(upd.body["content"][0]["button_id"], "b");

    user.message_up(&st.ch, "service", "text", &MessageContent::text("up"))
        .send()
        .unwrap();
    let up = until("message_up", || {
        frames(&svc_seen, "message_up").into_iter().next()
    })
    .await;
    assert_eq!(up.body["sender"], st.user_id.as_str());
    assert!(up.offset.unwrap() > offsets[2]);
    svc.close().await;
    user.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn frames_queued_while_the_server_is_down_arrive_in_order_after_reconnect() {
    let mut s = Server::start();
    let st = setup(&s).await;
    let (svc_seen, h) = recorder();
    let mut cfg = ClientConfig::new(
        s.ws(),
        Login::Service {
            access_token: st.owner.access_token.clone().unwrap(),
            service_id: st.sid.clone(),
        },
    );
    cfg.backoff_max = Duration::from_millis(500);
    let svc = ChannelClient::connect(cfg, h);
    let (user_seen, h) = recorder();
    let mut ucfg = ClientConfig::new(
        s.ws(),
        Login::User {
            access_token: st.user.access_token.clone().unwrap(),
        },
    );
    ucfg.backoff_max = Duration::from_millis(500);
    let user = ChannelClient::connect(ucfg, h);
    svc.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    user.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    user.join_channel(&st.ch).send().unwrap();
    until("join", || frames(&svc_seen, "action").into_iter().next()).await;
    // One message while both are up gives the service a position in the channel log.
    user.message_up(&st.ch, "service", "text", &MessageContent::text("warm-up"))
        .send()
        .unwrap();
    let warm = until("warm-up", || {
        frames(&svc_seen, "message_up").into_iter().next()
    })
    .await;
    let since = warm.offset.expect("channel messages carry offsets");

    let stop = tokio::task::spawn_blocking(move || {
        s.stop();
        s
    });
    let mut s = stop.await.unwrap();
    until("user notices", || {
        (user.status() != Status::LoggedIn(1)).then_some(())
    })
    .await;
    for i in 0..20 {
        user.message_up(
            &st.ch,
            "service",
            "text",
            &MessageContent::text(format!("q{i}")),
        )
        .send()
        .unwrap();
    }
    let s = tokio::task::spawn_blocking(move || {
        s.restart();
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
    // The user's client may log in again before the service's does, and what reaches a service
    // while it is offline is only kept in the channel log: the service resumes from the last
    // offset it saw, so each message arrives live, replayed, or both (told apart by offset).
    svc.resume(&st.ch, warm.epoch.as_deref(), ResumeFrom::After(since))
        .send()
        .unwrap();
    let distinct = || {
        let mut by_offset = std::collections::BTreeMap::new();
        for f in frames(&svc_seen, "message_up") {
            let offset = f.offset.expect("channel messages carry offsets");
            if offset > since {
                by_offset.insert(offset, f);
            }
        }
        by_offset.into_values().collect::<Vec<_>>()
    };
    let ups = until("20 queued messages", || {
        Some(distinct()).filter(|v| v.len() >= 20)
    })
    .await;
    let texts: Vec<String> = ups
        .iter()
        .map(|f| f.body["content"]["text"].as_str().unwrap().to_owned())
        .collect();
    let expected: Vec<String> = (0..20).map(|i| format!("q{i}")).collect();
    assert_eq!(texts, expected);
    assert!(
        frames(&user_seen, "copy")
            .iter()
            .filter(|f| f.body["origin_type"] == "message_up")
            .count()
            >= 21
    );
    drop(s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dry_runs_send_nothing_and_bad_payloads_are_refused_before_sending() {
    let s = Server::start();
    let st = setup(&s).await;
    let (svc_seen, h) = recorder();
    let svc = service_client(&s, &st, h);
    let (_user_seen, h) = recorder();
    let user = user_client(&s, &st, h);
    svc.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    user.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();

    let frame = user.join_channel(&st.ch).dry_run().unwrap();
    assert_eq!(frame["type"], "action");
    assert_eq!(frame["body"]["subtype"], "join_channel");
    let down = svc
        .message_down(&st.ch, "g", "text", &MessageContent::text("x"), "a")
        .dry_run()
        .unwrap();
    assert_eq!(down["type"], "message_down");
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        frames(&svc_seen, "action").is_empty(),
        "a dry run reached the server"
    );
    assert!(!st
        .owner
        .members(&st.ch)
        .await
        .unwrap()
        .contains(&st.user_id));

    assert!(user
        .message_up(&st.ch, "", "text", &MessageContent::text("x"))
        .send()
        .is_err());
    assert!(svc
        .update("", "g", &UpdateContent::Canvas(vec![]))
        .send()
        .is_err());
    svc.close().await;
    user.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn handler_errors_are_logged_and_the_client_keeps_going() {
    let s = Server::start();
    let st = setup(&s).await;
    let calls = Arc::new(Mutex::new(0usize));
    let c = calls.clone();
    let user = user_client(
        &s,
        &st,
        Box::new(move |_f| {
            *c.lock().unwrap() += 1;
            Err("handler failure".into())
        }),
    );
    user.wait_logged_in(1, Duration::from_secs(10))
        .await
        .unwrap();
    for _ in 0..3 {
        user.heartbeat().send().unwrap();
    }
    until("three handled frames after errors", || {
        (*calls.lock().unwrap() >= 4).then_some(())
    })
    .await;
    assert_eq!(user.status(), Status::LoggedIn(1));
    user.close().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_login_is_reported() {
    let s = Server::start();
    let (_seen, h) = recorder();
    let c = ChannelClient::connect(
        ClientConfig::new(
            s.ws(),
            Login::User {
                access_token: "wrong".into(),
            },
        ),
        h,
    );
    until("refusal", || {
        matches!(c.status(), Status::LoginRefused(_)).then_some(())
    })
    .await;
    match c.status() {
        Status::LoginRefused(r) => assert!(r.contains("invalid access token"), "{r}"),
        other => panic!("{other:?}"),
    }
    c.close().await;
}
