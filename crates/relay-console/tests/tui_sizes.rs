//! The TUI with sizes taken from client messages at their extremes.

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use relay_console::instance::{queues, Instance};
use relay_console::settings::Settings;
use relay_console::tui::{draw, ViewState};
use serde_json::{json, Value};

fn instance() -> Instance {
    let (senders, _q) = queues();
    Instance::new(Settings::default(), senders)
}

fn send(inst: &mut Instance, v: Value) {
    let mut m = v.as_object().unwrap().clone();
    inst.console.handle(&mut m, false);
}

fn render(inst: &Instance, view: &mut ViewState, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, inst, view)).unwrap();
    t
}

#[test]
fn huge_min_height_on_several_steps_still_draws() {
    // `min_height` is any integer a client sends; two such steps must not overflow the list height.
    let mut inst = instance();
    for id in ["a", "b", "c"] {
        send(&mut inst, json!({"command": "step", "action": "add", "id": id, "collapsed": false, "min_height": i64::MAX, "max_height": 0, "text": "x"}));
    }
    let mut view = ViewState::new("default".into(), false);
    render(&inst, &mut view, 40, 10);
    view.scroll_y = usize::MAX / 2;
    render(&inst, &mut view, 40, 10);
}
