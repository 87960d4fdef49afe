//! The sign-in throttle behind a reverse proxy: with `--trusted-proxy`, clients forwarded by the
//! proxy are counted by the address in `X-Forwarded-For`, so one guesser does not delay everyone
//! behind the proxy; without it the header is ignored, so a guesser cannot escape its record by
//! writing a new address into it.

use crate::support::server::{Options, Server};
use serde_json::json;

const ACCOUNT: &str = "owner@example.com";
const PASSWORD: &str = "the-right-one";

/// Signs in as if forwarded for `forwarded_for` (no header when empty); the HTTP status.
async fn sign_in(base: &str, forwarded_for: &str, password: &str) -> u16 {
    let mut req = reqwest::Client::new()
        .post(format!("{base}/auth/sign_in"))
        .json(&json!({"username": ACCOUNT, "password": password}));
    if !forwarded_for.is_empty() {
        req = req.header("X-Forwarded-For", forwarded_for);
    }
    req.send()
        .await
        .expect("the server answers")
        .status()
        .as_u16()
}

/// Fails from `guesser` until the throttle refuses it (429); how many wrong guesses were checked.
async fn guess_until_throttled(base: &str, guesser: &str) -> u32 {
    for checked in 0..20 {
        match sign_in(base, guesser, "wrong").await {
            401 | 400 | 403 => continue,
            429 => return checked,
            other => panic!("a wrong guess got {other}"),
        }
    }
    panic!("20 wrong guesses from {guesser:?} were never throttled");
}

#[tokio::test(flavor = "multi_thread")]
async fn behind_a_trusted_proxy_each_forwarded_client_has_its_own_record() {
    let s = Server::with(Options::default().args(&["--trusted-proxy", "10.0.0.0/8,127.0.0.1"]));
    s.add_account(ACCOUNT, PASSWORD);
    let base = s.http();
    // The guesser writes an address of its own choosing on the left; the proxy appends the one
    // it saw, which is what counts.
    let guesser = "192.0.2.77, 203.0.113.5";
    assert!(guess_until_throttled(&base, guesser).await >= 5);
    assert_eq!(
        sign_in(&base, "203.0.113.5", PASSWORD).await,
        429,
        "the guesser's address stays throttled, right password or not"
    );
    assert_eq!(
        sign_in(&base, "192.0.2.1, 203.0.113.5", PASSWORD).await,
        429,
        "a new address written on the left does not escape the record"
    );
    assert_eq!(
        sign_in(&base, "198.51.100.20", PASSWORD).await,
        200,
        "another client behind the same proxy still gets in"
    );
    assert_eq!(
        sign_in(&base, "198.51.100.21, 10.1.2.3", PASSWORD).await,
        200,
        "so does one behind two proxies"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn without_a_trusted_proxy_the_header_is_ignored() {
    let s = Server::start();
    s.add_account(ACCOUNT, PASSWORD);
    let base = s.http();
    guess_until_throttled(&base, "203.0.113.5").await;
    assert_eq!(
        sign_in(&base, "198.51.100.20", PASSWORD).await,
        429,
        "a forwarded address from an untrusted peer is not believed"
    );
    assert_eq!(sign_in(&base, "", PASSWORD).await, 429);
}
