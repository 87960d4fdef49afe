//! Scrolling state of logs in the TUI after keys and after the log changes under it.

use crate::common::tui::{instance, instance_with, render, send, text};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use relay_console::instance::Instance;
use relay_console::tui::{handle_key, Focus, Part, ViewState};
use serde_json::json;

fn screen(inst: &Instance, view: &mut ViewState, w: u16, h: u16) -> String {
    text(&render(inst, view, w, h))
}

fn press(inst: &mut Instance, view: &mut ViewState, code: KeyCode) {
    handle_key(inst, view, KeyEvent::new(code, KeyModifiers::NONE), false);
}

#[test]
fn end_in_a_maximized_log_with_top_and_bottom_text_shows_the_last_line() {
    let mut inst = instance();
    let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "auto_scroll": false,
        "top_text": "above", "bottom_text": "below", "text": text}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 20);
    view.focus = Some(Focus {
        id: "s".into(),
        part: Part::Log,
    });
    press(&mut inst, &mut view, KeyCode::Char('f'));
    screen(&inst, &mut view, 60, 20);
    press(&mut inst, &mut view, KeyCode::End);
    let shown = screen(&inst, &mut view, 60, 20);
    assert!(shown.contains("line 100"), "{shown}");
    press(&mut inst, &mut view, KeyCode::Home);
    press(&mut inst, &mut view, KeyCode::PageDown);
    let shown = screen(&inst, &mut view, 60, 20);
    // 15 log rows are visible (18 list rows minus title, top and bottom text).
    assert!(
        !shown.contains(" line 15\n")
            && shown.contains(" line 16\n")
            && shown.contains(" line 30\n"),
        "a page down moves by one visible page: {shown}"
    );
}

#[test]
fn mouse_wheel_scrolls_a_maximized_log_that_fits_its_normal_height() {
    use crossterm::event::{MouseEvent, MouseEventKind};
    let mut inst = instance();
    let text: String = (1..=20).map(|i| format!("line {i}\n")).collect();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": text}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 10);
    view.focus = Some(Focus {
        id: "s".into(),
        part: Part::Log,
    });
    press(&mut inst, &mut view, KeyCode::Char('f'));
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(shown.contains(" line 20\n"), "{shown}");
    // 8 list rows: the title and 7 log rows; row 5 of the screen is a log row.
    let wheel = MouseEvent {
        kind: MouseEventKind::ScrollUp,
        column: 10,
        row: 5,
        modifiers: KeyModifiers::NONE,
    };
    relay_console::tui::handle_mouse(&mut inst, &mut view, wheel);
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(
        shown.contains(" line 11\n")
            && shown.contains(" line 17\n")
            && !shown.contains(" line 18\n"),
        "{shown}"
    );
}

#[test]
fn search_in_a_maximized_log_scrolls_the_match_into_view() {
    let mut inst = instance();
    let text: String = (1..=100).map(|i| format!("line {i}\n")).collect();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": text}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 10);
    view.focus = Some(Focus {
        id: "s".into(),
        part: Part::Log,
    });
    press(&mut inst, &mut view, KeyCode::Char('f'));
    screen(&inst, &mut view, 60, 10);
    press(&mut inst, &mut view, KeyCode::Char('/'));
    for c in "line 80$".chars() {
        press(&mut inst, &mut view, KeyCode::Char(c));
    }
    press(&mut inst, &mut view, KeyCode::Enter);
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(shown.contains(" line 80\n"), "{shown}");
}

