//! Clients that go away while the instance still holds something for them.

use crate::common::{ok, TestInstance};
use relay_client::console::send_json_message;
use serde_json::json;

fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

#[test]
fn waiters_that_disconnect_are_forgotten() {
    // `get-answer --wait` interrupted with Ctrl+C (as moulti-askpass can be): the parked request
    // must not keep the connection's socket and tasks alive until the question is answered.
    let inst = TestInstance::start();
    assert!(ok(&inst.send(
        json!({"command": "inputquestion", "action": "add", "id": "q"})
    )));
    let before = open_fds();
    for _ in 0..200 {
        let mut c = inst.connect();
        send_json_message(
            &mut c,
            &json!({"command": "inputquestion", "action": "get-answer", "id": "q", "wait": true}),
            &[],
        )
        .unwrap();
        drop(c);
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while open_fds() > before + 8 && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let after = open_fds();
    assert!(
        after <= before + 8,
        "sockets of gone waiters are still open: {before} -> {after}"
    );
    assert!(ok(&inst.send(json!({"command": "ping"}))));
}
