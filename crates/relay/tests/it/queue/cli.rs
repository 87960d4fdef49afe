//! `relay queue …` against a real `relay serve`: every command runs as a separate process, as a
//! user or a script would run it.

use std::time::{Duration, Instant, SystemTime};

use crate::support::queue_http::node;
use crate::support::server::{Options, Server, TOKEN};
use base64::Engine;
use serde_json::{json, Value};

/// Exit status of `pull` when nothing is pending.
const EXIT_EMPTY: i32 = 3;

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn is_object_id(v: &Value) -> bool {
    v.as_str().is_some_and(|s| {
        s.len() == 24
            && s.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

#[test]
fn json_text_and_bytes_round_trip_through_push_pull_ack() {
    let server = Server::start();
    let (sender, receiver) = (node(), node());
    let tmp = tempfile::tempdir().unwrap();
    let bin_path = tmp.path().join("blob.bin");
    let blob: Vec<u8> = vec![0, 1, 2, 0xfe, 0xff, b's', 0x80, b'\n'];
    std::fs::write(&bin_path, &blob).unwrap();
    let at_file = format!("@{}", bin_path.display());

    let pushed_json = server
        .queue(
            &sender,
            &[
                "push",
                "--to",
                &receiver,
                r#"{"type":"message","n":1}"#,
                "--json",
            ],
        )
        .json();
    let pushed_text = server
        .queue_with(
            &sender,
            &["push", "--to", &receiver, "-", "--json"],
            &["--token", TOKEN],
            Some(b"hello relay"),
        )
        .json();
    let pushed_bin = server
        .queue(
            &sender,
            &[
                "push", "--to", &receiver, &at_file, "--label", ".bin", "--json",
            ],
        )
        .json();

    assert!(is_object_id(&pushed_json["id"]), "{pushed_json}");
    assert_eq!(pushed_json["status"], "pending");
    assert_eq!(pushed_json["tries"], 0);
    assert_eq!(pushed_json["source"], sender.as_str());
    assert_eq!(pushed_json["destination"], receiver.as_str());
    assert_eq!(pushed_json["label"], "application/json");
    assert_eq!(pushed_json["payload"], json!({"type": "message", "n": 1}));
    assert_eq!(pushed_text["label"], "text/plain");
    assert_eq!(pushed_text["payload"], "hello relay");
    assert_eq!(pushed_bin["label"], ".bin");
    assert_eq!(
        pushed_bin["payload"],
        b64(&blob),
        "the raw echo is shown as base64 in --json"
    );

    // The sender's own inbox is empty: messages go only to their destination.
    let own = server.queue(&sender, &["pull"]);
    assert_eq!(
        (own.code, own.text()),
        (Some(EXIT_EMPTY), String::new()),
        "{}",
        own.stderr
    );

    let first = server.queue(&receiver, &["pull", "--json"]).json();
    assert_eq!(first["id"], pushed_json["id"]);
    assert_eq!(first["status"], "processing");
    assert_eq!(first["tries"], 1);
    assert_eq!(first["payload_kind"], "json");
    assert_eq!(first["payload"], json!({"type": "message", "n": 1}));
    assert!(first["processing_time"].is_string(), "{first}");

    let second = server.queue(&receiver, &["pull", "--payload-only"]);
    assert_eq!(second.ok(), "hello relay");

    // Binary comes back from storage as base64, like the Python client sees it.
    let third = server
        .queue(
            &receiver,
            &["get", pushed_bin["id"].as_str().unwrap(), "--json"],
        )
        .json();
    assert_eq!(third["status"], "pending");
    let third = server.queue(&receiver, &["pull", "--json"]).json();
    assert_eq!(
        (third["payload_kind"].as_str(), third["payload"].as_str()),
        (Some("base64"), Some(b64(&blob).as_str()))
    );
    let raw = server.queue(
        &receiver,
        &["get", third["id"].as_str().unwrap(), "--payload-only"],
    );
    raw.ok();
    assert_eq!(raw.stdout, blob, "--payload-only writes the decoded bytes");

    let empty = server.queue(&receiver, &["pull", "--json"]);
    assert_eq!(empty.code, Some(EXIT_EMPTY), "{}", empty.stderr);
    assert_eq!(
        serde_json::from_slice::<Value>(&empty.stdout).unwrap(),
        Value::Null
    );

    for pulled in [&first, &pushed_text, &third] {
        let id = pulled["id"].as_str().unwrap();
        let acked = server.queue(&receiver, &["ack", id, "--json"]).json();
        assert_eq!(acked["status"], "processed");
        assert!(acked["processed_time"].is_string(), "{acked}");
    }
    assert_eq!(
        server
            .queue(
                &receiver,
                &["ack", "--json", pushed_json["id"].as_str().unwrap()]
            )
            .code,
        Some(1),
        "a second ack is refused"
    );
}

#[test]
fn readable_output_shows_fields_and_payload() {
    let server = Server::start();
    let (sender, receiver) = (node(), node());
    let pushed = server
        .queue(&sender, &["push", "--to", &receiver, "[1, 2, 3]"])
        .ok();
    let id_line = pushed
        .lines()
        .find(|l| l.starts_with("id "))
        .unwrap_or_else(|| panic!("{pushed}"));
    let id = id_line.split_whitespace().nth(1).unwrap().to_owned();
    assert!(pushed.contains("status       pending\n"), "{pushed}");
    assert!(
        pushed.contains(&format!("destination  {receiver}\n")),
        "{pushed}"
    );

    let pulled = server.queue(&receiver, &["pull"]).ok();
    assert!(
        pulled.starts_with(&format!("id           {id}\nstatus       processing\n")),
        "{pulled}"
    );
    assert!(pulled.contains("\ntries        1\n"), "{pulled}");
    assert!(pulled.ends_with("\n[\n  1,\n  2,\n  3\n]\n"), "{pulled}");

    let listed = server.queue(&sender, &["list"]).ok();
    assert!(listed.starts_with("ID "), "{listed}");
    assert!(
        listed.contains(&id) && listed.contains("processing") && listed.contains("[1,2,3]"),
        "{listed}"
    );
}

#[test]
fn scheduled_push_is_not_pulled_before_its_time() {
    let server = Server::start();
    let (sender, receiver) = (node(), node());
    let far = server
        .queue(
            &sender,
            &[
                "push",
                "--to",
                &receiver,
                "later",
                "--at",
                "2099-01-01T00:00:00Z",
                "--json",
            ],
        )
        .json();
    assert_eq!(far["status"], "scheduled");
    assert_eq!(far["scheduled_time"], "2099-01-01T00:00:00.000Z");

    let before_push = SystemTime::now();
    let soon = server
        .queue(
            &sender,
            &["push", "--to", &receiver, "soon", "--at", "+3s", "--json"],
        )
        .json();
    assert_eq!(soon["status"], "scheduled");
    let due = before_push + Duration::from_secs(3);

    // Whatever the machine's speed: a pull before the due time gets nothing, and the message
    // arrives once it is due. The far-future one never does.
    let deadline = Instant::now() + Duration::from_secs(60);
    let delivered = loop {
        let run = server.queue(&receiver, &["pull", "--json"]);
        match run.code {
            Some(0) => break run.json(),
            Some(EXIT_EMPTY) => {}
            _ => panic!("pull failed: {}", run.stderr),
        }
        assert!(
            Instant::now() < deadline,
            "the scheduled message never arrived"
        );
        std::thread::sleep(Duration::from_millis(250));
    };
    assert!(SystemTime::now() >= due, "pulled before its scheduled time");
    assert_eq!(delivered["id"], soon["id"]);
    assert_eq!(delivered["payload"], "soon");
    assert_eq!(delivered["status"], "processing");
    assert!(delivered["scheduled_time"].is_string());
    assert_eq!(
        server.queue(&receiver, &["pull"]).code,
        Some(EXIT_EMPTY),
        "the 2099 message is not due"
    );
}

#[test]
fn wrong_token_is_a_clear_error() {
    let server = Server::start();
    let run = server.queue_with(&node(), &["pull"], &["--token", "not-the-token"], None);
    assert_eq!(run.code, Some(1), "stdout: {}", run.text());
    assert!(run.stdout.is_empty());
    assert!(
        run.stderr.contains("403") && run.stderr.contains("token"),
        "{}",
        run.stderr
    );
}

#[test]
fn the_generated_token_file_is_found_through_data_dir() {
    let server = Server::with(Options::default().token(None));
    let data = server.data_dir().to_str().unwrap().to_owned();
    let (sender, receiver) = (node(), node());
    server
        .queue_with(
            &sender,
            &["push", "--to", &receiver, "via token file"],
            &["--data", &data],
            None,
        )
        .ok();
    let pulled = server.queue_with(
        &receiver,
        &["pull", "--payload-only"],
        &["--data", &data],
        None,
    );
    assert_eq!(pulled.ok(), "via token file");

    let elsewhere = tempfile::tempdir().unwrap();
    let elsewhere = elsewhere.path().to_str().unwrap();
    let missing = server.queue_with(&receiver, &["pull"], &["--data", elsewhere], None);
    assert_eq!(missing.code, Some(1));
    assert!(missing.stderr.contains("queue-token"), "{}", missing.stderr);
}

#[test]
fn get_list_update_and_delete() {
    let server = Server::start();
    let (sender, receiver, stranger) = (node(), node(), node());
    let a = server
        .queue(
            &sender,
            &["push", "--to", &receiver, r#"{"v":1}"#, "--json"],
        )
        .json();
    let b = server
        .queue(&sender, &["push", "--to", &receiver, "second", "--json"])
        .json();
    let (a_id, b_id) = (a["id"].as_str().unwrap(), b["id"].as_str().unwrap());

    let got = server.queue(&receiver, &["get", a_id, "--json"]).json();
    assert_eq!(
        (got["id"].as_str(), got["payload"].clone()),
        (Some(a_id), json!({"v": 1}))
    );
    let foreign = server.queue(&stranger, &["get", a_id]);
    assert_eq!(foreign.code, Some(1));
    assert!(foreign.stderr.contains("not found"), "{}", foreign.stderr);

    let list = server.queue(&sender, &["list", "--json"]).json();
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [a_id, b_id], "oldest first");
    assert_eq!(list[1]["payload"], "second");
    let limited = server
        .queue(&receiver, &["list", "--limit", "1", "--json"])
        .json();
    assert_eq!(limited.as_array().unwrap().len(), 1);

    let updated = server
        .queue(&sender, &["update", a_id, r#"{"v":2}"#, "--json"])
        .json();
    assert_eq!(updated["payload"], json!({"v": 2}));
    assert_eq!(updated["status"], "pending");
    assert!(updated["update_time"].is_string());
    // Only the sender may change a message.
    let by_receiver = server.queue(&receiver, &["update", a_id, r#"{"v":3}"#]);
    assert_eq!(by_receiver.code, Some(1));
    assert!(by_receiver.stderr.contains("404"), "{}", by_receiver.stderr);
    assert_eq!(
        server.queue(&receiver, &["get", a_id, "--json"]).json()["payload"],
        json!({"v": 2})
    );

    assert_eq!(
        server.queue(&sender, &["delete", a_id, "--json"]).json(),
        json!({"n": 1})
    );
    assert_eq!(
        server.queue(&sender, &["delete", a_id]).ok(),
        "deleted 0 messages\n"
    );
    assert_eq!(
        server.queue(&sender, &["delete", "--all"]).ok(),
        "deleted 1 message\n"
    );
    assert_eq!(server.queue(&sender, &["list", "--json"]).json(), json!([]));
    assert_eq!(server.queue(&sender, &["list"]).ok(), "");
    assert_eq!(server.queue(&receiver, &["pull"]).code, Some(EXIT_EMPTY));

    let usage = server.queue(&sender, &["delete"]);
    assert_eq!(usage.code, Some(2), "delete needs an id or --all");
}

#[test]
fn server_refusals_carry_the_server_message() {
    let server = Server::start();
    let (sender, receiver) = (node(), node());
    // Auto-detection sends "123" as text; forced JSON meets the server's strict parser.
    let text = server
        .queue(&sender, &["push", "--to", &receiver, "123", "--json"])
        .json();
    assert_eq!(text["label"], "text/plain");
    let run = server.queue(
        &sender,
        &["push", "--to", &receiver, "123", "--type", "json"],
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("400") && run.stderr.contains("invalid json"),
        "{}",
        run.stderr
    );

    let long_label = "x".repeat(31);
    let run = server.queue(
        &sender,
        &["push", "--to", &receiver, "hi", "--label", &long_label],
    );
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("400"), "{}", run.stderr);

    // Over the server's default 1000 KiB limit for binary bodies.
    let tmp = tempfile::tempdir().unwrap();
    let big = tmp.path().join("big.bin");
    std::fs::write(&big, vec![0u8; 1000 * 1024 + 1]).unwrap();
    let run = server.queue(
        &sender,
        &["push", "--to", &receiver, &format!("@{}", big.display())],
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("413") && run.stderr.contains("too large"),
        "{}",
        run.stderr
    );

    // Far over it, the server may close the connection before the client reads its 413; either
    // way the user is told the body is too large.
    let huge = tmp.path().join("huge.bin");
    std::fs::write(&huge, vec![0u8; 8 * 1024 * 1024]).unwrap();
    let run = server.queue(
        &sender,
        &["push", "--to", &receiver, &format!("@{}", huge.display())],
    );
    assert_eq!(run.code, Some(1));
    assert!(
        run.stderr.contains("too large") || run.stderr.contains("size limit"),
        "{}",
        run.stderr
    );

    let run = server.queue("not-hex", &["pull"]);
    assert_eq!(run.code, Some(1));
    assert!(run.stderr.contains("hexadecimal"), "{}", run.stderr);
}

/// `--timeout` out of `Duration`'s range (about 1.8e19 s) is an error like any other bad value,
/// with exit status 1 and a message, not a panic (status 101).
#[test]
fn a_timeout_too_large_for_a_duration_is_refused_cleanly() {
    for value in ["1e20", "-1", "0", "nan"] {
        let out = std::process::Command::new(crate::support::BIN)
            .args([
                "queue",
                "pull",
                "--node",
                "af1",
                "--token",
                "t",
                "--url",
                "http://127.0.0.1:1",
                &format!("--timeout={value}"),
            ])
            .env("RUST_BACKTRACE", "0")
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "--timeout {value}: {err}");
        assert!(
            err.contains("--timeout must be a positive number of seconds"),
            "--timeout {value}: {err}"
        );
    }
}
