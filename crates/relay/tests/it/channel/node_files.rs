//! Uploaded files on several `relay serve --store postgres://…` nodes: a file uploaded to the
//! owner (directly, or through a forwarding standby) is kept in the database, so that the node
//! that takes the state over after a `kill -9` of the owner serves the same bytes, with the
//! same length and type on HEAD. An upload cut off halfway is never served and leaves its key
//! usable; a used key stays used on the next owner; a malformed key and a key no file has get
//! their clear errors. Connections the database ends are replaced on the next request.
//!
//! The server comes from RELAY_TEST_POSTGRES (`scripts/with-postgres` sets it). Without it the
//! tests say they did not run and pass; with RELAY_REQUIRE_POSTGRES=1 they fail instead. Each
//! test uses a schema named after the test and this process.

use std::io::Write;
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::channel::{upload_form, FORM_BOUNDARY};
use crate::support::server::*;
use crate::support::BIN;
use relay_client::channel::ChannelHttp;
use reqwest::header::{CONTENT_LENGTH, CONTENT_TYPE};
use serde_json::Value;

/// Only keeps a broken cluster from hanging the suite; nothing is asserted about time.
const DEADLINE: Duration = Duration::from_secs(90);

/// The database URL, the store URL of a fresh schema for `test` and the schema's name; `None`
/// when the tests are not to run.
fn store_url(test: &str) -> Option<(String, String, String)> {
    let base = match std::env::var("RELAY_TEST_POSTGRES") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var("RELAY_REQUIRE_POSTGRES").is_ok_and(|v| v == "1") => panic!(
            "RELAY_REQUIRE_POSTGRES=1 but RELAY_TEST_POSTGRES is not set: run the tests under \
             scripts/with-postgres"
        ),
        _ => {
            eprintln!(
                "channel::node_files::{test} did not run: RELAY_TEST_POSTGRES is not set \
                 (run under scripts/with-postgres to test several nodes)"
            );
            return None;
        }
    };
    let schema = format!("relay_chfiles_{test}_{}", std::process::id());
    let sep = if base.contains('?') { '&' } else { '?' };
    let url = format!("{base}{sep}schema={schema}");
    Some((base, url, schema))
}

fn node_on(url: &str, forwarding: bool) -> Server {
    let mut o = Options::default().arg("--store").arg(url);
    if forwarding {
        o = o
            .arg("--forward-to-owner")
            .args(&["--trusted-proxy", "127.0.0.1"]);
    }
    Server::with(o)
}

/// Whether `s` serves the channel state itself: a request marked as forwarded is never
/// forwarded again, so any standby answers it with its 503.
fn owns(s: &Server) -> bool {
    matches!(
        s.anon("GET", "/user/info").header("relay-forwarded", "1").try_send(),
        Ok(r) if r.status == 401
    )
}

