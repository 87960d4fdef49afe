//! The channel face of several `relay serve --store postgres://…` nodes on one database: one
//! node at a time serves the channel state (the owner), the others answer 503 naming it and
//! take over by themselves when it goes away; clients that reconnect to the new owner log in
//! with the same tokens and resume where they were, losing nothing whose copy they had. An
//! owner whose database connection is cut while another node takes the state closes its
//! sockets and stands by. `relay account --store` reaches the owner, or the database.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without it the
//! tests say they did not run and pass; with RELAY_REQUIRE_POSTGRES=1 (as the acceptance run
//! sets) they fail instead. Each test uses a schema named after the test and this process.

use std::collections::HashSet;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::queue_http::*;
use crate::support::server::*;
use crate::support::ws::Ws;
use crate::support::BIN;
use relay_client::channel::ChannelHttp;
use serde_json::{json, Value};

/// Only keeps a broken cluster from hanging the suite; nothing is asserted about time.
const DEADLINE: Duration = Duration::from_secs(90);

const STANDBY: &str = "channel state is served by another node";

/// The database URL and the store URL of a fresh schema for `test`; `None` when the tests are
/// not to run.
fn store_url(test: &str) -> Option<(String, String)> {
    let base = match std::env::var("RELAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set: run the tests under \
             scripts/with-postgres"
        ),
        _ => {
            eprintln!(
                "channel::nodes::{test} did not run: RELAY_TEST_POSTGRES is not set \
                 (run under scripts/with-postgres to test several nodes)"
            );
            return None;
        }
    };
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!(
        "{base}{sep}schema=relay_chnodes_{test}_{}",
        std::process::id()
    );
    Some((base, url))
}

fn node_on(url: &str) -> Server {
    Server::with(Options::default().arg("--store").arg(url))
}

/// What a node's channel face answers to a request that needs the hub: a standby's 503 (with
/// its message) or the owner's 401 (no token).
fn probe(s: &Server) -> Response {
    s.anon("GET", "/user/info").send()
}

fn serves(s: &Server) -> bool {
    matches!(s.anon("GET", "/user/info").try_send(), Ok(r) if r.status == 401)
}

/// Asserts that `s` is a standby, and returns its message.
#[track_caller]
fn assert_standby(s: &Server) -> String {
    let r = probe(s);
    assert_eq!(r.status, 503, "{}", r.text());
    assert_eq!(r.header("Retry-After"), Some("1"), "{r:?}");
    let body = r.json();
    assert_eq!(body["code"], 50300, "{body}");
    let message = body["message"].as_str().unwrap().to_string();
    assert!(message.contains(STANDBY), "{message}");
    assert!(
        message.contains("takes over if that one stops"),
        "{message}"
    );
    // The WebSocket upgrade is refused the same way.
    let (status, _) = s.ws_upgrade();
    assert!(status.starts_with("HTTP/1.1 503"), "{status}");
    message
}

/// Which of `nodes` serve channels now.
fn owners(nodes: &[&Server]) -> Vec<usize> {
    (0..nodes.len()).filter(|&i| serves(nodes[i])).collect()
}

