//! The Rust client (`relay_client::console`) against a real instance and against bad servers.

use crate::common::TestInstance;
use relay_client::console::{
    connect_to, recv_json_message, send_json_message, send_to_console, ConsoleClientError,
};
use relay_wire::console::SocketAddress;
use serde_json::json;
use std::io::{Read, Write};
use std::os::fd::AsFd;

#[test]
fn missing_instance_is_a_clear_error() {
    let addr = SocketAddress::Abstract(format!("relay-no-such-instance-{}", std::process::id()));
    let err = connect_to(&addr).err().expect("nothing listens there");
    assert!(matches!(err, ConsoleClientError::NoInstance { .. }));
    assert!(err.to_string().contains("relay init"), "{err}");
}

#[test]
fn garbage_from_the_server_is_a_protocol_error() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fake.socket");
    let listener = std::os::unix::net::UnixListener::bind(&path).unwrap();
    let server = std::thread::spawn(move || {
        let (mut s, _) = listener.accept().unwrap();
        let mut buf = [0u8; 64];
        let _ = s.read(&mut buf);
        s.write_all(b"HTTP/1.1 400 Bad Request\r\n\r\n").unwrap();
    });
    let mut c = connect_to(&SocketAddress::Path(path)).unwrap();
    send_json_message(&mut c, &json!({"command": "ping"}), &[]).unwrap();
    let err = recv_json_message(&mut c).unwrap_err();
    assert!(matches!(err, ConsoleClientError::Protocol(_)), "{err:?}");
    server.join().unwrap();
}

#[test]
fn one_shot_send_uses_the_environment() {
    let inst = TestInstance::start();
    // Only this test touches the variable.
    std::env::set_var("MOULTI_SOCKET_PATH", inst.address.printable());
    let reply = send_to_console(&json!({"msgid": "one", "command": "ping"})).unwrap();
    assert_eq!(reply, json!({"msgid": "one", "done": true, "error": null}));
}

#[test]
fn two_concurrent_passes_both_complete() {
    // 51
    let inst = TestInstance::start();
    for id in ["a", "b"] {
        inst.send(json!({"command": "step", "action": "add", "id": id}));
    }
    let mut conns = Vec::new();
    let mut writers = Vec::new();
    for id in ["a", "b"] {
        let (r, w) = std::io::pipe().unwrap();
        let mut c = inst.connect();
        send_json_message(
            &mut c,
            &json!({"msgid": id, "command": "pass", "id": id}),
            &[r.as_fd()],
        )
        .unwrap();
        conns.push(c);
        writers.push(w);
    }
    for (i, w) in writers.iter_mut().enumerate() {
        for n in 0..1000 {
            writeln!(w, "{i} line {n}").unwrap();
        }
    }
    drop(writers);
    for (c, id) in conns.iter_mut().zip(["a", "b"]) {
        assert_eq!(
            recv_json_message(c).unwrap(),
            json!({"msgid": id, "done": true, "error": null})
        );
    }
}