/// Waits until exactly one of `nodes` owns the state; returns its index.
fn wait_for_owner(nodes: &[&Server]) -> usize {
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

/// A signed-in account's access token, the account made with `relay account add --store`.
async fn signed_in(s: &Server, url: &str) -> String {
    let out = Command::new(BIN)
        .args(["account", "add", "a@example.com", "--password", "pw"])
        .args(["--store", url, "--data"])
        .arg(s.data_dir())
        .env_remove("RELAY_STORE")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut h = ChannelHttp::new(&s.http()).unwrap();
    h.sign_in("a@example.com", "pw").await.unwrap();
    h.access_token.clone().unwrap()
}

/// `GET /file/upload` on `s`: the URL to post to and the key.
async fn ticket(s: &Server, token: &str, ext: &str) -> (String, String) {
    let t = crate::support::channel::upload_ticket(s, token, ext).await;
    let url = t["url"].as_str().expect("a ticket URL").to_owned();
    (url, t["fields"]["key"].as_str().unwrap().to_owned())
}

/// Posts `bytes` as the file under `key` to `url`; the status and the envelope.
async fn post(url: &str, key: &str, bytes: &[u8]) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(url)
        .header(
            CONTENT_TYPE,
            format!("multipart/form-data; boundary={FORM_BOUNDARY}"),
        )
        .body(upload_form(key, bytes))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// A GET of `key` on `s`: the status, the type, the length header and the body.
async fn get(s: &Server, key: &str) -> (u16, String, Option<String>, Vec<u8>) {
    let r = reqwest::Client::new()
        .get(format!("{}/file/store/{key}", s.http()))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    let h = |n| r.headers().get(n).map(|v| v.to_str().unwrap().to_owned());
    let (ty, len) = (h(CONTENT_TYPE).unwrap_or_default(), h(CONTENT_LENGTH));
    (status, ty, len, r.bytes().await.unwrap().to_vec())
}

/// [`get`], asked again while `s` answers 503 (as a client honouring its `Retry-After` does): a
/// forwarding standby answers so until it learns where the new owner is.
async fn get_after_takeover(s: &Server, key: &str) -> (u16, String, Option<String>, Vec<u8>) {
    let deadline = Instant::now() + DEADLINE;
    loop {
        let got = get(s, key).await;
        if got.0 != 503 || Instant::now() > deadline {
            return got;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A HEAD of `key` on `s`: the status, the type and the length.
async fn head(s: &Server, key: &str) -> (u16, String, String) {
    let r = reqwest::Client::new()
        .head(format!("{}/file/store/{key}", s.http()))
        .send()
        .await
        .unwrap();
    let h = |n| {
        r.headers()
            .get(n)
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default()
    };
    (r.status().as_u16(), h(CONTENT_TYPE), h(CONTENT_LENGTH))
}

/// Bytes that no chunking can get right by accident: not a whole number of chunks, and no
/// chunk like another.
fn file_of(len: usize) -> Vec<u8> {
    let mut x: u32 = 0x9e37_79b9;
    (0..len)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x as u8
        })
        .collect()
}

/// Sends the key and `part` bytes of a file announced as `announced` bytes, then hangs up.
fn upload_cut_off(s: &Server, key: &str, announced: usize, part: &[u8]) {
    let head = format!(
        "--XyZ\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\n{key}\r\n\
         --XyZ\r\nContent-Disposition: form-data; name=\"file\"; filename=\"file\"\r\n\r\n"
    );
    let total = head.len() + announced + "\r\n--XyZ--\r\n".len();
    let mut tcp = std::net::TcpStream::connect(s.addr).unwrap();
    write!(
        tcp,
        "POST /file/store/ HTTP/1.1\r\nHost: {}\r\nContent-Type: multipart/form-data; \
         boundary=XyZ\r\nContent-Length: {total}\r\n\r\n{head}",
        s.addr
    )
    .unwrap();
    tcp.write_all(part).unwrap();
    tcp.flush().unwrap();
    drop(tcp);
}

/// The size and chunk count the database holds for `key`, straight from its table.
async fn in_database(base: &str, schema: &str, key: &str) -> Option<(i64, i32)> {
    let (client, conn) = tokio_postgres::connect(base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    client
        .query_opt(
            &format!("SELECT size, chunks FROM \"{schema}\".channel_files WHERE key = $1"),
            &[&key],
        )
        .await
        .unwrap()
        .map(|r| (r.get(0), r.get(1)))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_uploaded_to_the_owner_are_served_by_the_next_owner_after_a_kill_9() {
    let Some((base, url, schema)) = store_url("killed") else {
        return;
    };
    let (mut nodes, first) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let nodes: Vec<Server> = (0..2).map(|_| node_on(&url, false)).collect();
            let first = wait_for_owner(&nodes.iter().collect::<Vec<_>>());
            (nodes, first)
        }
    })
    .await
    .unwrap();
    let owner = &nodes[first];
    let token = signed_in(owner, &url).await;

    // Three chunks and a part of a fourth, and a small file.
    let big = file_of(3 * (1 << 20) + 12_345);
    let (post_url, big_key) = ticket(owner, &token, "png").await;
    let (status, r) = post(&post_url, &big_key, &big).await;
    assert_eq!((status, &r["code"]), (200, &10000.into()), "{r}");
    assert_eq!(r["data"]["size"], big.len(), "{r}");
    let small = b"hello from before the kill\n".to_vec();
    let (post_url, small_key) = ticket(owner, &token, "txt").await;
    let (status, r) = post(&post_url, &small_key, &small).await;
    assert_eq!(status, 200, "{r}");
    assert_eq!(
        in_database(&base, &schema, &big_key).await,
        Some((big.len() as i64, 4)),
        "the file is kept in the database, in chunks"
    );

    // Cut off halfway: not kept, and its key still takes a complete upload.
    let (post_url, cut_key) = ticket(owner, &token, "bin").await;
    let whole = file_of(2 * (1 << 20));
    upload_cut_off(owner, &cut_key, whole.len(), &whole[..(1 << 20) + 7]);
    let (status, _, _, _) = get(owner, &cut_key).await;
    assert_eq!(status, 404, "a file cut off halfway is not served");
    let (status, r) = post(&post_url, &cut_key, &whole).await;
    assert_eq!(status, 200, "the cut-off upload's key is still good: {r}");

    let (status, ty, len, bytes) = get(owner, &big_key).await;
    assert_eq!((status, ty.as_str()), (200, "image/png"));
    assert_eq!(len, Some(big.len().to_string()));
    assert!(bytes == big, "the owner serves the bytes uploaded");

    nodes[first].kill9();
    let other = 1 - first;
    let new = tokio::task::spawn_blocking(move || {
        wait_for_owner(&[&nodes[other]]);
        nodes
    })
    .await
    .unwrap();
    let new_owner = &new[other];

    let (status, ty, len, bytes) = get(new_owner, &big_key).await;
    assert_eq!((status, ty.as_str()), (200, "image/png"));
    assert_eq!(len, Some(big.len().to_string()));
    assert!(bytes == big, "the next owner serves the same bytes");
    assert_eq!(
        head(new_owner, &big_key).await,
        (200, "image/png".to_owned(), big.len().to_string())
    );
    let (status, ty, _, bytes) = get(new_owner, &small_key).await;
    assert_eq!(
        (status, ty.as_str(), bytes),
        (200, "text/plain; charset=utf-8", small)
    );
    let (status, _, _, bytes) = get(new_owner, &cut_key).await;
    assert!(
        status == 200 && bytes == whole,
        "the complete upload, not the cut one"
    );

    // A used key stays used on the next owner.
    let post_url = format!("{}/file/store/", new_owner.http());
    let (status, r) = post(&post_url, &big_key, b"overwrite").await;
    assert_eq!((status, &r["code"]), (403, &40300.into()), "{r}");
    let (_, _, _, bytes) = get(new_owner, &big_key).await;
    assert!(bytes == big, "a used key's file is never replaced");

    // A key no file has, and keys that no upload could have been given.
    for key in ["nofilehas0this0key.png", ".upload-x", "a%2F..%2Fb", "..png"] {
        let (status, _, _, body) = get(new_owner, key).await;
        let body: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            (status, &body["code"]),
            (404, &40400.into()),
            "{key}: {body}"
        );
        assert_eq!(body["message"], "no such file", "{key}");
        let (status, _, _) = head(new_owner, key).await;
        assert_eq!(status, 404, "{key}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_upload_through_a_forwarding_standby_is_served_by_every_node_and_the_next_owner() {
    let Some((_, url, _)) = store_url("forwarded") else {
        return;
    };
    let (nodes, first) = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let nodes: Vec<Server> = (0..3).map(|_| node_on(&url, true)).collect();
            let first = wait_for_owner(&nodes.iter().collect::<Vec<_>>());
            (nodes, first)
        }
    })
    .await
    .unwrap();
    let standbys: Vec<usize> = (0..3).filter(|&i| i != first).collect();
    let (a, b) = (standbys[0], standbys[1]);
    let token = signed_in(&nodes[a], &url).await;

    // The ticket, and the upload to the URL it names, both through standby `a`.
    let file = file_of((1 << 20) + 1);
    let (post_url, key) = ticket(&nodes[a], &token, "mp3").await;
    assert!(
        post_url.contains(&nodes[a].addr.to_string()),
        "{post_url} names the standby the client asked"
    );
    let (status, r) = post(&post_url, &key, &file).await;
    assert_eq!(
        (status, &r["data"]["size"]),
        (200, &file.len().into()),
        "{r}"
    );

    for i in [first, a, b] {
        let (status, ty, len, bytes) = get(&nodes[i], &key).await;
        assert_eq!((status, ty.as_str()), (200, "audio/mpeg"), "node {i}");
        assert_eq!(len, Some(file.len().to_string()), "node {i}");
        assert!(bytes == file, "node {i} serves the uploaded bytes");
    }

    let mut nodes = nodes;
    nodes[first].kill9();
    let nodes = tokio::task::spawn_blocking(move || {
        wait_for_owner(&[&nodes[a], &nodes[b]]);
        nodes
    })
    .await
    .unwrap();
    for i in [a, b] {
        let (status, _, _, bytes) = get_after_takeover(&nodes[i], &key).await;
        assert!(
            status == 200 && bytes == file,
            "node {i} after the kill: {status}"
        );
        assert_eq!(
            head(&nodes[i], &key).await,
            (200, "audio/mpeg".to_owned(), file.len().to_string()),
            "node {i}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn files_are_served_again_once_the_database_ended_their_connections() {
    let Some((base, url, _)) = store_url("cut") else {
        return;
    };
    let node = tokio::task::spawn_blocking({
        let url = url.clone();
        move || {
            let node = node_on(&url, false);
            wait_for_owner(&[&node]);
            node
        }
    })
    .await
    .unwrap();
    let token = signed_in(&node, &url).await;
    let file = file_of(1 << 20 | 3);
    let (post_url, key) = ticket(&node, &token, "pdf").await;
    assert_eq!(post(&post_url, &key, &file).await.0, 200);
    assert!(get(&node, &key).await.3 == file);

    // The server ends every connection the file store holds, as a restart of it would.
    let (admin, conn) = tokio_postgres::connect(&base, tokio_postgres::NoTls)
        .await
        .unwrap();
    tokio::spawn(conn);
    let ended: i64 = admin
        .query_one(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity \
             WHERE application_name = 'relay-channels files'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(ended > 0, "the file store had connections to end");

    let deadline = Instant::now() + DEADLINE;
    let (status, ty, _, bytes) = loop {
        let got = get(&node, &key).await;
        // A request already on its way over a connection being ended fails with a 500 naming
        // what failed; the next one connects again.
        if got.0 != 500 || Instant::now() > deadline {
            break got;
        }
        let body: Value = serde_json::from_slice(&got.3).unwrap();
        assert_eq!(body["code"], 50000, "{body}");
    };
    assert_eq!((status, ty.as_str()), (200, "application/pdf"));
    assert!(bytes == file, "served again, whole");
    let (post_url, key) = ticket(&node, &token, "pdf").await;
    assert_eq!(post(&post_url, &key, b"after").await.0, 200);
    assert_eq!(get(&node, &key).await.3, b"after");
}
