//! Shared by the TUI tests: an instance without a socket, messages applied to it directly, and
//! a draw on ratatui's test backend.

use ratatui::backend::TestBackend;
use ratatui::Terminal;
use relay_console::instance::{queues, Instance};
use relay_console::settings::Settings;
use relay_console::tui::{draw, ViewState};
use serde_json::Value;

pub(crate) fn instance() -> Instance {
    instance_with(Settings::default())
}

pub(crate) fn instance_with(settings: Settings) -> Instance {
    let (senders, _q) = queues();
    Instance::new(settings, senders)
}

pub(crate) fn send(inst: &mut Instance, v: Value) {
    let mut m = v.as_object().unwrap().clone();
    inst.console.handle(&mut m, false);
}

pub(crate) fn render(
    inst: &Instance,
    view: &mut ViewState,
    w: u16,
    h: u16,
) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| draw(f, inst, view)).unwrap();
    t
}

/// The screen's text, one line per row, trailing blanks cut.
pub(crate) fn text(t: &Terminal<TestBackend>) -> String {
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width)
            .map(|x| buf[(x, y)].symbol().to_string())
            .collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}
