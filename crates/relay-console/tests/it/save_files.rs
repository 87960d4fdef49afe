//! What Save writes for a step whose oldest lines were dropped by the per-step limit.

use relay_console::console::Console;
use relay_console::settings::Settings;
use serde_json::json;

#[test]
fn dropped_lines_are_stated_in_the_saved_log() {
    // docs/console.md: the "[… N earlier lines dropped …]" line is also in Save and the exports.
    let mut c = Console::new(Settings {
        max_lines: 3,
        ..Default::default()
    });
    let mut m = json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": "1\n2\n3\n4\n5"}).as_object().unwrap().clone();
    c.handle(&mut m, false);
    let dir = tempfile::tempdir().unwrap();
    relay_console::save::save_to(&c, dir.path()).unwrap();
    let log = std::fs::read_to_string(dir.path().join("1-s.contents.log")).unwrap();
    assert_eq!(
        log,
        "[… 2 earlier lines dropped: per-step limit reached]\n3\n4\n5\n"
    );
    let txt = std::fs::read_to_string(dir.path().join("session.txt")).unwrap();
    assert!(
        txt.contains("[… 2 earlier lines dropped: per-step limit reached]"),
        "{txt}"
    );
}

#[test]
fn bytes_that_are_not_utf8_are_saved_as_received() {
    // The spec (5.3): invalid bytes are preserved and written back unchanged by Save, so that
    // `moulti load` replays what the step received (a Latin-1 file, a binary's output).
    let mut c = Console::new(Settings::default());
    let mut m = json!({"command": "step", "action": "add", "id": "s", "collapsed": false})
        .as_object()
        .unwrap()
        .clone();
    c.handle(&mut m, false);
    let mut stream = relay_console::text::lines::LineSplitter::new(8);
    c.append_lines(
        "s",
        stream.push(b"caf\xe9 cr\xe8me\n\x1b[31mred \xff\nstill\tred\n"),
    );
    c.append_lines("s", stream.finish().into_iter().collect());
    let dir = tempfile::tempdir().unwrap();
    relay_console::save::save_to(&c, dir.path()).unwrap();
    let log = std::fs::read(dir.path().join("1-s.contents.log")).unwrap();
    assert_eq!(
        log,
        b"caf\xe9 cr\xe8me\n\x1b[31mred \xff\x1b[0m\n\x1b[31mstill        red\x1b[0m\n",
        "{}",
        String::from_utf8_lossy(&log)
    );
}
