//! Text search over titles, texts and log lines (plain text, styles ignored), forward and
//! backward, wrapping around.

use crate::model::{Widget, WidgetBody};
use crate::text::{ansi, markup};
use regex::{Regex, RegexBuilder};

/// Where in a widget a match is. Ordered as displayed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Field {
    /// The header's title (the instance's, not a widget's; the match has no widget id).
    Header,
    Title,
    Top,
    Text,
    Log,
    Bottom,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    pub id: String,
    pub field: Field,
    /// Line within the field; in a log, the line's number (see `StepLog::first`), which stays
    /// attached to it while older lines are dropped.
    pub line: usize,
}

#[derive(Debug, Default)]
pub struct Search {
    pub open: bool,
    pub backward: bool,
    pub input: String,
    /// Plain-text mode instead of the default regular expressions.
    pub plain: bool,
    pub case_insensitive: bool,
    pub history: Vec<String>,
    pub history_pos: Option<usize>,
    pub pattern: Option<Regex>,
    pub current: Option<Match>,
}

const HISTORY: usize = 500;

impl Search {
    /// Compiles the typed pattern; `Err` keeps the bar open and red.
    pub fn compile(&self) -> Result<Regex, regex::Error> {
        let source = if self.plain {
            regex::escape(&self.input)
        } else {
            self.input.clone()
        };
        RegexBuilder::new(&source)
            .case_insensitive(self.case_insensitive)
            .build()
    }

    pub fn label(&self) -> &'static str {
        match (self.plain, self.case_insensitive) {
            (false, false) => "Regex",
            (false, true) => "REGEX",
            (true, false) => "Plain",
            (true, true) => "PLAIN",
        }
    }

    pub fn remember(&mut self) {
        if self.history.last() != Some(&self.input) {
            self.history.push(self.input.clone());
            if self.history.len() > HISTORY {
                self.history.remove(0);
            }
        }
        self.history_pos = None;
    }
}

fn lines_of(s: &str) -> impl DoubleEndedIterator<Item = &str> {
    let empty = s.is_empty();
    s.split('\n').filter(move |_| !empty)
}

/// Searchable (field, line, text) positions of a widget, in display order.
fn positions(w: &Widget) -> Vec<(Field, usize, String)> {
    let mut out = Vec::new();
    for (i, l) in lines_of(w.display_title()).enumerate() {
        out.push((Field::Title, i, markup::plain(l)));
    }
    for (i, l) in lines_of(&w.top_text).enumerate() {
        out.push((Field::Top, i, markup::plain(l)));
    }
    if let Some(q) = w.question() {
        for (i, l) in lines_of(&q.text).enumerate() {
            out.push((Field::Text, i, markup::plain(l)));
        }
    }
    for (i, l) in lines_of(&w.bottom_text).enumerate() {
        out.push((Field::Bottom, i, markup::plain(l)));
    }
    out
}

/// Finds the next match in `w` strictly after (or before, backward) `after`.
fn scan(
    w: &Widget,
    re: &Regex,
    backward: bool,
    after: Option<(Field, usize)>,
) -> Option<(Field, usize)> {
    let small = positions(w);
    let beyond = |key: (Field, usize)| match after {
        None => true,
        Some(a) if backward => key < a,
        Some(a) => key > a,
    };
    let small_hit = |rev: bool| {
        let mut it: Box<dyn Iterator<Item = &(Field, usize, String)>> = if rev {
            Box::new(small.iter().rev())
        } else {
            Box::new(small.iter())
        };
        it.find(|(f, l, t)| beyond((*f, *l)) && re.is_match(t))
            .map(|(f, l, _)| (*f, *l))
    };
    let log_hit = || -> Option<(Field, usize)> {
        let WidgetBody::Step(step) = &w.body else {
            return None;
        };
        let matches = |i: usize| {
            step.log
                .line(i)
                .is_some_and(|t| re.is_match(&ansi::strip(t)))
        };
        let (n, first) = (step.log.len(), step.log.first());
        let found = if backward {
            let end = match after {
                Some((Field::Log, l)) => l.saturating_sub(first).min(n),
                Some((f, _)) if f < Field::Log => 0,
                _ => n,
            };
            (0..end).rev().find(|i| matches(*i))
        } else {
            let start = match after {
                Some((Field::Log, l)) => (l + 1).saturating_sub(first),
                Some((f, _)) if f > Field::Log => n,
                _ => 0,
            };
            (start..n).find(|i| matches(*i))
        };
        found.map(|i| (Field::Log, first + i))
    };
    // Fields before the log, the log, fields after it, in the search direction.
    let before: Vec<_> = small.iter().filter(|(f, _, _)| *f < Field::Log).collect();
    let _ = before;
    if backward {
        let after_log = small
            .iter()
            .rev()
            .filter(|(f, _, _)| *f > Field::Log)
            .find(|(f, l, t)| beyond((*f, *l)) && re.is_match(t));
        if let Some((f, l, _)) = after_log {
            return Some((*f, *l));
        }
        log_hit().or_else(|| small_hit(true).filter(|(f, _)| *f < Field::Log))
    } else {
        let pre = small
            .iter()
            .filter(|(f, _, _)| *f < Field::Log)
            .find(|(f, l, t)| beyond((*f, *l)) && re.is_match(t));
        if let Some((f, l, _)) = pre {
            return Some((*f, *l));
        }
        log_hit().or_else(|| small_hit(false).filter(|(f, _)| *f > Field::Log))
    }
}

/// Next match over the header title, then the widgets in display order, starting after `from`,
/// wrapping once.
pub(super) fn find(
    header: &str,
    widgets: &[&Widget],
    re: &Regex,
    backward: bool,
    from: Option<&Match>,
) -> Option<Match> {
    // Part 0 is the header, part i + 1 the widget i.
    let n = widgets.len() + 1;
    let start = from.and_then(|m| {
        if m.field == Field::Header {
            Some(0)
        } else {
            widgets.iter().position(|w| w.id == m.id).map(|i| i + 1)
        }
    });
    let order: Vec<usize> = match (start, backward) {
        (Some(s), false) => (s..n).chain(0..=s).collect(),
        (Some(s), true) => (0..=s).rev().chain((s..n).rev()).collect(),
        (None, false) => (0..n).collect(),
        (None, true) => (0..n).rev().collect(),
    };
    for (k, part) in order.into_iter().enumerate() {
        // Only the first visit of the starting part resumes after the current match.
        let resume = if k == 0 { from } else { None };
        if part == 0 {
            if resume.is_none() && re.is_match(&markup::plain(header)) {
                return Some(Match {
                    id: String::new(),
                    field: Field::Header,
                    line: 0,
                });
            }
            continue;
        }
        let w = widgets[part - 1];
        let after = resume
            .filter(|m| m.id == w.id && m.field != Field::Header)
            .map(|m| (m.field, m.line));
        if let Some((field, line)) = scan(w, re, backward, after) {
            return Some(Match {
                id: w.id.clone(),
                field,
                line,
            });
        }
    }
    None
}