/// Waits until exactly one of `nodes` serves; returns its index.
fn wait_for_owner(nodes: &[&Server]) -> usize {
    let deadline = Instant::now() + DEADLINE;
    loop {
        if let [one] = owners(nodes)[..] {
            return one;
        }
        assert!(
            Instant::now() < deadline,
            "no node took over the channel state; logs:\n{}",
            nodes
                .iter()
                .map(|n| n.log())
                .collect::<Vec<_>>()
                .join("\n----\n")
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// `relay account add` with `--store`; its output and whether it succeeded.
fn account_add(url: &str, data: &std::path::Path, email: &str) -> (bool, String) {
    let out = Command::new(BIN)
        .args([
            "account",
            "add",
            email,
            "--password",
            "pw",
            "--store",
            url,
            "--data",
        ])
        .arg(data)
        .env_remove("RELAY_STORE")
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

fn account_list(url: &str, data: &std::path::Path) -> String {
    let out = Command::new(BIN)
        .args(["account", "list", "--json", "--store", url, "--data"])
        .arg(data)
        .env_remove("RELAY_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A plain connection to the test database, for what the tests do behind the nodes' backs.
async fn db(base: &str) -> tokio_postgres::Client {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
}

#[test]
fn three_nodes_one_serves_channels_the_others_answer_503_and_all_serve_the_queue() {
    let Some((_, url)) = store_url("three") else {
        return;
    };
    let nodes: Vec<Server> = (0..3).map(|_| node_on(&url)).collect();
    let refs: Vec<&Server> = nodes.iter().collect();
    let owner = wait_for_owner(&refs);
    for (i, n) in nodes.iter().enumerate() {
        if i != owner {
            let message = assert_standby(n);
            // It names the owner by the address the owner listens on.
            assert!(
                message.contains(&nodes[owner].addr.to_string()),
                "{message} should name {}",
                nodes[owner].addr
            );
        }
    }
    // The queue face serves on every node: pushed on each, pulled on the next.
    for i in 0..3 {
        let (from, to) = (node(), node());
        let id = nodes[i].push(&from, &to, &json!({"n": i})).id();
        let pulled = nodes[(i + 1) % 3].pull(&to).expect(200);
        assert_eq!(pulled.id(), id);
    }
}

#[test]
fn two_nodes_starting_at_once_on_an_empty_database_one_owner_one_standby() {
    let Some((_, url)) = store_url("race") else {
        return;
    };
    let (a, b) = std::thread::scope(|s| {
        let a = s.spawn(|| node_on(&url));
        let b = s.spawn(|| node_on(&url));
        (a.join().unwrap(), b.join().unwrap())
    });
    let owner = wait_for_owner(&[&a, &b]);
    assert_standby(if owner == 0 { &b } else { &a });
    assert_eq!(owners(&[&a, &b]), vec![owner]);
}

fn message_down(ch: &str, group: &str, text: &str) -> Value {
    json!({"type": "message_down", "body": {"subtype": "text", "channel_id": ch, "content": {"text": text}, "recipients": group, "timestamp": 1, "context": {}, "sender": "no_sender"}})
}

fn text_of(f: &Value) -> String {
    f["body"]["content"]["text"]
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// The channel's messages from `from` on as `ws` gets them by resuming: (text, offset).
fn resume(ws: &Ws, ch: &str, mut from: u64) -> Vec<(String, u64)> {
    let before = ws.count();
    loop {
        let copy = ws.request(json!({"type": "resume", "body": {"channel_id": ch, "from": from}}));
        assert_eq!(copy["status"], true, "{copy}");
        let ctx = &copy["context"];
        from = ctx["next_offset"].as_u64().unwrap();
        if ctx["more"] != true {
            break;
        }
    }
    ws.since(before)
        .iter()
        .filter(|f| f["type"] == "message_down")
        .map(|f| (text_of(f), f["offset"].as_u64().unwrap()))
        .collect()
}

/// Signs in two accounts on `s`, the owner's service bound to its channel, and a group holding
/// the user: (owner token, user token, service id, channel, group).
async fn world(s: &Server, url: &str) -> (String, String, String, String, String) {
    for email in ["owner@example.com", "user@example.com"] {
        let (ok, out) = account_add(url, s.data_dir(), email);
        assert!(ok, "{out}");
    }
    let mut owner = ChannelHttp::new(&s.http()).unwrap();
    owner.sign_in("owner@example.com", "pw").await.unwrap();
    let mut user = ChannelHttp::new(&s.http()).unwrap();
    user.sign_in("user@example.com", "pw").await.unwrap();
    let user_id = user.user_id().await.unwrap();
    let sid = owner.create_service("svc").await.unwrap();
    let ch = owner.create_channel("room", "").await.unwrap();
    owner.bind(&ch, &sid).await.unwrap();
    let group = owner
        .create_service_group(std::slice::from_ref(&user_id))
        .await
        .unwrap();
    (
        owner.access_token.clone().unwrap(),
        user.access_token.clone().unwrap(),
        sid,
        ch,
        group,
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_9_of_the_owner_hands_channels_to_a_standby_and_clients_resume_there() {
    let Some((_, url)) = store_url("failover") else {
        return;
    };
    let nodes: Vec<Server> = (0..3).map(|_| node_on(&url)).collect();
    let first = wait_for_owner(&nodes.iter().collect::<Vec<_>>());
    let (svc_token, user_token, sid, ch, group) = world(&nodes[first], &url).await;
    tokio::task::spawn_blocking(move || {
        let mut nodes = nodes;
        let owner = &nodes[first];
        let user = Ws::open(owner);
        assert_eq!(user.login_user(&user_token)["status"], true);
        let join = user.request(
            json!({"type": "action", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}}),
        );
        assert_eq!(join["status"], true, "{join}");
        let svc = Ws::open(owner);
        assert_eq!(svc.login_service(&svc_token, &sid)["status"], true);

        // Acknowledged messages (their copies came back), delivered to the user.
        let mut acked = Vec::new();
        for i in 0..50 {
            let text = format!("before-{i}");
            let copy = svc.request(message_down(&ch, &group, &text));
            assert_eq!(copy["status"], true, "{copy}");
            acked.push(text);
        }
        let last = acked.last().unwrap().clone();
        user.wait("the last message before the kill", |f| {
            f["type"] == "message_down" && text_of(f) == last
        });
        let seen: Vec<(String, u64)> = user
            .all(|f| f["type"] == "message_down")
            .iter()
            .map(|f| (text_of(f), f["offset"].as_u64().unwrap()))
            .collect();
        // Sent without waiting, then the owner dies: these may or may not have been stored.
        for i in 0..20 {
            let mut m = message_down(&ch, &group, &format!("tail-{i}"));
            m["request_id"] = format!("tail-{i}").into();
            svc.send(&m);
        }
        let tail_copies = || {
            svc.all(|f| f["type"] == "copy" && f["body"]["status"] == true)
                .iter()
                .filter_map(|f| f["body"]["request_id"].as_str().map(str::to_owned))
                .filter(|r| r.starts_with("tail-"))
                .collect::<Vec<_>>()
        };
        nodes[first].kill9();
        acked.extend(tail_copies());

        let rest: Vec<&Server> = nodes
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != first)
            .map(|(_, n)| n)
            .collect();
        let new = rest[wait_for_owner(&rest)];
        assert_standby(rest.iter().find(|n| n.addr != new.addr).unwrap());

        // The same tokens log in on the new owner; the user resumes after its last offset.
        let user2 = Ws::open(new);
        assert_eq!(user2.login_user(&user_token)["status"], true);
        let last_seen = seen.last().unwrap().1;
        let resumed = resume(&user2, &ch, last_seen + 1);
        let mut got: Vec<String> = seen.iter().map(|(t, _)| t.clone()).collect();
        got.extend(resumed.iter().map(|(t, _)| t.clone()));
        let mut once = HashSet::new();
        for t in &got {
            assert!(once.insert(t.clone()), "{t} delivered twice: {got:?}");
        }
        for t in &acked {
            assert!(once.contains(t), "{t} was acknowledged but is gone: {got:?}");
        }
        // The whole log from the start holds each message once.
        let log = resume(&user2, &ch, 0);
        let mut in_log = HashSet::new();
        for (t, o) in &log {
            assert!(in_log.insert(t.clone()), "{t} twice in the log (at {o})");
        }

        // New messages flow on the new owner.
        let svc2 = Ws::open(new);
        assert_eq!(svc2.login_service(&svc_token, &sid)["status"], true);
        let copy = svc2.request(message_down(&ch, &group, "after"));
        assert_eq!(copy["status"], true, "{copy}");
        user2.wait("a message sent after the takeover", |f| {
            f["type"] == "message_down" && text_of(f) == "after"
        });
        assert!(
            new.log().contains("took over the channel state"),
            "{}",
            new.log()
        );
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_cut_from_the_database_while_a_standby_takes_over_closes_its_sockets() {
    let Some((base, url)) = store_url("cut") else {
        return;
    };
    let a = node_on(&url);
    let b = node_on(&url);
    assert!(serves(&a), "{}", a.log());
    assert_standby(&b);
    let (_, user_token, _, _, _) = world(&a, &url).await;
    let client = db(&base).await;
    let app = format!("relay-channels {}", a.addr);
    let (a, b, user) = tokio::task::spawn_blocking(move || {
        let user = Ws::open(&a);
        assert_eq!(user.login_user(&user_token)["status"], true);
        (a, b, user)
    })
    .await
    .unwrap();
    // Cut A's channel session until B holds the state (A may take its lock back first).
    let deadline = Instant::now() + DEADLINE;
    loop {
        client
            .execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
                &[&app],
            )
            .await
            .unwrap();
        tokio::time::sleep(Duration::from_millis(300)).await;
        let b_serves = tokio::task::block_in_place(|| serves(&b));
        if b_serves {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "B never took over:\n{}\n----\n{}",
            a.log(),
            b.log()
        );
    }
    tokio::task::block_in_place(|| {
        let (code, reason, _) = user.wait_closed(DEADLINE);
        assert_eq!(code, 1012, "{reason}");
        assert!(reason.contains("no longer serves"), "{reason}");
        // A stands by, naming B.
        let deadline = Instant::now() + DEADLINE;
        while probe(&a).status != 503 {
            assert!(Instant::now() < deadline, "A still serves:\n{}", a.log());
            std::thread::sleep(Duration::from_millis(50));
        }
        let message = assert_standby(&a);
        assert!(message.contains(&b.addr.to_string()), "{message}");
        assert!(
            a.log().contains("lost the channel state to another node"),
            "{}",
            a.log()
        );
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_add_with_store_reaches_the_database_the_local_owner_or_names_a_remote_one() {
    let Some((base, url)) = store_url("account") else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    // No node: the command opens the state itself.
    let (ok, out) = account_add(&url, tmp.path(), "first@example.com");
    assert!(ok, "{out}");
    assert!(out.contains("created account first@example.com"), "{out}");

    // An owner on this machine (and a standby): through the owner's admin socket, from any
    // data directory.
    let (a, b) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || (node_on(&url), node_on(&url))
    })
    .await
    .unwrap();
    let (ok, out) = account_add(&url, tmp.path(), "second@example.com");
    assert!(ok, "{out}");
    let list = account_list(&url, b.data_dir());
    assert!(
        list.contains("first@example.com") && list.contains("second@example.com"),
        "{list}"
    );
    let mut http = ChannelHttp::new(&a.http()).unwrap();
    http.sign_in("second@example.com", "pw").await.unwrap();
    drop((a, b));

    // An owner on another machine: named, not bypassed. The test holds the lock and writes an
    // owner record as such a node would.
    let client = db(&base).await;
    let schema = url.rsplit("schema=").next().unwrap().to_string();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let locked: bool = client
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended($1, 0))",
                &[&format!("relay_channels_owner:{schema}")],
            )
            .await
            .unwrap()
            .get(0);
        if locked {
            break;
        }
        assert!(Instant::now() < deadline, "the killed nodes' lock stayed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let record = json!({"token": "elsewhere", "host": "far-away-host", "node": "10.9.9.9:7720", "pid": 4242, "admin_socket": "/nonexistent/admin.sock"});
    client
        .execute(
            &format!("UPDATE \"{schema}\".channel_meta SET value = $1 WHERE key = 'owner'"),
            &[&record.to_string().into_bytes()],
        )
        .await
        .unwrap();
    let (ok, out) =
        tokio::task::block_in_place(|| account_add(&url, tmp.path(), "third@example.com"));
    assert!(!ok, "{out}");
    assert!(
        out.contains("another machine")
            && out.contains("far-away-host")
            && out.contains("10.9.9.9:7720"),
        "{out}"
    );
}

fn forwarding_node_on(url: &str) -> Server {
    Server::with(
        Options::default()
            .arg("--store")
            .arg(url)
            .arg("--forward-to-owner")
            .args(&["--trusted-proxy", "127.0.0.1"]),
    )
}

/// Whether `s` serves the channel state itself: a request marked as forwarded is never
/// forwarded again, so a forwarding standby answers it with its 503.
fn owns(s: &Server) -> bool {
    matches!(
        s.anon("GET", "/user/info").header("relay-forwarded", "1").try_send(),
        Ok(r) if r.status == 401
    )
}

/// Waits until exactly one of `nodes` owns the state; returns its index.
fn wait_for_owning(nodes: &[&Server]) -> usize {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let owning: Vec<usize> = (0..nodes.len()).filter(|&i| owns(nodes[i])).collect();
        if let [one] = owning[..] {
            return one;
        }
        assert!(Instant::now() < deadline, "no single owner: {owning:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forwarding_standbys_serve_clients_through_the_owner_and_then_through_the_next_one() {
    let Some((_, url)) = store_url("forward") else {
        return;
    };
    let (nodes, first) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let nodes: Vec<Server> = (0..3).map(|_| forwarding_node_on(&url)).collect();
            let first = wait_for_owning(&nodes.iter().collect::<Vec<_>>());
            (nodes, first)
        }
    })
    .await
    .unwrap();
    let standbys: Vec<usize> = (0..3).filter(|&i| i != first).collect();
    let (u, s) = (standbys[0], standbys[1]);
    // Accounts, sign-ins, the service, channel and group, all through a standby's HTTP API.
    let (svc_token, user_token, sid, ch, group) = world(&nodes[u], &url).await;
    tokio::task::spawn_blocking(move || {
        let mut nodes = nodes;
        for i in [u, s] {
            let r = probe(&nodes[i]);
            assert_eq!(r.status, 401, "a forwarding standby answers as the owner: {r:?}");
        }
        // The user's socket on one standby, the service's on the other.
        let svc = Ws::open(&nodes[s]);
        assert_eq!(svc.login_service(&svc_token, &sid)["status"], true);
        let user = Ws::open(&nodes[u]);
        assert_eq!(user.login_user(&user_token)["status"], true);
        let join = user.request(
            json!({"type": "action", "body": {"subtype": "join_channel", "channel_id": ch, "context": {}}}),
        );
        assert_eq!(join["status"], true, "{join}");
        svc.wait("the user's join, from the other standby", |f| {
            f["type"] == "action" && f["body"]["subtype"] == "join"
        });
        for i in 0..20 {
            let copy = svc.request(message_down(&ch, &group, &format!("before-{i}")));
            assert_eq!(copy["status"], true, "{copy}");
        }
        user.wait("the last message, across both standbys", |f| {
            f["type"] == "message_down" && text_of(f) == "before-19"
        });
        let seen = user.all(|f| f["type"] == "message_down");
        let last_seen = seen.last().unwrap()["offset"].as_u64().unwrap();

        // The owner dies: the forwarded sockets end with it, and one of the standbys takes over.
        nodes[first].kill9();
        user.wait_closed(DEADLINE);
        svc.wait_closed(DEADLINE);
        let rest = [&nodes[u], &nodes[s]];
        let next = [u, s][wait_for_owning(&rest)];
        for i in [u, s] {
            let deadline = Instant::now() + DEADLINE;
            while probe(&nodes[i]).status != 401 {
                assert!(Instant::now() < deadline, "node {i} does not serve:\n{}", nodes[i].log());
                std::thread::sleep(Duration::from_millis(100));
            }
        }
        assert!(
            nodes[next].log().contains("took over the channel state"),
            "{}",
            nodes[next].log()
        );

        // The same clients come back to the same nodes (one now the owner, one forwarding to
        // it), resume, and carry on.
        let svc = Ws::open(&nodes[s]);
        assert_eq!(svc.login_service(&svc_token, &sid)["status"], true);
        let user = Ws::open(&nodes[u]);
        assert_eq!(user.login_user(&user_token)["status"], true);
        let copy = svc.request(message_down(&ch, &group, "after"));
        assert_eq!(copy["status"], true, "{copy}");
        user.wait("a message sent after the takeover", |f| {
            f["type"] == "message_down" && text_of(f) == "after"
        });
        let resumed = resume(&user, &ch, last_seen + 1);
        let texts: Vec<&str> = resumed.iter().map(|(t, _)| t.as_str()).collect();
        assert!(texts.contains(&"after"), "{texts:?}");
        assert!(
            !texts.iter().any(|t| t.starts_with("before-")),
            "nothing seen before is resumed again: {texts:?}"
        );
        let log = resume(&user, &ch, 0);
        assert_eq!(log.len(), 21, "{log:?}");
    })
    .await
    .unwrap();
}
