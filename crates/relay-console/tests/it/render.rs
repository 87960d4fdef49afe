//! Rendering snapshots with ratatui's test backend: what a user would see for a given state.

use crate::common::tui::{instance, render, send, text};

use ratatui::style::Color;
use relay_console::instance::{queues, Instance};
use relay_console::settings::Settings;
use relay_console::tui::{handle_key, ViewState};
use serde_json::json;

fn key(c: char) -> crossterm::event::KeyEvent {
    crossterm::event::KeyEvent::new(
        crossterm::event::KeyCode::Char(c),
        crossterm::event::KeyModifiers::NONE,
    )
}

#[test]
fn empty_screen() {
    // 75
    let inst = instance();
    let mut view = ViewState::new("default".into(), false);
    insta::assert_snapshot!(text(&render(&inst, &mut view, 100, 8)));
}

#[test]
fn steps_divider_and_progress() {
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "set", "title": "Build [b]report[/b]", "progress_bar": true, "progress_target": 10, "progress": "+3"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s1", "title": "Compile", "collapsed": false,
        "top_text": "cargo build", "bottom_text": "done", "text": "line one\n\u{1b}[31mred line\nline\tthree"}),
    );
    send(
        &mut inst,
        json!({"command": "divider", "action": "add", "id": "d", "title": "Tests"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s2", "title": "Collapsed", "text": "hidden"}),
    );
    send(
        &mut inst,
        json!({"command": "inputquestion", "action": "add", "id": "q", "collapsed": false, "text": "Your name?", "placeholder": "type here"}),
    );
    send(
        &mut inst,
        json!({"command": "buttonquestion", "action": "add", "id": "b", "collapsed": false, "text": "Continue?"}),
    );
    let mut view = ViewState::new("default".into(), false);
    let t = render(&inst, &mut view, 80, 24);
    insta::assert_snapshot!(text(&t));
    // The red line keeps its colour (48 / carry-over) and the header shows the title (62).
    let buf = t.backend().buffer();
    let red_row = (0..24)
        .find(|y| {
            (0..80)
                .map(|x| buf[(x, *y)].symbol().to_string())
                .collect::<String>()
                .contains("red line")
        })
        .unwrap();
    let x = (0..80)
        .find(|x| buf[(*x, red_row)].symbol() == "r")
        .unwrap();
    assert_eq!(buf[(x, red_row)].fg, Color::Red);
}

#[test]
fn class_backgrounds() {
    // 40
    let mut inst = instance();
    let classes = [
        ("success", (0, 255, 0)),
        ("warning", (255, 165, 0)),
        ("error", (255, 99, 71)),
        ("inactive", (190, 190, 190)),
        ("standard", (0, 69, 120)),
        ("", (0, 69, 120)),
    ];
    for (i, (c, _)) in classes.iter().enumerate() {
        send(
            &mut inst,
            json!({"command": "step", "action": "add", "id": format!("c{i}"), "classes": c, "collapsed": true}),
        );
    }
    let mut view = ViewState::new("default".into(), false);
    let t = render(&inst, &mut view, 40, 10);
    let buf = t.backend().buffer();
    for (i, (_, (r, g, b))) in classes.iter().enumerate() {
        assert_eq!(
            buf[(5, 1 + i as u16)].bg,
            Color::Rgb(*r, *g, *b),
            "row of class {:?}",
            classes[i].0
        );
    }
}

#[test]
fn max_height_limits_and_follows_the_end() {
    // 39
    let mut inst = instance();
    let text_: String = (1..=94).map(|i| format!("line {i}\n")).collect();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": text_}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "u", "collapsed": false, "max_height": 0, "text": "a\nb\nc"}),
    );
    let mut view = ViewState::new("default".into(), false);
    let screen = text(&render(&inst, &mut view, 60, 40));
    let shown: Vec<&str> = screen
        .lines()
        .filter(|l| l.trim_start().starts_with("line "))
        .collect();
    assert_eq!(shown.len(), 25);
    assert_eq!(shown[0].trim(), "line 70");
    assert_eq!(shown[24].trim(), "line 94");
    assert!(screen.contains("   a") && screen.contains("   c"));
}

#[test]
fn dropped_lines_marker_and_direction_up() {
    let (senders, _q) = queues();
    let mut inst = Instance::new(
        Settings {
            max_lines: 3,
            ..Default::default()
        },
        senders,
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": "1\n2\n3\n4\n5"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "newer", "collapsed": true}),
    );
    send(&mut inst, json!({"command": "set", "step_direction": "up"}));
    let mut view = ViewState::new("default".into(), false);
    insta::assert_snapshot!(text(&render(&inst, &mut view, 60, 10)));
}

#[test]
fn help_and_footer_follow_keys() {
    // 78, d toggles the footer's Light/Dark label
    let mut inst = instance();
    let mut view = ViewState::new("default".into(), false);
    handle_key(&mut inst, &mut view, key('d'), false);
    assert!(text(&render(&inst, &mut view, 100, 6)).contains("Dark"));
    handle_key(&mut inst, &mut view, key('h'), false);
    insta::assert_snapshot!(text(&render(&inst, &mut view, 80, 24)));
    handle_key(&mut inst, &mut view, key('a'), false);
    assert!(!text(&render(&inst, &mut view, 80, 24)).contains("key bindings"));
}

#[test]
fn forcing_new_widgets_open_and_closed() {
    // 9.6: X forces new widgets expanded, pressing it again stops forcing.
    let mut inst = instance();
    let mut view = ViewState::new("default".into(), false);
    handle_key(&mut inst, &mut view, key('X'), false);
    assert_eq!(inst.console.enforce_collapsed, Some(false));
    assert!(text(&render(&inst, &mut view, 80, 10)).contains("Expanding new steps"));
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": true, "text": "visible"}),
    );
    assert!(!inst.console.store.get("s").unwrap().collapsed);
    handle_key(&mut inst, &mut view, key('X'), false);
    assert_eq!(inst.console.enforce_collapsed, None);
    handle_key(&mut inst, &mut view, key('O'), false);
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "t", "collapsed": false}),
    );
    assert!(inst.console.store.get("t").unwrap().collapsed);
}

#[test]
fn scroll_on_activity_brings_the_step_into_view() {
    let mut inst = instance();
    for i in 0..30 {
        send(
            &mut inst,
            json!({"command": "step", "action": "add", "id": format!("s{i}"), "collapsed": true}),
        );
    }
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "busy", "collapsed": false, "scroll_on_activity": -1, "title": "Busy step"}),
    );
    let mut view = ViewState::new("default".into(), false);
    assert!(!text(&render(&inst, &mut view, 60, 12)).contains("Busy step"));
    inst.console.append_lines("busy", vec!["new output".into()]);
    relay_console::tui::apply_scroll_requests(&mut inst, &mut view);
    let screen = text(&render(&inst, &mut view, 60, 12));
    assert!(screen.contains("new output"), "{screen}");
}
