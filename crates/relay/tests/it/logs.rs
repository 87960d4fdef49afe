//! What `relay serve` writes on stderr for an operator: with `RELAY_LOG_FORMAT=json` every
//! line is one JSON object (start, configuration, stop included), for log shippers.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::server::{Options, Server};

#[test]
fn json_logs_are_json_from_start_to_stop() {
    let mut s = Server::with(Options::default().env("RELAY_LOG_FORMAT", "json"));
    assert!(s.stop(), "the server stops on SIGTERM");
    // The reader thread collects the last lines a moment after the exit.
    let deadline = Instant::now() + Duration::from_secs(5);
    let log = loop {
        let log = s.log();
        if log.contains("\"stopped\"") || Instant::now() > deadline {
            break log;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let lines: Vec<Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect();
    let message = |m: &str| {
        lines
            .iter()
            .find(|l| l["message"].as_str().is_some_and(|x| x.starts_with(m)))
    };
    let listening = message("listening on").expect("the listening line");
    assert_eq!(listening["level"], "INFO");
    let config = message("configuration").expect("the configuration");
    assert_eq!(config["store"], "embedded");
    assert_eq!(config["durability"], "Immediate");
    assert_eq!(config["listen"], s.addr.to_string());
    assert!(
        message("queue store loaded").is_some(),
        "store recovery: {log}"
    );
    assert!(message("stopped").is_some(), "{log}");
}

#[test]
fn text_logs_keep_the_plain_lines_scripts_read() {
    let s = Server::start();
    assert!(
        s.log()
            .lines()
            .any(|l| l == format!("relay: listening on {}", s.addr)),
        "{}",
        s.log()
    );
}
