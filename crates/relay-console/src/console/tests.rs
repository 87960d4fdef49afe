use super::*;
use serde_json::json;

fn console() -> Console {
    Console::new(Settings::default())
}

fn send(c: &mut Console, v: Value) -> Outcome {
    let mut m = v.as_object().unwrap().clone();
    c.handle(&mut m, false)
}

#[test]
fn add_update_and_errors() {
    let mut c = console();
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "add", "id": "x"})
        ),
        Outcome::Done
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "add", "id": "x"})
        ),
        Outcome::Failed("id x already in use".into())
    );
    assert_eq!(
        send(&mut c, json!({"command": "step", "action": "add"})),
        Outcome::Failed("missing id".into())
    );
    assert!(
        c.store.get("x").unwrap().collapsed,
        "raw add without collapsed starts collapsed"
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "update", "id": "x", "top_text": "t"})
        ),
        Outcome::Done
    );
    let w = c.store.get("x").unwrap();
    assert_eq!(
        (w.top_text.as_str(), w.display_title(), w.collapsed),
        ("t", "x", true)
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "frobnicate", "id": "x"})
        ),
        Outcome::Failed("unknown action frobnicate".into())
    );
    assert_eq!(
        send(&mut c, json!({"command": "frob"})),
        Outcome::Failed("unknown command frob".into())
    );
    assert_eq!(
        send(&mut c, json!({})),
        Outcome::Failed("unknown command None".into())
    );
}

#[test]
fn invalid_ids_and_reserved_id() {
    let mut c = console();
    for bad in ["a b", "a.b", "é"] {
        match send(
            &mut c,
            json!({"command": "step", "action": "add", "id": bad}),
        ) {
            Outcome::Failed(e) => assert!(e.contains("is an invalid id"), "{e}"),
            other => panic!("{other:?}"),
        }
    }
    for good in ["9lives", "-x", "a_b-c", ""] {
        assert_eq!(
            send(
                &mut c,
                json!({"command": "step", "action": "add", "id": good})
            ),
            Outcome::Done
        );
    }
    assert_eq!(
        send(
            &mut c,
            json!({"command": "divider", "action": "add", "id": "moulti_run_output"})
        ),
        Outcome::Failed(
            "moulti_run_output is a reserved id that must be assigned to a step".into()
        )
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "add", "id": "moulti_run_output"})
        ),
        Outcome::Done
    );
}

#[test]
fn bad_heights_are_refused_before_anything_changes() {
    let mut c = console();
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "add", "id": "crash", "min_height": "abc"})
        ),
        Outcome::Failed("invalid literal for int() with base 10: 'abc'".into())
    );
    assert!(!c.store.contains("crash"));
    send(
        &mut c,
        json!({"command": "step", "action": "add", "id": "s", "title": "T"}),
    );
    assert!(matches!(
        send(
            &mut c,
            json!({"command": "step", "action": "update", "id": "s", "title": "U", "max_height": "x"})
        ),
        Outcome::Failed(_)
    ));
    assert_eq!(c.store.get("s").unwrap().display_title(), "T");
}

#[test]
fn markup_errors_create_nothing() {
    let mut c = console();
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "add", "id": "m", "title": "[/]"})
        ),
        Outcome::Failed("closing tag '[/]' at position 0 has nothing to close".into())
    );
    assert!(!c.store.contains("m"));
}

#[test]
fn text_append_clear() {
    let mut c = console();
    send(
        &mut c,
        json!({"command": "step", "action": "add", "id": "s"}),
    );
    send(
        &mut c,
        json!({"command": "step", "action": "update", "id": "s", "text": "a\nb"}),
    );
    let log: Vec<_> = c
        .store
        .get("s")
        .unwrap()
        .step()
        .unwrap()
        .log
        .iter()
        .map(str::to_string)
        .collect();
    assert_eq!(log, ["a", "b"]);
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["l1", "l2"]}),
    );
    assert_eq!(c.store.get("s").unwrap().step().unwrap().log.len(), 4);
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "append", "id": "s"})
        ),
        Outcome::Failed("missing text for append operation".into())
    );
    send(
        &mut c,
        json!({"command": "step", "action": "clear", "id": "s"}),
    );
    assert!(c.store.get("s").unwrap().step().unwrap().log.is_empty());
}

#[test]
fn append_implies_a_final_lf_only_when_missing() {
    // The reference joins the texts with LF, returns on an empty result and adds a LF only if the
    // text does not already end with one.
    let mut c = console();
    send(
        &mut c,
        json!({"command": "step", "action": "add", "id": "s"}),
    );
    let log = |c: &Console| {
        c.store
            .get("s")
            .unwrap()
            .step()
            .unwrap()
            .log
            .iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["a\n"]}),
    );
    assert_eq!(log(&c), ["a"]);
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": [""]}),
    );
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": []}),
    );
    assert_eq!(log(&c), ["a"]);
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["b", ""]}),
    );
    assert_eq!(log(&c), ["a", "b"]);
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["c", "", "d"]}),
    );
    assert_eq!(log(&c), ["a", "b", "c", "", "d"]);
}

