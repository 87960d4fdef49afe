//! Save (`s`): a directory in the reference's format, which `moulti load` replays, plus two
//! whole-session exports, `session.txt` (plain text) and `session.ansi` (with colours).

use crate::console::Console;
use crate::instance::Instance;
use crate::model::{Kind, ScrollOnActivity, Widget, WidgetBody};
use crate::text::{ansi, markup};
use crate::ConsoleError;
use serde::Serialize;
use serde_json::{json, Map, Value};
use std::io::Write;
use std::path::{Path, PathBuf};

/// Saves into `<MOULTI_SAVE_PATH or cwd>/<instance>-<timestamp>/`; returns the notification text.
pub fn save(instance: &Instance, instance_name: &str) -> Result<String, ConsoleError> {
    let console = &instance.console;
    let base = match &console.settings.save_path {
        Some(p) => p.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    };
    let stamp = chrono::Local::now()
        .format("%Y-%m-%dT%H-%M-%S%.6f")
        .to_string();
    let subdir = format!("{instance_name}-{stamp}");
    let dir = base.join(&subdir);
    let n = save_to(console, &dir).map_err(|source| ConsoleError::Save {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(format!(
        "{n} steps successfully saved\nDir: {}\nSubdir: {subdir}",
        base.display()
    ))
}

/// Writes the save files into `dir` (created); returns the number of widgets saved.
pub fn save_to(console: &Console, dir: &Path) -> std::io::Result<usize> {
    std::fs::create_dir_all(dir)?;
    let mut widgets: Vec<&Widget> = console.store.iter().collect();
    if console.props.step_direction_up {
        widgets.reverse();
    }
    let width = widgets.len().to_string().len();
    let p = &console.props;
    let instance_props = json!({
        "command": "set",
        "title": p.title,
        "progress_bar": p.progress_bar,
        "progress_target": p.progress_target,
        "progress": p.progress,
        "step_position": if p.step_position_bottom { "bottom" } else { "top" },
        "step_direction": if p.step_direction_up { "up" } else { "down" },
    });
    write_json(
        &dir.join(format!("{}-instance.properties.json", "0".repeat(width))),
        &instance_props,
    )?;
    for (i, w) in widgets.iter().enumerate() {
        let stem = format!("{:0width$}-{}", i + 1, w.id);
        write_json(
            &dir.join(format!("{stem}.properties.json")),
            &Value::Object(properties(w)),
        )?;
        if let Some(step) = w.step() {
            let mut f = std::io::BufWriter::new(std::fs::File::create(
                dir.join(format!("{stem}.contents.log")),
            )?);
            if step.log.dropped() > 0 {
                writeln!(
                    f,
                    "[… {} earlier lines dropped: per-step limit reached]",
                    step.log.dropped()
                )?;
            }
            for line in step.log.iter_bytes() {
                f.write_all(line)?;
                if line.contains(&0x1b) {
                    f.write_all(b"\x1b[0m")?;
                }
                f.write_all(b"\n")?;
            }
            f.flush()?;
        }
    }
    export(console, &widgets, &dir.join("session.txt"), false)?;
    export(console, &widgets, &dir.join("session.ansi"), true)?;
    Ok(widgets.len())
}

fn write_json(path: &Path, value: &Value) -> std::io::Result<()> {
    let mut out = Vec::new();
    let mut ser = serde_json::Serializer::with_formatter(
        &mut out,
        serde_json::ser::PrettyFormatter::with_indent(b"    "),
    );
    value.serialize(&mut ser).map_err(std::io::Error::other)?;
    out.push(b'\n');
    std::fs::write(path, out)
}

/// A widget's current properties as an `add` message.
pub fn properties(w: &Widget) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("command".into(), w.kind.command().into());
    m.insert("action".into(), "add".into());
    m.insert("id".into(), w.id.clone().into());
    m.insert("classes".into(), w.classes.clone().into());
    m.insert(
        "title".into(),
        w.title.clone().map_or(Value::Null, Value::String),
    );
    m.insert(
        "scroll_on_activity".into(),
        match w.scroll_on_activity {
            ScrollOnActivity::Never => Value::Bool(false),
            ScrollOnActivity::Widget => Value::Bool(true),
            ScrollOnActivity::Line(n) => json!(n),
        },
    );
    if w.collapsible() {
        m.insert("collapsed".into(), w.collapsed.into());
        m.insert("top_text".into(), w.top_text.clone().into());
        m.insert("bottom_text".into(), w.bottom_text.clone().into());
    }
    match &w.body {
        WidgetBody::Step(s) => {
            m.insert("auto_scroll".into(), s.auto_scroll.into());
            m.insert("min_height".into(), s.min_height.into());
            m.insert("max_height".into(), s.max_height.into());
        }
        WidgetBody::Question(q) => {
            m.insert("text".into(), q.text.clone().into());
            if w.kind.has_input() {
                m.insert("placeholder".into(), q.placeholder.clone().into());
                let value = if q.password {
                    "*".repeat(q.value.chars().count())
                } else {
                    q.value.clone()
                };
                m.insert("value".into(), value.into());
                m.insert("password".into(), q.password.into());
                m.insert("max_length".into(), q.max_length.into());
                m.insert("restrict".into(), q.restrict.clone().into());
            }
            if w.kind.has_buttons() {
                let buttons: Vec<Value> = q
                    .buttons
                    .iter()
                    .map(|b| json!([b.value, b.style.name(), b.label]))
                    .collect();
                m.insert("button".into(), Value::Array(buttons));
            }
        }
        WidgetBody::Divider => {}
    }
    m
}

/// The whole session as a readable document: header title, then each widget.
pub fn export(
    console: &Console,
    widgets: &[&Widget],
    path: &Path,
    colours: bool,
) -> std::io::Result<()> {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path)?);
    writeln!(f, "{}", markup::plain(&console.props.title))?;
    for w in widgets {
        writeln!(f)?;
        let title = markup::plain(w.display_title());
        match w.kind {
            Kind::Divider => writeln!(f, "── {title} ──")?,
            _ => writeln!(f, "{} {title}", if w.collapsed { "▶" } else { "▼" })?,
        }
        for text in [&w.top_text] {
            if !text.is_empty() {
                writeln!(f, "  {}", markup::plain(text).replace('\n', "\n  "))?;
            }
        }
        match &w.body {
            WidgetBody::Step(s) => {
                if s.log.dropped() > 0 {
                    writeln!(
                        f,
                        "   [… {} earlier lines dropped: per-step limit reached]",
                        s.log.dropped()
                    )?;
                }
                for line in s.log.iter() {
                    if colours {
                        let reset = if line.contains('\x1b') { "\x1b[0m" } else { "" };
                        writeln!(f, "   {}{reset}", line.replace('\r', ""))?;
                    } else {
                        writeln!(f, "   {}", ansi::strip(line))?;
                    }
                }
            }
            WidgetBody::Question(q) => {
                if !q.text.is_empty() {
                    writeln!(f, "  Q: {}", markup::plain(&q.text))?;
                }
                writeln!(f, "  A: {}", q.answer.clone().unwrap_or_default())?;
            }
            WidgetBody::Divider => {}
        }
        if !w.bottom_text.is_empty() {
            writeln!(
                f,
                "  {}",
                markup::plain(&w.bottom_text).replace('\n', "\n  ")
            )?;
        }
    }
    f.flush()
}
