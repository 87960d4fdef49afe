//! A `pass` waiting for one of the `MOULTI_PASS_CONCURRENCY` slots. Its own binary: the test
//! watches descriptors that other tests would open and close at the same time.

use crate::common::{ok, TestInstance};
use relay_client::console::send_json_message;
use serde_json::json;

#[test]
fn a_pass_queued_behind_the_concurrency_limit_is_dropped_when_its_client_leaves() {
    // A `moulti pass` interrupted while it waits for a free slot: the instance must close the
    // pipe (so its producer gets SIGPIPE instead of blocking forever) and free the step.
    use std::io::Write;
    use std::os::fd::AsFd;
    let inst = TestInstance::with_settings(relay_console::settings::Settings {
        pass_concurrency: 1,
        ..Default::default()
    });
    for id in ["busy", "queued"] {
        assert!(ok(
            &inst.send(json!({"command": "step", "action": "add", "id": id}))
        ));
    }
    let (busy_r, _busy_w) = std::io::pipe().unwrap();
    let mut busy = inst.connect();
    send_json_message(
        &mut busy,
        &json!({"command": "pass", "id": "busy"}),
        &[busy_r.as_fd()],
    )
    .unwrap();
    drop(busy_r);
    // The busy pass holds the only slot before the other one asks for it: a ping on the same
    // connection is answered once the pass has been started.
    send_json_message(&mut busy, &json!({"command": "ping"}), &[]).unwrap();
    assert!(ok(
        &relay_client::console::recv_json_message(&mut busy).unwrap()
    ));
    std::thread::sleep(std::time::Duration::from_millis(50));
    let (queued_r, mut queued_w) = std::io::pipe().unwrap();
    let mut queued = inst.connect();
    send_json_message(
        &mut queued,
        &json!({"command": "pass", "id": "queued"}),
        &[queued_r.as_fd()],
    )
    .unwrap();
    drop(queued_r);
    std::thread::sleep(std::time::Duration::from_millis(100));
    drop(queued);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        match queued_w.write(b"x") {
            Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => break,
            _ if std::time::Instant::now() > deadline => {
                panic!("the instance still holds the pipe of a client that left")
            }
            _ => std::thread::sleep(std::time::Duration::from_millis(20)),
        }
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !ok(&inst.send(json!({"command": "step", "action": "delete", "id": "queued"}))) {
        assert!(
            std::time::Instant::now() < deadline,
            "the step is still marked as being fed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    drop(busy);
}