#[test]
fn colour_carries_over_within_one_text_but_not_into_the_next_append() {
    // The reference starts every append (and every pass) without a carried colour: one
    // stream's unterminated colour must not paint lines coming from another.
    let mut c = console();
    send(
        &mut c,
        json!({"command": "step", "action": "add", "id": "s"}),
    );
    let log = |c: &Console| {
        c.store
            .get("s")
            .unwrap()
            .step()
            .unwrap()
            .log
            .iter()
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["\u{1b}[31mred", "still"]}),
    );
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["plain"]}),
    );
    assert_eq!(log(&c), ["\u{1b}[31mred", "\u{1b}[31mstill", "plain"]);
    c.append_lines("s", vec!["\u{1b}[32mgreen".into()]);
    send(
        &mut c,
        json!({"command": "step", "action": "append", "id": "s", "text": ["plain too"]}),
    );
    assert_eq!(log(&c)[4], "plain too");
}

#[test]
fn kinds_are_checked() {
    let mut c = console();
    send(
        &mut c,
        json!({"command": "divider", "action": "add", "id": "d"}),
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "update", "id": "d"})
        ),
        Outcome::Failed("d is not a step".into())
    );
    send(
        &mut c,
        json!({"command": "step", "action": "add", "id": "s"}),
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "question", "action": "get-answer", "id": "s"})
        ),
        Outcome::Failed("s is not a question".into())
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "update", "id": "nope"})
        ),
        Outcome::Failed("unknown id: nope".into())
    );
}

#[test]
fn pass_requires_fd_and_blocks_delete() {
    let mut c = console();
    send(
        &mut c,
        json!({"command": "step", "action": "add", "id": "s"}),
    );
    assert_eq!(
        send(&mut c, json!({"command": "pass", "id": "s"})),
        Outcome::Failed("missing file descriptor for pass operation".into())
    );
    let mut m = json!({"command": "pass", "id": "s", "read_size": -3})
        .as_object()
        .unwrap()
        .clone();
    assert_eq!(
        c.handle(&mut m, true),
        Outcome::Pass {
            step: "s".into(),
            read_size: 8192
        }
    );
    assert_eq!(m["command"], "step");
    assert_eq!(m["action"], "pass");
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "delete", "id": "s"})
        ),
        Outcome::Failed("cannot proceed with deletion as 1 ongoing operations prevent it".into())
    );
    c.pass_finished("s");
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "delete", "id": "s"})
        ),
        Outcome::Done
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "step", "action": "delete", "id": "s"})
        ),
        Outcome::Failed("unknown id: s".into())
    );
}

#[test]
fn questions() {
    let mut c = console();
    assert!(matches!(
        send(&mut c, json!({"command": "buttonquestion", "action": "add", "id": "b", "button": [["v", "bogus", "L"]]})),
        Outcome::Failed(e) if e.starts_with("invalid style 'bogus'")
    ));
    send(
        &mut c,
        json!({"command": "buttonquestion", "action": "add", "id": "b"}),
    );
    let labels: Vec<_> = c
        .store
        .get("b")
        .unwrap()
        .question()
        .unwrap()
        .buttons
        .iter()
        .map(|b| b.value.clone())
        .collect();
    assert_eq!(labels, ["yes", "no", "cancel"]);
    send(
        &mut c,
        json!({"command": "inputquestion", "action": "add", "id": "q"}),
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "inputquestion", "action": "get-answer", "id": "q"})
        ),
        Outcome::Failed("answer not available yet".into())
    );
    assert_eq!(
        send(
            &mut c,
            json!({"command": "inputquestion", "action": "get_answer", "id": "q", "wait": true})
        ),
        Outcome::Park {
            question: "q".into()
        }
    );
    assert!(c.answer("q", "hi".into()));
    assert!(!c.answer("q", "again".into()));
    assert_eq!(
        send(
            &mut c,
            json!({"command": "inputquestion", "action": "get-answer", "id": "q"})
        ),
        Outcome::Answer("hi".into())
    );
}

#[test]
fn set_progress() {
    let mut c = console();
    send(
        &mut c,
        json!({"command": "set", "progress_bar": true, "progress_target": 10, "progress": "+3"}),
    );
    assert_eq!(c.props.progress, 3.0);
    send(&mut c, json!({"command": "set", "progress": "+1"}));
    assert_eq!(c.props.progress, 4.0);
    send(&mut c, json!({"command": "set", "progress": -5}));
    assert_eq!(c.props.progress, -1.0);
    send(
        &mut c,
        json!({"command": "set", "progress": "5", "title": null}),
    );
    assert_eq!(c.props.progress, 5.0);
    assert_eq!(
        send(
            &mut c,
            json!({"command": "set", "progress": "abc", "title": "X"})
        ),
        Outcome::Failed("could not convert string to float: 'abc'".into())
    );
    assert_eq!(c.props.title, "Moulti", "nothing applied on error");
    assert_eq!(
        send(&mut c, json!({"command": "set", "title": "[/]"})),
        Outcome::Failed("closing tag '[/]' at position 0 has nothing to close".into())
    );
}

#[test]
fn enforced_collapse_rewrites_requests() {
    let mut c = console();
    c.enforce_collapsed = Some(false);
    let mut m = json!({"command": "step", "action": "add", "id": "s", "collapsed": true})
        .as_object()
        .unwrap()
        .clone();
    c.handle(&mut m, false);
    assert_eq!(m["collapsed"], false);
    assert!(!c.store.get("s").unwrap().collapsed);
    let mut m = json!({"command": "step", "action": "update", "id": "s", "collapsed": true})
        .as_object()
        .unwrap()
        .clone();
    c.handle(&mut m, false);
    assert!(!m.contains_key("collapsed"));
}
