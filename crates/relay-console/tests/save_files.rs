//! What Save writes for a step whose oldest lines were dropped by the per-step limit.

use relay_console::console::Console;
use relay_console::settings::Settings;
use serde_json::json;

#[test]
fn dropped_lines_are_stated_in_the_saved_log() {
    // docs/console.md: the "[… N earlier lines dropped …]" line is also in Save and the exports.
    let mut c = Console::new(Settings { max_lines: 3, ..Default::default() });
    let mut m = json!({"command": "step", "action": "add", "id": "s", "collapsed": false, "text": "1\n2\n3\n4\n5"}).as_object().unwrap().clone();
    c.handle(&mut m, false);
    let dir = tempfile::tempdir().unwrap();
    relay_console::save::save_to(&c, dir.path()).unwrap();
    let log = std::fs::read_to_string(dir.path().join("1-s.contents.log")).unwrap();
    assert_eq!(log, "[… 2 earlier lines dropped: per-step limit reached]\n3\n4\n5\n");
    let txt = std::fs::read_to_string(dir.path().join("session.txt")).unwrap();
    assert!(txt.contains("[… 2 earlier lines dropped: per-step limit reached]"), "{txt}");
}
