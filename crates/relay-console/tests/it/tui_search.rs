//! Text search in the TUI: what it covers and where its matches point after the log changes.

use crate::common::tui::{instance, instance_with, render, send, text};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::style::Modifier;
use relay_console::instance::Instance;
use relay_console::tui::{handle_key, ViewState};
use serde_json::json;

fn press(inst: &mut Instance, view: &mut ViewState, code: KeyCode) {
    handle_key(inst, view, KeyEvent::new(code, KeyModifiers::NONE), false);
}

fn search(inst: &mut Instance, view: &mut ViewState, pattern: &str) {
    press(inst, view, KeyCode::Char('/'));
    for c in pattern.chars() {
        press(inst, view, KeyCode::Char(c));
    }
    press(inst, view, KeyCode::Enter);
}

/// The text of the screen rows drawn in reverse video (the current match).
fn highlighted(inst: &Instance, view: &mut ViewState) -> Vec<String> {
    let t = render(inst, view, 60, 60);
    let buf = t.backend().buffer();
    let rows: Vec<String> = text(&t).lines().map(String::from).collect();
    (0..buf.area.height)
        .filter(|y| {
            (0..buf.area.width).any(|x| {
                buf[(x, *y)].modifier.contains(Modifier::REVERSED) && buf[(x, *y)].symbol() != " "
            })
        })
        .map(|y| rows[y as usize].trim_start_matches(['▌', ' ']).to_string())
        .collect()
}

#[test]
fn a_match_stays_on_its_line_while_old_lines_are_dropped() {
    let mut inst = instance_with(relay_console::settings::Settings {
        max_lines: 50,
        ..Default::default()
    });
    let lines: String = (1..=50).map(|i| format!("line {i}\n")).collect();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "max_height": 0, "text": lines}),
    );
    let mut view = ViewState::new("default".into(), false);
    render(&inst, &mut view, 60, 60);
    search(&mut inst, &mut view, "line 1[0-9]$");
    assert_eq!(highlighted(&inst, &mut view), ["line 10"]);
    for i in 51..=55 {
        send(
            &mut inst,
            json!({"command": "step", "action": "append", "id": "s", "text": [format!("line {i}")]}),
        );
    }
    assert_eq!(
        highlighted(&inst, &mut view),
        ["line 10"],
        "the highlight moved to another line"
    );
    press(&mut inst, &mut view, KeyCode::Char('n'));
    assert_eq!(
        highlighted(&inst, &mut view),
        ["line 11"],
        "the next match is the one after the current one"
    );
    press(&mut inst, &mut view, KeyCode::Char('N'));
    press(&mut inst, &mut view, KeyCode::Char('N'));
    assert_eq!(
        highlighted(&inst, &mut view),
        ["line 19"],
        "wrapped backward to the last match"
    );
}

#[test]
fn the_header_title_is_searched_too() {
    // Spec 9.10: the search covers the header title, then the widgets, wrapping around.
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "set", "title": "Nightly [b]report[/b]"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s", "title": "Build report", "collapsed": false, "text": "no match here"}),
    );
    let mut view = ViewState::new("default".into(), false);
    render(&inst, &mut view, 60, 60);
    search(&mut inst, &mut view, "report");
    assert_eq!(highlighted(&inst, &mut view), ["Nightly report"]);
    press(&mut inst, &mut view, KeyCode::Char('n'));
    assert_eq!(highlighted(&inst, &mut view), ["Build report"]);
    press(&mut inst, &mut view, KeyCode::Char('n'));
    assert_eq!(
        highlighted(&inst, &mut view),
        ["Nightly report"],
        "wrapped around to the header"
    );
    press(&mut inst, &mut view, KeyCode::Char('N'));
    assert_eq!(highlighted(&inst, &mut view), ["Build report"]);
}

#[test]
fn a_maximized_log_is_searched_alone() {
    // As in the reference: while a log fills the screen, matches in hidden widgets are not
    // jumped to (the focus would go to a widget that is not shown).
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s1", "collapsed": false, "text": "alpha\nbeta\ndelta"}),
    );
    send(
        &mut inst,
        json!({"command": "step", "action": "add", "id": "s2", "collapsed": false, "text": "gamma\nzeta"}),
    );
    let mut view = ViewState::new("default".into(), false);
    render(&inst, &mut view, 60, 60);
    view.focus = Some(relay_console::tui::Focus {
        id: "s1".into(),
        part: relay_console::tui::Part::Log,
    });
    press(&mut inst, &mut view, KeyCode::Char('f'));
    search(&mut inst, &mut view, "gamma");
    assert_eq!(view.focused_id(), Some("s1"));
    assert!(highlighted(&inst, &mut view).is_empty());
    search(&mut inst, &mut view, "ta$");
    assert_eq!(highlighted(&inst, &mut view), ["beta"]);
    press(&mut inst, &mut view, KeyCode::Char('n'));
    assert_eq!(highlighted(&inst, &mut view), ["delta"]);
    press(&mut inst, &mut view, KeyCode::Char('n'));
    assert_eq!(
        highlighted(&inst, &mut view),
        ["beta"],
        "wrapped within the maximized log"
    );
}
