//! `pass` with a `read_size` from the client that is far beyond any sensible buffer.

mod common;

use common::{ok, TestInstance};
use relay_client::console::{recv_json_message, send_json_message};
use serde_json::json;
use std::io::Write;
use std::os::fd::AsFd;

#[test]
fn huge_read_size_is_served_and_the_instance_survives() {
    // Checklist 49 says read_size only changes the chunking; a huge value must not make the
    // instance allocate a buffer of that size (the allocation fails and aborts the process).
    let inst = TestInstance::start();
    assert!(ok(&inst.send(json!({"command": "step", "action": "add", "id": "big"}))));
    let (r, w) = std::io::pipe().unwrap();
    let mut w = std::fs::File::from(std::os::fd::OwnedFd::from(w));
    w.write_all(b"one\ntwo").unwrap();
    drop(w);
    let mut c = inst.connect();
    c.stream().set_read_timeout(Some(std::time::Duration::from_secs(10))).unwrap();
    send_json_message(&mut c, &json!({"msgid": "p", "command": "pass", "id": "big", "read_size": 1i64 << 60}), &[r.as_fd()]).unwrap();
    drop(r);
    assert_eq!(recv_json_message(&mut c).unwrap(), json!({"msgid": "p", "done": true, "error": null}));
    assert!(ok(&inst.send(json!({"command": "step", "action": "delete", "id": "big"}))), "the pass finished");
}
