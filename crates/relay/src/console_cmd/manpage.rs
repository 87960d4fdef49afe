//! `relay manpage parse FILE | run CMD…`: a formatted man page shown as a title divider, one
//! step per section and a footer divider, like `moulti manpage`.

use regex::Regex;
use serde_json::{json, Map, Value};
use std::sync::LazyLock;

static BOLD: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"(.)\x08(.)").expect("static regex"));
static SGR: LazyLock<Regex> =
    LazyLock::new(|| Regex::new("\x1b\\[[0-9;]*m").expect("static regex"));

/// Teleprinter overstrikes (`X\bX` bold, `_\bX` underline) to ANSI.
pub(super) fn overtype_to_ansi(line: &str) -> String {
    BOLD.replace_all(line, |c: &regex::Captures<'_>| {
        let (a, b) = (&c[1], &c[2]);
        if a == b {
            format!("\x1b[1m{b}\x1b[0m")
        } else if a == "_" {
            format!("\x1b[4m{b}\x1b[24m")
        } else {
            b.to_string()
        }
    })
    .into_owned()
}

/// Titles are markup: drop escapes and protect brackets.
fn plain_title(s: &str) -> String {
    SGR.replace_all(s, "").replace('[', "\\[")
}

pub(super) struct Manpage {
    pub title: String,
    pub sections: Vec<(String, String)>,
    pub footer: String,
}

pub(super) fn dissect(text: &str) -> Manpage {
    let mut lines = text.split_inclusive('\n');
    let title = lines
        .by_ref()
        .map(|l| l.trim_end_matches('\n'))
        .find(|l| !l.is_empty())
        .map(overtype_to_ansi)
        .unwrap_or_default();
    let mut rest: Vec<String> = lines.map(overtype_to_ansi).collect();
    let footer = rest
        .pop()
        .unwrap_or_default()
        .trim_end_matches('\n')
        .to_string();
    let mut sections = Vec::new();
    let mut current = (String::new(), String::new());
    let flush = |s: (String, String), out: &mut Vec<(String, String)>| {
        let text = s.1.trim_matches('\n').to_string();
        if !s.0.is_empty() || !text.is_empty() {
            out.push((s.0, text));
        }
    };
    for line in rest {
        if line.starts_with(' ') || line == "\n" {
            current.1.push_str(&line);
        } else {
            flush(std::mem::take(&mut current), &mut sections);
            current.0 = line.trim_end_matches('\n').to_string();
        }
    }
    flush(current, &mut sections);
    Manpage {
        title,
        sections,
        footer,
    }
}

/// Removes the common indentation, at most `max` spaces.
fn unindent(text: &str, max: usize) -> String {
    let size = text
        .split('\n')
        .filter(|l| !l.is_empty())
        .map(|l| l.len() - l.trim_start_matches(' ').len())
        .min()
        .unwrap_or(0)
        .min(max);
    text.split('\n')
        .map(|l| if l.is_empty() { l } else { &l[size..] })
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn messages(
    title: &str,
    text: &str,
    pid: u32,
    get: &dyn Fn(&str) -> Option<String>,
) -> Vec<Map<String, Value>> {
    let page = dissect(text);
    let mut out = Vec::new();
    if get("MOULTI_MANPAGE_NO_TITLE").is_none() {
        out.push(
            json!({"command": "set", "title": title})
                .as_object()
                .expect("object")
                .clone(),
        );
    }
    let verbose = get("MOULTI_MANPAGE_VERBOSE").is_some_and(|v| !v.is_empty());
    let mut n = 0;
    let mut add = |m: Value| {
        n += 1;
        let mut m = m.as_object().expect("object").clone();
        let id = format!("manpage_{pid}_{n}");
        if verbose {
            println!("{} {id}", m["command"].as_str().unwrap_or(""));
        }
        m.insert("id".into(), id.into());
        m
    };
    out.push(add(json!({"command": "divider", "action": "add", "title": plain_title(&page.title), "classes": "manpage title"})));
    for (t, body) in &page.sections {
        out.push(add(json!({"command": "step", "action": "add", "title": plain_title(t), "classes": "manpage",
            "text": unindent(body, 3), "collapsed": false, "max_height": 0})));
    }
    out.push(add(json!({"command": "divider", "action": "add", "title": plain_title(&page.footer), "classes": "manpage footer"})));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sections_and_overstrikes() {
        let text = "LS(1)   User Commands   LS(1)\n\nN\x08NA\x08AM\x08ME\x08E\n       ls - list\n\nDESCRIPTION\n       List _\x08f_\x08i_\x08l_\x08e_\x08s.\n\nGNU   2024   LS(1)\n";
        let page = dissect(text);
        assert_eq!(page.sections.len(), 2);
        assert_eq!(
            page.sections[0].0,
            "\x1b[1mN\x1b[0m\x1b[1mA\x1b[0m\x1b[1mM\x1b[0m\x1b[1mE\x1b[0m"
        );
        assert!(page.sections[1].1.contains("\x1b[4mf\x1b[24m"));
        assert_eq!(page.footer, "GNU   2024   LS(1)");
        let m = messages("man ls", text, 9, &|_| None);
        assert_eq!(m[2]["title"], "NAME");
        assert_eq!(m[2]["text"], "    ls - list");
        assert_eq!(m.last().unwrap()["classes"], "manpage footer");
    }
}
