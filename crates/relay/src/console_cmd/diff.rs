//! `relay diff parse FILE | run CMD…`: a unified diff shown as one divider per file and one
//! step per hunk, like `moulti diff` (without its optional `delta` colouring).

use serde_json::{json, Map, Value};

const GREEN: &str = "\x1b[0;32m";
const RED_BOLD: &str = "\x1b[1;31m";
const RESET: &str = "\x1b[0m";

#[derive(Debug, Default, PartialEq)]
pub(super) struct Hunk {
    pub header: String,
    pub source: String,
    pub target: String,
    pub section: String,
    pub lines: Vec<String>,
    pub added: usize,
    pub removed: usize,
}

#[derive(Debug, Default, PartialEq)]
pub(super) struct FileDiff {
    pub source: String,
    pub target: String,
    pub rename: bool,
    pub binary: bool,
    pub hunks: Vec<Hunk>,
}

impl FileDiff {
    fn strip(p: &str) -> &str {
        p.strip_prefix("a/")
            .or_else(|| p.strip_prefix("b/"))
            .unwrap_or(p)
    }

    pub(super) fn added(&self) -> bool {
        self.source == "/dev/null"
    }

    pub(super) fn removed(&self) -> bool {
        self.target == "/dev/null"
    }

    /// The path shown: the target, or the source for a removed file.
    pub(super) fn path(&self) -> &str {
        if self.removed() {
            Self::strip(&self.source)
        } else {
            Self::strip(&self.target)
        }
    }
}

fn starts_diff(line: &str) -> bool {
    ["diff ", "index ", "--- ", "+++ ", "Binary files "]
        .iter()
        .any(|p| line.starts_with(p))
}

/// Splits off the text before the first diff line (e.g. a commit message), then parses files.
pub(super) fn parse(text: &str) -> (String, Vec<FileDiff>) {
    let lines: Vec<&str> = text.split('\n').collect();
    let first = lines
        .iter()
        .position(|l| starts_diff(l))
        .unwrap_or(lines.len());
    let header = lines[..first]
        .iter()
        .map(|l| format!("{l}\n"))
        .collect::<String>();
    let mut files: Vec<FileDiff> = Vec::new();
    let mut i = first;
    let mut fresh_git_header = false;
    while i < lines.len() {
        let line = lines[i];
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let mut parts = rest.splitn(2, ' ');
            let (a, b) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
            files.push(FileDiff {
                source: a.into(),
                target: b.into(),
                ..Default::default()
            });
            fresh_git_header = true;
        } else if let Some(src) = line.strip_prefix("--- ") {
            if !fresh_git_header || files.is_empty() {
                files.push(FileDiff::default());
            }
            fresh_git_header = false;
            files.last_mut().expect("pushed").source =
                src.split('\t').next().unwrap_or(src).to_string();
        } else if let Some(dst) = line.strip_prefix("+++ ") {
            if let Some(f) = files.last_mut() {
                f.target = dst.split('\t').next().unwrap_or(dst).to_string();
            }
        } else if let (Some(f), Some(from)) = (files.last_mut(), line.strip_prefix("rename from "))
        {
            f.rename = true;
            f.source = format!("a/{from}");
        } else if let (Some(f), Some(to)) = (files.last_mut(), line.strip_prefix("rename to ")) {
            f.target = format!("b/{to}");
        } else if let (Some(f), true) = (files.last_mut(), line.starts_with("new file mode")) {
            f.source = "/dev/null".into();
        } else if let (Some(f), true) = (files.last_mut(), line.starts_with("deleted file mode")) {
            f.target = "/dev/null".into();
        } else if let (Some(f), true) = (
            files.last_mut(),
            line.starts_with("Binary files ") || line.starts_with("GIT binary patch"),
        ) {
            f.binary = true;
        } else if let (Some(f), Some(h)) = (files.last_mut(), parse_hunk_header(line)) {
            fresh_git_header = false;
            let (mut src_left, mut dst_left) = (count(&h.source), count(&h.target));
            let mut hunk = h;
            hunk.header = line.to_string();
            while i + 1 < lines.len()
                && (src_left > 0 || dst_left > 0 || lines[i + 1].starts_with('\\'))
            {
                i += 1;
                let l = lines[i];
                match l.chars().next() {
                    Some('+') => {
                        hunk.added += 1;
                        dst_left = dst_left.saturating_sub(1);
                    }
                    Some('-') => {
                        hunk.removed += 1;
                        src_left = src_left.saturating_sub(1);
                    }
                    Some('\\') => {}
                    _ => {
                        src_left = src_left.saturating_sub(1);
                        dst_left = dst_left.saturating_sub(1);
                    }
                }
                hunk.lines.push(l.to_string());
            }
            f.hunks.push(hunk);
        }
        i += 1;
    }
    (header, files)
}

/// `start,length` (length defaults to 1).
fn count(range: &str) -> usize {
    range
        .split_once(',')
        .map_or(1, |(_, n)| n.parse().unwrap_or(0))
}

