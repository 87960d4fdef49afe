//! Checklist items 45-49: `PATCH /messageQueue/{id}/ack`.

use crate::support::queue_http::*;
use crate::support::server::*;
use serde_json::json;

fn pulled(s: &Server, body: &serde_json::Value) -> String {
    let id = s.push("a1", "b2", body).id();
    assert_eq!(s.pull("b2").expect(200).id(), id);
    id
}

#[test]
fn item_45_ack_of_processing_message() {
    let s = Server::start();
    let id = pulled(&s, &json!({"k": [1, 2]}));
    let r = s.ack("b2", &id).expect(200);
    assert_eq!(
        (r.sc("Status"), r.sc("Tries"), r.id()),
        ("processed", "1", id.clone())
    );
    assert!(
        parse_header_time(r.sc("Processed-Time")).is_some(),
        "{}",
        r.describe()
    );
    assert!(
        parse_header_time(r.sc("Update-Time")).is_some(),
        "{}",
        r.describe()
    );
    assert_eq!(r.content_type(), Some(JSON_CT));
    assert_eq!(r.json(), json!({"k": [1, 2]}));
    assert_eq!(s.status_of("a1", &id), "processed");
    // Binary payloads come back as base64, text as text.
    let bin = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .bytes(b"\xff\x00")
        .send()
        .expect(201)
        .id();
    s.pull("b2").expect(200);
    assert_eq!(
        s.ack("b2", &bin).expect(200).json(),
        json!(b64(b"\xff\x00"))
    );
    let txt = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("b2")
        .text("t")
        .send()
        .expect(201)
        .id();
    s.pull("b2").expect(200);
    let r = s.ack("b2", &txt).expect(200);
    assert_eq!(
        (r.content_type(), r.text().as_str()),
        (Some("text/html; charset=utf-8"), "t")
    );
    // v2 dialect ack.
    let v2 = s.push_v2("c3", "d4", &json!({})).id();
    s.req("GET", "/messageQueue")
        .source("d4")
        .send()
        .expect(200);
    let r = s
        .req("PATCH", &format!("/messageQueue/{v2}/ack"))
        .source("d4")
        .send()
        .expect(200);
    assert_eq!(r.sc("Status"), "processed");
}

#[test]
fn item_46_ack_of_pending_scheduled_or_processed_is_404() {
    let s = Server::start();
    let pending = s.push("a1", "b2", &json!({})).id();
    assert_error(&s.ack("b2", &pending), 404, RESOURCE_NOT_FOUND);
    assert_eq!(s.status_of("a1", &pending), "pending");
    let scheduled = s
        .req("POST", "/messageQueue")
        .from("a1")
        .to("c3")
        .header("Scirocco-Status", "scheduled")
        .header(
            "Scirocco-Scheduled-Time",
            &(now_ms() + 3_600_000).to_string(),
        )
        .json(&json!({}))
        .send()
        .expect(201)
        .id();
    assert_error(&s.ack("c3", &scheduled), 404, RESOURCE_NOT_FOUND);
    assert_eq!(s.status_of("a1", &scheduled), "scheduled");
    assert_eq!(s.pull("b2").expect(200).id(), pending);
    s.ack("b2", &pending).expect(200);
    assert_error(&s.ack("b2", &pending), 404, RESOURCE_NOT_FOUND);
}

#[test]
fn item_47_only_the_destination_can_ack() {
    let s = Server::start();
    let id = pulled(&s, &json!({}));
    assert_error(&s.ack("a1", &id), 404, RESOURCE_NOT_FOUND);
    assert_error(&s.ack("c3", &id), 404, RESOURCE_NOT_FOUND);
    assert_error(&s.ack("B2", &id), 404, RESOURCE_NOT_FOUND);
    assert_error(
        &s.req("PATCH", &format!("/messageQueue/{id}/ack")).send(),
        404,
        RESOURCE_NOT_FOUND,
    );
    assert_eq!(s.status_of("a1", &id), "processing");
    s.ack("b2", &id).expect(200);
}

#[test]
fn item_48_unknown_or_malformed_id_is_404_never_500() {
    let s = Server::start();
    let id = pulled(&s, &json!({"x": 1}));
    for bad in [
        "0123456789abcdef01234567",
        "abc",
        "0",
        &format!("{id}0"),
        &id[..23],
        "ffffffffffffffffffffffffffffffffffffffffffffffff",
    ] {
        assert_error(&s.ack("b2", bad), 404, RESOURCE_NOT_FOUND);
    }
    // Non-hex ids do not match the route at all.
    assert_error(&s.ack("b2", "zzzzzzzzzzzzzzzzzzzzzzzz"), 404, "Not Found");
    assert!(s.alive());
    // Upper-case hex names the same message.
    let r = s.ack("b2", &id.to_uppercase()).expect(200);
    assert_eq!(r.id(), id);
}

#[test]
fn item_49_ack_ignores_body_and_content_type() {
    let s = Server::start();
    for (ct, body) in [
        (Some("application/json"), "{not json"),
        (Some("text/plain"), "whatever"),
        (Some("image/png"), "\u{1}\u{2}"),
        (None, "loose bytes"),
        (Some("application/json"), "123"),
    ] {
        let id = pulled(&s, &json!({"keep": "me"}));
        let mut req = s
            .req("PATCH", &format!("/messageQueue/{id}/ack"))
            .from("b2")
            .body(body);
        if let Some(ct) = ct {
            req = req.header("Content-Type", ct);
        }
        let r = req.send().expect(200);
        assert_eq!(
            r.json(),
            json!({"keep": "me"}),
            "the ack body replaced the payload"
        );
    }
}
