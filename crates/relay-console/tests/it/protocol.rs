//! The console protocol against a real socket. Comments name the conformance checklist items
//! of the Moulti spec (section 11) each test covers.

use crate::common::{frame, ok, read_frame, TestInstance};
use relay_client::console::{recv_json_message, send_json_message};
use serde_json::{json, Value};
use std::io::Write;
use std::os::fd::AsFd;

#[test]
fn reply_framing_and_msgid_forms() {
    // 6, 16, 17, 18, 19, 20
    let inst = TestInstance::start();
    let mut s = inst.raw();
    s.write_all(&frame(br#"{"msgid":"m1","command":"ping"}"#))
        .unwrap();
    let (bytes, v) = read_frame(&mut s).unwrap();
    assert_eq!(
        &bytes[..20],
        format!(":JSON:{:013}:", bytes.len() - 20).as_bytes()
    );
    assert_eq!(
        String::from_utf8(bytes[20..].to_vec()).unwrap(),
        r#"{"msgid": "m1", "done": true, "error": null}"#
    );
    assert_eq!(v, json!({"msgid": "m1", "done": true, "error": null}));
    assert_eq!(
        inst.send(json!({"command": "ping"})),
        json!({"command": "ping", "done": true, "error": null})
    );
    let r = inst.send(json!({"msgid": "", "command": "ping"}));
    assert_eq!(
        serde_json::to_string(&r).unwrap(),
        r#"{"msgid":"","command":"ping","done":true,"error":null}"#
    );
    assert_eq!(
        inst.send(json!({"msgid": 42, "command": "ping"}))["msgid"],
        json!(42)
    );
}

#[test]
fn pipelined_and_fragmented_messages() {
    // 7, 8
    let inst = TestInstance::start();
    let mut s = inst.raw();
    let mut two = frame(br#"{"msgid":"a","command":"ping"}"#);
    two.extend(frame(br#"{"msgid":"b","command":"ping"}"#));
    s.write_all(&two).unwrap();
    assert_eq!(read_frame(&mut s).unwrap().1["msgid"], "a");
    assert_eq!(read_frame(&mut s).unwrap().1["msgid"], "b");
    for byte in frame(br#"{"msgid":"c","command":"ping"}"#) {
        s.write_all(&[byte]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
    assert_eq!(
        read_frame(&mut s).unwrap().1,
        json!({"msgid": "c", "done": true, "error": null})
    );
}

fn assert_error_then_closed(inst: &TestInstance, bytes: &[u8], expect: &str) {
    let mut s = inst.raw();
    s.write_all(bytes).unwrap();
    let (_, v) = read_frame(&mut s).expect("an error reply before closing");
    assert_eq!(v["done"], false);
    let err = v["error"].as_str().unwrap();
    assert!(err.contains(expect), "{err:?} should mention {expect:?}");
    assert!(read_frame(&mut s).is_none(), "connection must be closed");
}

#[test]
fn bad_input_gets_an_error_and_the_instance_keeps_serving() {
    // 9, 10, 11 (Relay replies with an error before closing; see docs/console.md)
    let inst = TestInstance::start();
    assert_error_then_closed(&inst, b":JSON:00000000000x1:{", "invalid preamble");
    assert_error_then_closed(&inst, b":json:0000000000002:{}", "invalid preamble");
    assert_error_then_closed(&inst, b":TXT_:0000000000002:{}", "unsupported message type");
    assert_error_then_closed(&inst, &frame(b"{not json"), "not valid JSON");
    assert_error_then_closed(&inst, &frame(b""), "not valid JSON");
    assert_error_then_closed(&inst, &frame(b"\xff\xfe"), "not valid UTF-8");
    assert_error_then_closed(&inst, b":JSON:9999999999999:", "exceeds the limit");
    // A non-object is answered and the connection stays usable.
    let mut s = inst.raw();
    s.write_all(&frame(b"[1,2]")).unwrap();
    let (_, v) = read_frame(&mut s).unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("must be a JSON object"));
    s.write_all(&frame(br#"{"msgid":"after","command":"ping"}"#))
        .unwrap();
    assert!(ok(&read_frame(&mut s).unwrap().1));
    // A client vanishing mid-frame does not disturb others.
    let mut gone = inst.raw();
    gone.write_all(b":JSON:0000000000100:{\"comm").unwrap();
    drop(gone);
    assert!(ok(&inst.send(json!({"command": "ping"}))));
}

#[test]
fn unknown_command_and_widget_errors() {
    // 21, 22, 23, 24, 27, 28, 29, 38, 41
    let inst = TestInstance::start();
    assert_eq!(
        inst.send(json!({"command": "frob"}))["error"],
        "unknown command frob"
    );
    assert_eq!(inst.send(json!({}))["error"], "unknown command None");
    assert!(ok(
        &inst.send(json!({"command": "step", "action": "add", "id": "x"}))
    ));
    let r = inst.send(json!({"msgid": "d", "command": "step", "action": "add", "id": "x"}));
    assert_eq!(
        r,
        json!({"msgid": "d", "done": false, "error": "id x already in use"})
    );
    assert_eq!(
        inst.send(json!({"command": "step", "action": "add"}))["error"],
        "missing id"
    );
    for bad in ["a b", "a.b", "é"] {
        let r = inst.send(json!({"command": "step", "action": "add", "id": bad}));
        assert!(r["error"].as_str().unwrap().contains("is an invalid id"));
    }
    for good in ["9lives", "-x", "a_b-c"] {
        assert!(ok(
            &inst.send(json!({"command": "step", "action": "add", "id": good}))
        ));
    }
    assert_eq!(
        inst.send(json!({"command": "step", "action": "update", "id": "nope"}))["error"],
        "unknown id: nope"
    );
    inst.send(json!({"command": "divider", "action": "add", "id": "dv"}));
    assert_eq!(
        inst.send(json!({"command": "step", "action": "update", "id": "dv"}))["error"],
        "dv is not a step"
    );
    assert_eq!(
        inst.send(json!({"command": "step", "action": "frobnicate", "id": "x"}))["error"],
        "unknown action frobnicate"
    );
    assert!(
        inst.send(json!({"command": "divider", "action": "add", "id": "moulti_run_output"}))
            ["error"]
            .as_str()
            .unwrap()
            .contains("reserved id")
    );
    let r =
        inst.send(json!({"command": "step", "action": "add", "id": "crash", "min_height": "abc"}));
    assert_eq!(r["error"], "invalid literal for int() with base 10: 'abc'");
    assert!(
        ok(&inst.send(json!({"command": "ping"}))),
        "instance still alive"
    );
}

#[test]
fn add_is_visible_to_other_connections_at_once() {
    // 26
    let inst = TestInstance::start();
    for i in 0..50 {
        assert!(ok(&inst.send(
            json!({"command": "step", "action": "add", "id": format!("s{i}")})
        )));
        assert!(ok(&inst.send(
            json!({"command": "step", "action": "update", "id": format!("s{i}"), "text": "x"})
        )));
    }
}

fn os_pipe() -> (std::os::fd::OwnedFd, std::os::fd::OwnedFd) {
    let (r, w) = std::io::pipe().unwrap();
    (r.into(), w.into())
}

fn pipe_with(data: &[u8]) -> std::os::fd::OwnedFd {
    let (r, w) = os_pipe();
    let mut w = std::fs::File::from(w);
    w.write_all(data).unwrap();
    r
}

#[test]
fn pass_with_descriptor_and_errors() {
    // 12, 42, 43, 44, 49
    let inst = TestInstance::start();
    inst.send(json!({"command": "step", "action": "add", "id": "p"}));
    assert_eq!(
        inst.send(json!({"command": "pass", "id": "p"}))["error"],
        "missing file descriptor for pass operation"
    );
    let mut c = inst.connect();
    let (r, w) = os_pipe();
    send_json_message(
        &mut c,
        &json!({"msgid": "p1", "command": "pass", "id": "p", "read_size": 4}),
        &[r.as_fd()],
    )
    .unwrap();
    drop(r);
    let mut w = std::fs::File::from(w);
    w.write_all(b"abc\n").unwrap();
    // No reply before EOF: the writer is still open.
    c.stream()
        .set_read_timeout(Some(std::time::Duration::from_millis(300)))
        .unwrap();
    assert!(recv_json_message(&mut c).is_err());
    c.stream().set_read_timeout(None).unwrap();
    drop(w);
    let reply = recv_json_message(&mut c).unwrap();
    assert_eq!(reply, json!({"msgid": "p1", "done": true, "error": null}));
    let mut c = inst.connect();
    let fd = pipe_with(b"");
    send_json_message(
        &mut c,
        &json!({"command": "pass", "id": "nope"}),
        &[fd.as_fd()],
    )
    .unwrap();
    assert_eq!(
        recv_json_message(&mut c).unwrap()["error"],
        "unknown id: nope"
    );
    inst.send(json!({"command": "divider", "action": "add", "id": "d"}));
    send_json_message(
        &mut c,
        &json!({"command": "pass", "id": "d"}),
        &[fd.as_fd()],
    )
    .unwrap();
    assert_eq!(
        recv_json_message(&mut c).unwrap()["error"],
        "d is not a step"
    );
    // The echoed form shows the rewrite of `pass` into `step`/`pass`.
    send_json_message(
        &mut c,
        &json!({"command": "pass", "id": "p"}),
        &[fd.as_fd()],
    )
    .unwrap();
    let r = recv_json_message(&mut c).unwrap();
    assert_eq!(
        (
            r["command"].as_str(),
            r["action"].as_str(),
            r["done"].as_bool()
        ),
        (Some("step"), Some("pass"), Some(true))
    );
}

#[test]
fn descriptor_with_first_byte_only_and_pipelined_add_pass() {
    // 13, 14, 15
    let inst = TestInstance::start();
    let c = inst.connect();
    let s = c.stream();
    let add = frame(br#"{"msgid":"a","command":"step","action":"add","id":"q"}"#);
    let pass = frame(br#"{"msgid":"b","command":"pass","id":"q"}"#);
    let fd1 = pipe_with(b"one\n");
    let fd2 = pipe_with(b"two\n");
    let mut stream = s.try_clone().unwrap();
    stream.write_all(&add).unwrap();
    send_first_byte_with_fds(s, &pass[..1], &[fd1.as_fd(), fd2.as_fd()]);
    drop((fd1, fd2));
    std::thread::sleep(std::time::Duration::from_millis(200));
    stream.write_all(&pass[1..]).unwrap();
    let mut got = vec![
        read_frame(&mut stream).unwrap().1,
        read_frame(&mut stream).unwrap().1,
    ];
    got.sort_by_key(|v| v["msgid"].as_str().unwrap().to_string());
    assert!(ok(&got[0]) && got[0]["msgid"] == "a", "{got:?}");
    assert!(ok(&got[1]) && got[1]["msgid"] == "b", "{got:?}");
}

fn send_first_byte_with_fds(
    s: &std::os::unix::net::UnixStream,
    byte: &[u8],
    fds: &[std::os::fd::BorrowedFd<'_>],
) {
    use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
    let mut space = vec![std::mem::MaybeUninit::uninit(); rustix::cmsg_space!(ScmRights(2))];
    let mut control = SendAncillaryBuffer::new(&mut space);
    assert!(control.push(SendAncillaryMessage::ScmRights(fds)));
    rustix::net::sendmsg(
        s,
        &[std::io::IoSlice::new(byte)],
        &mut control,
        SendFlags::empty(),
    )
    .unwrap();
}

#[test]
fn unreadable_descriptor_gets_an_error_reply() {
    // Bad input: a descriptor that cannot be read (a write-only end).
    let inst = TestInstance::start();
    inst.send(json!({"command": "step", "action": "add", "id": "w"}));
    let (_r, w) = os_pipe();
    let mut c = inst.connect();
    send_json_message(&mut c, &json!({"command": "pass", "id": "w"}), &[w.as_fd()]).unwrap();
    let r = recv_json_message(&mut c).unwrap();
    assert_eq!(r["done"], false);
    assert!(!r["error"].as_str().unwrap().is_empty());
    assert!(
        ok(&inst.send(json!({"command": "step", "action": "delete", "id": "w"}))),
        "pass finished"
    );
}

#[test]
fn delete_refused_while_a_pass_is_open_and_many_passes_leak_nothing() {
    // 36, 37, 51, 53
    let inst = TestInstance::start();
    inst.send(json!({"command": "step", "action": "add", "id": "d"}));
    let (r, w) = os_pipe();
    let mut c = inst.connect();
    send_json_message(&mut c, &json!({"command": "pass", "id": "d"}), &[r.as_fd()]).unwrap();
    drop(r);
    std::thread::sleep(std::time::Duration::from_millis(100));
    let e = inst.send(json!({"command": "step", "action": "delete", "id": "d"}));
    assert_eq!(
        e["error"],
        "cannot proceed with deletion as 1 ongoing operations prevent it"
    );
    drop(w);
    assert!(ok(&recv_json_message(&mut c).unwrap()));
    assert!(ok(&inst.send(
        json!({"command": "step", "action": "delete", "id": "d"})
    )));
    assert_eq!(
        inst.send(json!({"command": "step", "action": "delete", "id": "d"}))["error"],
        "unknown id: d"
    );

    inst.send(json!({"command": "step", "action": "add", "id": "e"}));
    inst.send(json!({"command": "step", "action": "add", "id": "f"}));
    let before = std::fs::read_dir("/proc/self/fd").unwrap().count();
    for i in 0..1000 {
        let fd = pipe_with(format!("line {i}\n").as_bytes());
        let mut c = inst.connect();
        let id = if i % 2 == 0 { "e" } else { "f" };
        send_json_message(&mut c, &json!({"command": "pass", "id": id}), &[fd.as_fd()]).unwrap();
        drop(fd);
        assert!(ok(&recv_json_message(&mut c).unwrap()));
    }
    let after = std::fs::read_dir("/proc/self/fd").unwrap().count();
    assert!(
        after <= before + 8,
        "descriptors leaked: {before} -> {after}"
    );
}

#[test]
fn questions_over_the_socket() {
    // 54, 55, 57, 60, 61
    let inst = TestInstance::start();
    inst.send(json!({"command": "inputquestion", "action": "add", "id": "q"}));
    assert_eq!(
        inst.send(json!({"command": "inputquestion", "action": "get-answer", "id": "q"}))["error"],
        "answer not available yet"
    );
    let r = inst.send(json!({"command": "buttonquestion", "action": "add", "id": "b", "button": [["v", "bogus", "L"]]}));
    assert!(r["error"]
        .as_str()
        .unwrap()
        .starts_with("invalid style 'bogus'"));
    inst.send(json!({"command": "step", "action": "add", "id": "s"}));
    assert_eq!(
        inst.send(json!({"command": "question", "action": "get-answer", "id": "s"}))["error"],
        "s is not a question"
    );
    // A waiter on a deleted question gets an explicit failure instead of waiting forever.
    let mut c = inst.connect();
    send_json_message(&mut c, &json!({"msgid": "w", "command": "inputquestion", "action": "get-answer", "id": "q", "wait": true}), &[]).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    assert!(ok(&inst.send(
        json!({"command": "inputquestion", "action": "delete", "id": "q"})
    )));
    let r = recv_json_message(&mut c).unwrap();
    assert_eq!(
        (r["msgid"].as_str(), r["done"].as_bool()),
        (Some("w"), Some(false))
    );
    assert!(r["error"]
        .as_str()
        .unwrap()
        .starts_with("no answer from end user"));
}

#[test]
fn set_scroll_and_ping() {
    // 62, 64, 67
    let inst = TestInstance::start();
    assert!(ok(&inst.send(json!({"command": "set", "title": "Probe"}))));
    assert_eq!(
        inst.send(json!({"command": "set", "title": "[/]"}))["error"],
        "closing tag '[/]' at position 0 has nothing to close"
    );
    assert_eq!(
        inst.send(json!({"command": "set", "progress": "abc"}))["error"],
        "could not convert string to float: 'abc'"
    );
    assert_eq!(
        inst.send(json!({"command": "scroll", "id": "zz"}))["error"],
        "unknown id: zz"
    );
    inst.send(json!({"command": "step", "action": "add", "id": "s"}));
    assert!(ok(
        &inst.send(json!({"command": "scroll", "id": "s", "offset": -1}))
    ));
}

#[test]
fn path_socket_is_created_and_removed() {
    // 2 (path form)
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sub/dir/x.socket");
    let address = relay_wire::console::SocketAddress::Path(path.clone());
    {
        let _l = relay_console::server::bind(&address).unwrap();
        assert!(path.exists());
        // A second bind on the same address fails (3: the binary turns this into exit 100).
        assert!(relay_console::server::bind(&address).is_err());
    }
    assert!(!path.exists());
}

#[test]
fn oversized_frame_limit_is_configurable() {
    let settings = relay_console::settings::Settings {
        max_message: 16,
        ..Default::default()
    };
    let inst = TestInstance::with_settings(settings);
    let mut s = inst.raw();
    s.write_all(&frame(br#"{"command":"ping","pad":"xxxxxxxxxxxxxx"}"#))
        .unwrap();
    let (_, v) = read_frame(&mut s).unwrap();
    assert!(v["error"]
        .as_str()
        .unwrap()
        .contains("exceeds the limit of 16 bytes"));
    let v: Value = inst.send(json!({})); // 2 bytes: under the limit
    assert_eq!(v["error"], "unknown command None");
}

#[test]
fn huge_read_size_is_served_and_the_instance_survives() {
    // Checklist 49 says read_size only changes the chunking; a huge value must not make the
    // instance allocate a buffer of that size (the allocation fails and aborts the process).
    let inst = TestInstance::start();
    assert!(ok(
        &inst.send(json!({"command": "step", "action": "add", "id": "big"}))
    ));
    let (r, w) = std::io::pipe().unwrap();
    let mut w = std::fs::File::from(std::os::fd::OwnedFd::from(w));
    w.write_all(b"one\ntwo").unwrap();
    drop(w);
    let mut c = inst.connect();
    c.stream()
        .set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    send_json_message(
        &mut c,
        &json!({"msgid": "p", "command": "pass", "id": "big", "read_size": 1i64 << 60}),
        &[r.as_fd()],
    )
    .unwrap();
    drop(r);
    assert_eq!(
        recv_json_message(&mut c).unwrap(),
        json!({"msgid": "p", "done": true, "error": null})
    );
    assert!(
        ok(&inst.send(json!({"command": "step", "action": "delete", "id": "big"}))),
        "the pass finished"
    );
}
