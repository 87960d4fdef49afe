//! Hundreds of concurrent wrong-password sign-ins cannot be turned against the server: its
//! memory stays near where it was (at most a few Argon2 hashes run at once), guesses are
//! refused with a "try again" once an address or account has failed a few times, the owner
//! still signs in from another address, and queue clients and signed-in users are served
//! throughout.

use std::net::IpAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::support::server::{Server, TOKEN};
use serde_json::{json, Value};

const ACCOUNT: &str = "owner@example.com";
const PASSWORD: &str = "the-right-one";
/// Concurrent guessers, spread over this many loopback addresses.
const GUESSERS: usize = 400;
const ADDRESSES: usize = 50;
/// Guesses each guesser sends at least, one after the other; they go on until the checks made
/// during the flood are done.
const ROUNDS: usize = 4;
const MIB: u64 = 1024 * 1024;

fn rss(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .expect("VmRSS in /proc/PID/status");
    kb * 1024
}

fn client_from(ip: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(ip.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(60))
        .build()
        .unwrap()
}

async fn sign_in(c: &reqwest::Client, base: &str, password: &str) -> (u16, Option<String>, Value) {
    let r = c
        .post(format!("{base}/auth/sign_in"))
        .json(&json!({"username": ACCOUNT, "password": password}))
        .send()
        .await
        .expect("the server answers every sign-in");
    let status = r.status().as_u16();
    let retry = r
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    (status, retry, r.json().await.expect("a JSON envelope"))
}

#[derive(Default, Debug)]
struct Tally {
    checked_wrong: u64,
    throttled: u64,
    busy: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_sign_in_flood_leaves_memory_queues_and_the_owner_alone() {
    let s = Server::start();
    s.add_account(ACCOUNT, PASSWORD);
    let base = s.http();
    let pid = s.pid();

    // A signed-in user, and one correct sign-in first so that the baseline has hashed once.
    let user = client_from("127.0.0.1");
    let (status, _, body) = sign_in(&user, &base, PASSWORD).await;
    assert_eq!(status, 200, "{body}");
    let token = body["data"]["AuthenticationResult"]["AccessToken"]
        .as_str()
        .unwrap()
        .to_owned();
    let baseline = rss(pid);

    let stop = Arc::new(AtomicBool::new(false));
    let peak = Arc::new(AtomicU64::new(baseline));
    let sampler = {
        let (stop, peak) = (stop.clone(), peak.clone());
        std::thread::spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                peak.fetch_max(rss(pid), Ordering::Relaxed);
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };

    // A queue client pushing one message after the other throughout.
    let pusher = {
        let (stop, base) = (stop.clone(), base.clone());
        tokio::spawn(async move {
            let c = client_from("127.0.0.2");
            let (mut pushed, mut slowest) = (0u64, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                let started = Instant::now();
                let r = c
                    .post(format!("{base}/messageQueue"))
                    .header("Authorization", TOKEN)
                    .header("Scirocco-From", "af100d")
                    .header("Scirocco-To", "af100d")
                    .json(&json!({"n": pushed}))
                    .send()
                    .await
                    .expect("a push during the flood");
                assert_eq!(r.status().as_u16(), 201, "a push during the flood");
                slowest = slowest.max(started.elapsed());
                pushed += 1;
            }
            (pushed, slowest)
        })
    };

    let tally = Arc::new(Mutex::new(Tally::default()));
    let flood_over = Arc::new(AtomicBool::new(false));
    let guessers: Vec<_> = (0..GUESSERS)
        .map(|g| {
            let (tally, base, over) = (tally.clone(), base.clone(), flood_over.clone());
            tokio::spawn(async move {
                let c = client_from(&format!("127.0.1.{}", 1 + g % ADDRESSES));
                let mut round = 0;
                while round < ROUNDS || !over.load(Ordering::Relaxed) {
                    round += 1;
                    let (status, retry, body) =
                        sign_in(&c, &base, &format!("guess-{g}-{round}")).await;
                    let mut t = tally.lock().unwrap();
                    match status {
                        401 => t.checked_wrong += 1,
                        429 | 503 => {
                            let message = body["message"].as_str().unwrap_or_default();
                            assert!(message.contains("try again"), "{body}");
                            assert!(retry.is_some(), "{status} without Retry-After: {body}");
                            match status {
                                429 => t.throttled += 1,
                                _ => t.busy += 1,
                            }
                        }
                        _ => panic!("a wrong password answered {status}: {body}"),
                    }
                }
            })
        })
        .collect();

    // While the guesses go on: the owner signs in from an address of its own (a "busy"
    // refusal says to try again, and is retried; a throttled one would be a failure), and
    // the signed-in user is served.
    let owner = client_from("127.0.0.3");
    let mut busy_refusals = 0;
    loop {
        let (status, _, body) = sign_in(&owner, &base, PASSWORD).await;
        match status {
            200 => break,
            503 if busy_refusals < 100 => busy_refusals += 1,
            _ => panic!("the owner's sign-in from a clean address: {status} {body}"),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let info = user
        .get(format!("{base}/user/info"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(
        info.status().as_u16(),
        200,
        "a signed-in user during the flood"
    );
    let owner_done_during_flood = guessers.iter().any(|g| !g.is_finished());
    flood_over.store(true, Ordering::Relaxed);

    for g in guessers {
        g.await.expect("a guesser panicked");
    }
    stop.store(true, Ordering::Relaxed);
    let (pushed, slowest) = pusher.await.expect("the pusher panicked");
    sampler.join().unwrap();
    let peak = peak.load(Ordering::Relaxed);
    let tally = std::mem::take(&mut *tally.lock().unwrap());
    println!(
        "rss baseline {} MiB, peak {} MiB; {tally:?}; owner retried {busy_refusals} times; \
         {pushed} pushes, slowest {slowest:?}",
        baseline / MIB,
        peak / MIB
    );

    assert!(
        owner_done_during_flood,
        "the owner signed in only after the flood"
    );
    assert!(
        peak <= baseline + 150 * MIB,
        "the server grew from {} MiB to {} MiB during the flood",
        baseline / MIB,
        peak / MIB
    );
    assert!(pushed > 0, "no push was made during the flood");
    assert!(tally.checked_wrong + tally.throttled + tally.busy >= (GUESSERS * ROUNDS) as u64);
    assert!(tally.throttled > 0, "no guess was throttled: {tally:?}");
    // Each address gets its free failures, then one guess per doubling delay: far fewer than
    // it sent (8 guessers, 4 rounds at least).
    assert!(
        tally.checked_wrong <= (ADDRESSES * 12) as u64,
        "{} wrong passwords were checked: {tally:?}",
        tally.checked_wrong
    );
    // The throttling shows in the metrics, counted as the clients saw it.
    let metrics = reqwest::Client::new()
        .get(format!("{base}/_relay/metrics"))
        .header("Authorization", TOKEN)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let counted = |name: &str| -> u64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(name)?.trim().parse::<f64>().ok())
            .unwrap_or_else(|| panic!("no {name} in the metrics:\n{metrics}")) as u64
    };
    assert_eq!(counted("relay_signin_throttled_total"), tally.throttled);
    assert_eq!(
        counted("relay_signin_busy_total"),
        tally.busy + busy_refusals
    );
}
