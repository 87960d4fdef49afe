//! The admin socket's `advance_clock` test hook (`RELAY_TEST_HOOKS=1`) must refuse a shift that
//! the hub's millisecond clock cannot hold, rather than leave every later clock reading (token
//! checks, sign-ins, message timestamps) overflowing.

use std::io::{BufRead, BufReader, Write};
use std::os::unix::net::UnixStream;

use crate::support::server::{Options, Server};
use relay_client::channel::ChannelHttp;
use serde_json::{json, Value};

fn advance(s: &Server, ms: i64) -> Value {
    let mut sock = UnixStream::connect(s.data_dir().join("channels").join("admin.sock")).unwrap();
    writeln!(sock, "{}", json!({"op": "advance_clock", "ms": ms})).unwrap();
    let mut line = String::new();
    BufReader::new(sock).read_line(&mut line).unwrap();
    serde_json::from_str(&line).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clock_shift_too_large_for_the_clock_is_refused_and_the_server_keeps_working() {
    let s = Server::with(Options::default().hooks());
    s.add_account("u@example.com", "pw-u");
    let mut http = ChannelHttp::new(&s.http()).unwrap();
    http.sign_in("u@example.com", "pw-u").await.unwrap();

    for ms in [i64::MAX, i64::MAX / 2] {
        let reply = advance(&s, ms);
        assert_eq!(reply["ok"], false, "a shift of {ms} ms was taken: {reply}");
        assert!(
            reply["error"].as_str().is_some_and(|e| e.contains("ms")),
            "{reply}"
        );
    }
    // A day still moves the clock.
    assert_eq!(advance(&s, 86_400_000)["ok"], true);

    let mut again = ChannelHttp::new(&s.http()).unwrap();
    again
        .sign_in("u@example.com", "pw-u")
        .await
        .expect("signing in after the refused shifts");
    again
        .user_id()
        .await
        .expect("an API call after the refused shifts");
    assert!(
        http.user_id().await.is_err(),
        "the first access token outlived the day the clock moved"
    );
}