#[test]
fn horizontal_scroll_does_not_outlive_the_lines_it_was_for() {
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": format!("{}END", "x".repeat(300))}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 10);
    view.focus = Some(Focus {
        id: "s".into(),
        part: Part::Log,
    });
    for _ in 0..5 {
        handle_key(
            &mut inst,
            &mut view,
            KeyEvent::new(KeyCode::PageDown, KeyModifiers::CONTROL),
            false,
        );
    }
    assert!(screen(&inst, &mut view, 60, 10).contains("END"));
    // Replacing the content (clear + append, or update --text) leaves only short lines.
    send(
        &mut inst,
        json!({"command": "step", "action": "clear", "id": "s"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "append", "id": "s", "text": ["short"]}),
    );
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(shown.contains(" short"), "{shown}");
    for _ in 0..10 {
        handle_key(
            &mut inst,
            &mut view,
            KeyEvent::new(KeyCode::PageDown, KeyModifiers::CONTROL),
            false,
        );
    }
    send(
        &mut inst,
        json!({"command": "step", "action": "update", "id": "s", "text": "tiny"}),
    );
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(shown.contains(" tiny"), "{shown}");
}

#[test]
fn scrolling_right_stops_when_the_end_of_the_widest_line_is_visible() {
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": format!("{}END\nshort", "x".repeat(100))}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 10);
    view.focus = Some(Focus {
        id: "s".into(),
        part: Part::Log,
    });
    for _ in 0..3 {
        handle_key(
            &mut inst,
            &mut view,
            KeyEvent::new(KeyCode::PageDown, KeyModifiers::CONTROL),
            false,
        );
    }
    for _ in 0..5 {
        press(&mut inst, &mut view, KeyCode::Right);
    }
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(shown.contains("xxxEND\n"), "{shown}");
    // One step left shows one more column on the left at once.
    press(&mut inst, &mut view, KeyCode::Left);
    let shown = screen(&inst, &mut view, 60, 10);
    assert!(shown.contains("xxxEN"), "{shown}");
}

#[test]
fn deleting_the_maximized_step_restores_the_list() {
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "a", "title": "First", "collapsed": false, "text": "one"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "b", "title": "Second", "collapsed": false, "text": "two"}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 12);
    view.focus = Some(Focus {
        id: "a".into(),
        part: Part::Log,
    });
    press(&mut inst, &mut view, KeyCode::Char('f'));
    assert!(!screen(&inst, &mut view, 60, 12).contains("Second"));
    send(
        &mut inst,
        json!({"command": "step", "action": "delete", "id": "a"}),
    );
    let shown = screen(&inst, &mut view, 60, 12);
    assert!(
        shown.contains("Second") && shown.contains("Save"),
        "{shown}"
    );
}

#[test]
fn a_log_scrolled_up_stays_on_its_lines_while_old_ones_are_dropped() {
    let mut inst = instance_with(relay_console::settings::Settings {
        max_lines: 50,
        ..Default::default()
    });
    let text: String = (1..=50).map(|i| format!("line {i}\n")).collect();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "max_height": 10, "text": text}),
    );
    let mut view = ViewState::new("default".into(), false);
    screen(&inst, &mut view, 60, 20);
    view.focus = Some(Focus {
        id: "s".into(),
        part: Part::Log,
    });
    press(&mut inst, &mut view, KeyCode::PageUp);
    press(&mut inst, &mut view, KeyCode::PageUp);
    let before = screen(&inst, &mut view, 60, 20);
    assert!(
        before.contains(" line 21\n") && before.contains(" line 30\n"),
        "{before}"
    );
    for i in 51..=55 {
        send(
            &mut inst,
            json!({"command": "step", "action": "append", "id": "s", "text": [format!("line {i}")]}),
        );
    }
    assert_eq!(
        screen(&inst, &mut view, 60, 20),
        before,
        "the view moved while the user read it"
    );
    // Once the lines it showed are gone, it shows the oldest ones left, after the marker.
    for i in 56..=80 {
        send(
            &mut inst,
            json!({"command": "step", "action": "append", "id": "s", "text": [format!("line {i}")]}),
        );
    }
    let shown = screen(&inst, &mut view, 60, 20);
    assert!(
        shown.contains("30 earlier lines dropped")
            && shown.contains(" line 31\n")
            && shown.contains(" line 39\n"),
        "{shown}"
    );
    press(&mut inst, &mut view, KeyCode::Down);
    let shown = screen(&inst, &mut view, 60, 20);
    assert!(
        !shown.contains("dropped") && shown.contains(" line 40\n"),
        "{shown}"
    );
}
