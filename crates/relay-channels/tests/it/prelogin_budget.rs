//! Sockets that have not logged in share one budget for the frames they keep, and every way
//! frames leave a pre-login buffer gives their bytes back: a login, a failed login, expiry, a
//! disconnect, the hub's close. The number of such sockets is limited too.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use relay_channels::{ConnId, Hub, HubConfig, Outbox, PreloginLimits, PushError};
use relay_wire::websocket::Frame;
use serde_json::{json, Value};

#[derive(Default)]
struct Recorder(Mutex<Vec<Value>>);

impl Outbox for Recorder {
    fn push(&self, frame: &Frame) -> Result<bool, PushError> {
        self.0
            .lock()
            .unwrap()
            .push(serde_json::from_slice(frame.payload()).unwrap());
        Ok(false)
    }
    fn flush(&self) {}
    fn close_after(&self, _code: u16, _reason: &str, _after: Duration) {}
}

impl Recorder {
    /// The `copy` of request `rid`: its status and message.
    fn copy_of(&self, rid: &str) -> Option<(bool, String)> {
        let frames = self.0.lock().unwrap();
        frames
            .iter()
            .find(|f| f["type"] == "copy" && f["body"]["request_id"] == rid)
            .map(|f| {
                (
                    f["body"]["status"].as_bool().unwrap(),
                    f["body"]["context"]["message"]
                        .as_str()
                        .unwrap_or("")
                        .to_owned(),
                )
            })
    }
}

struct World {
    hub: Hub,
    dir: std::path::PathBuf,
    token: String,
}

impl Drop for World {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

const BUDGET: usize = 10_000;

fn world(limits: PreloginLimits) -> World {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "relay-prelogin-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let hub = Hub::open(
        &dir,
        HubConfig {
            prelogin: limits,
            ..HubConfig::default()
        },
    )
    .unwrap();
    hub.add_account("user@example.com", "pw", None).unwrap();
    let token = hub.sign_in("user@example.com", "pw").unwrap().access_token;
    World { hub, dir, token }
}

fn limits() -> PreloginLimits {
    PreloginLimits {
        budget_bytes: BUDGET,
        ..PreloginLimits::default()
    }
}

fn socket(hub: &Hub) -> (ConnId, Arc<Recorder>) {
    let out = Arc::new(Recorder::default());
    let handle = hub.connect(out.clone());
    (handle.id, out)
}

/// A frame of about `len` bytes that is kept before a login.
fn frame(rid: &str, len: usize) -> String {
    json!({"type": "action", "request_id": rid, "body": {"subtype": "join", "channel_id": "x".repeat(len.saturating_sub(80))}}).to_string()
}

/// Fills the budget from one socket with frames of `BUDGET / 4` bytes; the fifth is refused.
fn fill(hub: &Hub, id: ConnId, out: &Recorder, tag: &str) {
    for i in 0..4 {
        hub.on_frame(id, &frame(&format!("{tag}{i}"), BUDGET / 4 - 10));
    }
    assert!(
        (BUDGET - 200..=BUDGET).contains(&hub.prelogin_usage().1),
        "{:?}",
        hub.prelogin_usage()
    );
    hub.on_frame(id, &frame(&format!("{tag}-over"), BUDGET / 4 - 10));
    let (status, message) = out
        .copy_of(&format!("{tag}-over"))
        .expect("a failed copy once the budget is spent");
    assert!(
        !status && message.contains("server's pre-login buffers are full"),
        "{message}"
    );
}

/// Another socket may keep a frame again: the budget was given back.
fn budget_is_back(hub: &Hub, tag: &str) {
    assert_eq!(hub.prelogin_usage().1, 0);
    let (id, out) = socket(hub);
    hub.on_frame(id, &frame(tag, BUDGET / 2));
    assert_eq!(
        out.copy_of(tag),
        None,
        "a frame within the budget is kept, unanswered until a login"
    );
    hub.disconnect(id);
}

#[test]
fn a_login_gives_the_budget_back_and_runs_the_kept_frames() {
    let w = world(limits());
    let (id, out) = socket(&w.hub);
    fill(&w.hub, id, &out, "a");
    w.hub.on_frame(
        id,
        &json!({"type": "user_login", "request_id": "login", "access_token": w.token}).to_string(),
    );
    assert_eq!(out.copy_of("login"), Some((true, String::new())));
    // The kept joins ran (and failed: no such channel).
    assert!(
        matches!(out.copy_of("a0"), Some((false, m)) if m.contains("channel")),
        "{:?}",
        out.copy_of("a0")
    );
    assert_eq!(w.hub.prelogin_usage(), (0, 0));
    budget_is_back(&w.hub, "after-login");
}