fn parse_hunk_header(line: &str) -> Option<Hunk> {
    let rest = line.strip_prefix("@@ -")?;
    let (ranges, section) = rest.split_once(" @@")?;
    let (source, target) = ranges.split_once(" +")?;
    Some(Hunk {
        source: source.into(),
        target: target.into(),
        section: section.trim().into(),
        ..Default::default()
    })
}

fn with_length(range: &str) -> String {
    if range.contains(',') {
        range.to_string()
    } else {
        format!("{range},1")
    }
}

fn escape_markup(s: &str) -> String {
    s.replace('[', "\\[")
}

/// The messages `moulti diff` sends for this diff.
pub(super) fn messages(
    title: &str,
    text: &str,
    pid: u32,
    get: &dyn Fn(&str) -> Option<String>,
) -> Vec<Map<String, Value>> {
    let (header, files) = parse(text);
    let mut out = Vec::new();
    if get("MOULTI_DIFF_NO_TITLE").is_none() {
        out.push(
            json!({"command": "set", "title": title})
                .as_object()
                .expect("object")
                .clone(),
        );
    }
    let verbose = get("MOULTI_DIFF_VERBOSE").is_some_and(|v| !v.is_empty());
    let mut n = 0;
    let mut step = |command: &str, title: String, extra: Value| {
        n += 1;
        let id = format!("diff_{pid}_{n}");
        if verbose {
            println!("{command} {id}");
        }
        let mut m = json!({"command": command, "action": "add", "id": id, "title": title, "classes": "diff"}).as_object().expect("object").clone();
        if let Value::Object(extra) = extra {
            for (k, v) in extra {
                if k == "classes" {
                    let joined = format!("diff {}", v.as_str().unwrap_or(""));
                    m.insert(k, joined.into());
                } else {
                    m.insert(k, v);
                }
            }
        }
        m
    };
    let header = header.trim_end_matches('\n');
    if !header.is_empty() {
        out.push(step(
            "step",
            "Header".into(),
            json!({"text": header, "bottom_text": " ", "collapsed": false}),
        ));
    }
    for f in &files {
        let path = escape_markup(f.path());
        let (mut title, class) = if f.rename {
            (
                format!(
                    "renamed: {} -> {path}",
                    escape_markup(FileDiff::strip(&f.source))
                ),
                Some("warning"),
            )
        } else if f.removed() {
            (format!("removed: {path}"), Some("error"))
        } else if f.added() {
            (format!("added: {path}"), Some("success"))
        } else {
            (path, None)
        };
        if f.binary {
            title.push_str(" (binary)");
        }
        let extra = class.map_or(json!({}), |c| json!({"classes": c}));
        out.push(step("divider", title, extra));
        for h in &f.hunks {
            let title = format!(
                " [yellow]@@ {} {} @@[/] [#00FF66]+{}[/][#FFD0EB]-{}[/] [gray]{}[/]",
                with_length(&h.source),
                with_length(&h.target),
                h.added,
                h.removed,
                escape_markup(&h.section)
            );
            let text: Vec<String> = h
                .lines
                .iter()
                .map(|l| match l.chars().next() {
                    Some('+') => format!("{GREEN}{l}{RESET}"),
                    Some('-') => format!("{RED_BOLD}{l}{RESET}"),
                    _ => l.clone(),
                })
                .collect();
            out.push(step("step", title, json!({"text": text.join("\n"), "bottom_text": " ", "collapsed": false, "max_height": 0})));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIFF: &str = "commit abc\n\n    message\n\ndiff --git a/src/x.rs b/src/x.rs\nindex 1..2 100644\n--- a/src/x.rs\n+++ b/src/x.rs\n@@ -1,3 +1,3 @@ fn main\n a\n-b\n+c\n d\ndiff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n";

    #[test]
    fn parses_header_files_and_hunks() {
        let (header, files) = parse(DIFF);
        assert!(header.starts_with("commit abc"));
        assert_eq!(files.len(), 2);
        assert_eq!(files[0].path(), "src/x.rs");
        assert_eq!(files[0].hunks[0].lines, [" a", "-b", "+c", " d"]);
        assert_eq!((files[0].hunks[0].added, files[0].hunks[0].removed), (1, 1));
        assert!(files[1].added());
        assert_eq!(files[1].hunks[0].lines, ["+hello"]);
    }

    #[test]
    fn messages_follow_moulti_diff() {
        let m = messages("t", DIFF, 7, &|_| None);
        assert_eq!(m[0]["command"], "set");
        assert_eq!(m[1]["title"], "Header");
        assert_eq!(m[2]["command"], "divider");
        assert_eq!(m[2]["id"], "diff_7_2");
        assert_eq!(m[3]["max_height"], 0);
        assert_eq!(
            m[3]["text"],
            " a\n\u{1b}[1;31m-b\u{1b}[0m\n\u{1b}[0;32m+c\u{1b}[0m\n d"
        );
        assert_eq!(m[4]["title"], "added: new.txt");
        assert_eq!(m[4]["classes"], "diff success");
    }
}
