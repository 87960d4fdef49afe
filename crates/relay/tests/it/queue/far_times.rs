//! Scheduled times near the ends of JavaScript's date range (±8.64e15 ms, years -271821 to
//! 275760), beyond what chrono can represent. The original stores any valid JavaScript date and
//! writes it back with `Date.toString()` and `toISOString()`; Relay, which accepts any parseable
//! time (spec Q6), keeps them and writes them the same way, in headers and in the list.

use crate::support::server::*;
use serde_json::json;

/// (pushed value, header form, list form), as Node.js writes them in UTC.
const FAR: [(&str, &str, &str); 4] = [
    (
        "8640000000000000",
        "Sat Sep 13 275760 00:00:00 GMT+0000 (UTC)",
        "+275760-09-13T00:00:00.000Z",
    ),
    (
        "8.3e15",
        "Wed Jul 12 264986 19:33:20 GMT+0000 (UTC)",
        "+264986-07-12T19:33:20.000Z",
    ),
    (
        "-8300000000000000",
        "Thu Jun 21 -261047 04:26:40 GMT+0000 (UTC)",
        "-261047-06-21T04:26:40.000Z",
    ),
    (
        "-8.64e15",
        "Tue Apr 20 -271821 00:00:00 GMT+0000 (UTC)",
        "-271821-04-20T00:00:00.000Z",
    ),
];

#[test]
fn far_scheduled_times_are_kept_and_written_as_javascript_writes_them() {
    let mut s = Server::start();
    let mut ids = Vec::new();
    for (given, header, _) in FAR {
        let r = s
            .req("POST", "/messageQueue")
            .source("a1")
            .dest("b2")
            .header("Scirocco-Status", "scheduled")
            .header("Scirocco-Scheduled-Time", given)
            .json(&json!({"t": given}))
            .send()
            .expect(201);
        assert_eq!(r.sc("Scheduled-Time"), header, "pushed {given:?}");
        let v1 = s
            .req("POST", "/messageQueue")
            .from("a1")
            .to("b2")
            .header("Scirocco-Scheduled-Time", given)
            .json(&json!({}))
            .send()
            .expect(201);
        assert_eq!(v1.sc("Scheduled-Time"), header, "pushed {given:?} in v1");
        ids.push((r.id(), v1.id()));
    }
    // Read back from the store after a restart: headers of get-one, then the list's ISO times.
    s.restart();
    for ((given, header, _), (v2_id, v1_id)) in FAR.iter().zip(&ids) {
        let r = s
            .req("GET", &format!("/messages/{v2_id}"))
            .source("a1")
            .send()
            .expect(200);
        assert_eq!(r.sc("Scheduled-Time"), *header, "read back {given:?}");
        let r = s
            .req("GET", &format!("/messages/{v1_id}"))
            .from("b2")
            .send()
            .expect(200);
        assert_eq!(r.sc("Scheduled-Time"), *header, "read back {given:?} in v1");
    }
    let listed = s
        .req("GET", "/messages")
        .source("a1")
        .send()
        .expect(200)
        .json();
    let listed = listed.as_array().expect("a JSON array");
    assert_eq!(listed.len(), 2 * FAR.len());
    for ((given, _, iso), pair) in FAR.iter().zip(listed.chunks(2)) {
        for item in pair {
            assert_eq!(item["scheduled_time"], *iso, "listed {given:?}: {item}");
        }
    }
    // v1 pushes are pending (the time is kept but inert); of the scheduled ones, the two in
    // the far past are due and the two in the far future are not.
    let pulled: Vec<String> = (0..6)
        .map(|_| {
            s.req("GET", "/messageQueue")
                .source("b2")
                .send()
                .expect(200)
                .sc("Scheduled-Time")
                .to_string()
        })
        .collect();
    let want: Vec<&str> = [0, 1, 2, 2, 3, 3].iter().map(|&i| FAR[i].1).collect();
    assert_eq!(pulled, want);
    s.req("GET", "/messageQueue")
        .source("b2")
        .send()
        .expect(204);
}
