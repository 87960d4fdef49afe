//! The TUI with sizes taken from client messages at their extremes.

use crate::common::tui::{instance, render, send};

use relay_console::tui::ViewState;
use serde_json::json;

#[test]
fn huge_min_height_on_several_steps_still_draws() {
    // `min_height` is any integer a client sends; two such steps must not overflow the list height.
    let mut inst = instance();
    for id in ["a", "b", "c"] {
        send(
            &mut inst,
            json!({"command": "step", "action": "add", "id": id, "collapsed": false, "min_height": i64::MAX, "max_height": 0, "text": "x"}),
        );
    }
    let mut view = ViewState::new("default".into(), false);
    render(&inst, &mut view, 40, 10);
    view.scroll_y = usize::MAX / 2;
    render(&inst, &mut view, 40, 10);
}

#[test]
fn clicking_a_button_with_a_huge_label() {
    // Button labels are client text of any length; their widths do not fit in a screen column.
    use crossterm::event::{KeyModifiers, MouseButton, MouseEvent, MouseEventKind};
    let mut inst = instance();
    let long = "x".repeat(70_000);
    send(
        &mut inst,
        json!({"command": "buttonquestion", "action": "add", "id": "q", "collapsed": false,
        "button": [["big", "default", "y".repeat(65_534)], ["long", "default", long], ["ok", "success", "OK"]]}),
    );
    let mut view = ViewState::new("default".into(), false);
    render(&inst, &mut view, 40, 10);
    // Row 0 is the header, row 1 the title, row 2 the buttons.
    for column in [3, 39] {
        let click = MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row: 2,
            modifiers: KeyModifiers::NONE,
        };
        relay_console::tui::handle_mouse(&mut inst, &mut view, click);
    }
    assert_eq!(
        inst.console
            .store
            .get("q")
            .unwrap()
            .question()
            .unwrap()
            .answer
            .as_deref(),
        Some("big")
    );
}

#[test]
fn tiny_and_empty_terminals_draw_without_panicking() {
    // A terminal resized to zero columns or rows (a pty whose size was never set reports 0x0),
    // with everything on screen that can be.
    let mut inst = instance();
    for i in 0..5 {
        send(
            &mut inst,
            json!({"command": "step", "action": "add", "id": format!("s{i}"), "collapsed": false, "text": "a\nb\nc", "top_text": "t", "bottom_text": "b"}),
        );
    }
    send(
        &mut inst,
        json!({"command": "divider", "action": "add", "id": "d", "title": "div"}),
    );
    send(
        &mut inst,
        json!({"command": "question", "action": "add", "id": "q", "collapsed": false, "text": "Q?"}),
    );
    for (w, h) in [
        (0, 0),
        (0, 12),
        (12, 0),
        (1, 1),
        (1, 12),
        (2, 3),
        (5, 2),
        (3, 40),
    ] {
        let mut view = ViewState::new("default".into(), false);
        render(&inst, &mut view, w, h);
        view.show_console = true;
        view.search.open = true;
        view.notify("Saved\nsomewhere", false);
        render(&inst, &mut view, w, h);
        view.show_help = true;
        view.quit_dialog = Some(relay_console::tui::QuitDialog::Stay);
        view.maximized = Some("s1".into());
        render(&inst, &mut view, w, h);
    }
}

#[test]
fn indeterminate_progress_bar_in_a_narrow_terminal() {
    // `progress_target: 0` animates a segment at least one cell wide; the bar itself can be
    // narrower than that (the label takes 6 columns).
    let mut inst = instance();
    send(
        &mut inst,
        json!({"command": "set", "progress_bar": true, "progress_target": 0}),
    );
    for w in [0, 1, 5, 6, 7, 12] {
        let mut view = ViewState::new("default".into(), false);
        render(&inst, &mut view, w, 5);
    }
}