#[test]
fn a_failed_login_gives_the_budget_back() {
    let w = world(limits());
    let (id, out) = socket(&w.hub);
    fill(&w.hub, id, &out, "f");
    w.hub.on_frame(
        id,
        &json!({"type": "user_login", "request_id": "login", "access_token": "bogus"}).to_string(),
    );
    assert!(matches!(out.copy_of("login"), Some((false, _))));
    // Still open (closed 1.5 s later), still not logged in, and holding nothing.
    assert_eq!(w.hub.prelogin_usage(), (1, 0));
    budget_is_back(&w.hub, "after-failed-login");
}

#[test]
fn a_disconnect_gives_the_budget_and_the_socket_back() {
    let w = world(limits());
    let (id, out) = socket(&w.hub);
    fill(&w.hub, id, &out, "d");
    assert_eq!(w.hub.prelogin_usage().0, 1);
    w.hub.disconnect(id);
    assert_eq!(w.hub.prelogin_usage(), (0, 0));
    budget_is_back(&w.hub, "after-disconnect");
}

#[test]
fn expired_frames_of_a_silent_socket_give_the_budget_back() {
    let w = world(PreloginLimits {
        ttl: Duration::from_millis(200),
        ..limits()
    });
    let (id, out) = socket(&w.hub);
    fill(&w.hub, id, &out, "t");
    std::thread::sleep(Duration::from_millis(400));
    // The silent socket is still open; a frame from another one finds its frames expired.
    let (other, other_out) = socket(&w.hub);
    w.hub.on_frame(other, &frame("late", BUDGET / 2));
    assert_eq!(
        other_out.copy_of("late"),
        None,
        "{:?}",
        other_out.copy_of("late")
    );
    assert!(
        w.hub.prelogin_usage().1 <= BUDGET / 2,
        "{:?}",
        w.hub.prelogin_usage()
    );
    // And the expired frames never run after a login.
    w.hub.on_frame(
        id,
        &json!({"type": "user_login", "request_id": "login", "access_token": w.token}).to_string(),
    );
    assert_eq!(out.copy_of("login"), Some((true, String::new())));
    assert_eq!(out.copy_of("t0"), None);
}

#[test]
fn closing_the_hub_gives_the_budget_back() {
    let w = world(limits());
    let (id, out) = socket(&w.hub);
    fill(&w.hub, id, &out, "c");
    w.hub.close().unwrap();
    assert_eq!(w.hub.prelogin_usage().1, 0);
}

#[test]
fn an_admission_holds_its_place_until_it_connects_or_is_dropped() {
    let w = world(PreloginLimits {
        max_sockets: 2,
        ..limits()
    });
    let first = w.hub.admit().expect("room for two");
    let second = w.hub.admit().expect("room for two");
    assert!(
        w.hub.admit().is_none(),
        "two places taken before either connected"
    );
    assert_eq!(w.hub.prelogin_usage().0, 2);
    drop(first);
    assert_eq!(
        w.hub.prelogin_usage().0,
        1,
        "an unused admission gives its place back"
    );
    let handle = second.connect(Arc::new(Recorder::default()));
    assert_eq!(
        w.hub.prelogin_usage().0,
        1,
        "connecting counts the place once"
    );
    assert!(
        handle.kill.reason().is_none(),
        "the admitted socket is served"
    );
    w.hub.disconnect(handle.id);
    assert_eq!(w.hub.prelogin_usage().0, 0);
}

#[test]
fn sockets_waiting_for_a_login_are_limited() {
    let w = world(PreloginLimits {
        max_sockets: 2,
        ..limits()
    });
    let (a, a_out) = socket(&w.hub);
    let (_b, _) = socket(&w.hub);
    assert!(w.hub.admit().is_none());
    let refused = w.hub.connect(Arc::new(Recorder::default()));
    let (code, reason) = futures_lite_block_on(refused.kill.wait());
    assert_eq!(
        (code, reason.as_str()),
        (1013, relay_channels::TOO_MANY_WAITING)
    );
    assert_eq!(w.hub.prelogin_usage().0, 2);
    // A socket that logs in no longer counts.
    w.hub.on_frame(
        a,
        &json!({"type": "user_login", "request_id": "login", "access_token": w.token}).to_string(),
    );
    assert_eq!(a_out.copy_of("login"), Some((true, String::new())));
    let (c, _) = socket(&w.hub);
    assert_eq!(w.hub.prelogin_usage().0, 2);
    w.hub.disconnect(c);
    assert_eq!(w.hub.prelogin_usage().0, 1);
    // Logging in again on the same socket counts nothing twice.
    w.hub.on_frame(
        a,
        &json!({"type": "user_login", "request_id": "again", "access_token": w.token}).to_string(),
    );
    w.hub.disconnect(a);
    assert_eq!(w.hub.prelogin_usage().0, 1);
}

/// `Kill::wait` resolves at once here (the signal was fired before), so a no-op waker does.
fn futures_lite_block_on<F: std::future::Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match f.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(v) => v,
        std::task::Poll::Pending => panic!("the kill signal was not fired"),
    }
}
