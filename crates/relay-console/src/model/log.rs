//! A step's log: lines with their carried ANSI style already prefixed (by the stream that
//! produced them), bounded by a line limit.

use crate::text::ansi;
use crate::text::lines::LogLine;
use std::collections::VecDeque;

/// Log lines of one step. When the limit is reached the oldest lines are dropped and counted,
/// so the view can say explicitly that something is missing.
#[derive(Debug)]
pub struct StepLog {
    lines: VecDeque<Box<str>>,
    /// The received bytes of the lines that were not UTF-8, by line number (see `first`). Kept
    /// apart because they are rare: other lines cost nothing more.
    raw: VecDeque<(usize, Box<[u8]>)>,
    /// Number of the first kept line: every line ever removed from the front (dropped or
    /// cleared) counts, so a number stays attached to its line while older ones go.
    first: usize,
    limit: usize,
    dropped: u64,
    /// Widest line seen, in terminal cells (for horizontal scrolling).
    width: usize,
    /// Bumped on every change so views can cache what they derived from the log.
    generation: u64,
}

impl StepLog {
    pub fn new(limit: usize) -> Self {
        StepLog {
            lines: VecDeque::new(),
            raw: VecDeque::new(),
            first: 0,
            limit: limit.max(1),
            dropped: 0,
            width: 0,
            generation: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    /// Lines dropped from the start because of the limit.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }

    /// Number of the first kept line; line `i` is number `first() + i` for as long as it is kept.
    pub fn first(&self) -> usize {
        self.first
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn generation(&self) -> u64 {
        self.generation
    }

    pub fn line(&self, i: usize) -> Option<&str> {
        self.lines.get(i).map(|l| &**l)
    }

    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.lines.iter().map(|l| &**l)
    }

    /// Each line as received: its bytes when it was not UTF-8, else its text.
    pub fn iter_bytes(&self) -> impl Iterator<Item = &[u8]> {
        let mut raw = self.raw.iter().peekable();
        self.lines.iter().enumerate().map(move |(i, text)| {
            match raw.next_if(|(n, _)| *n == self.first + i) {
                Some((_, bytes)) => &**bytes,
                None => text.as_bytes(),
            }
        })
    }

    pub fn clear(&mut self) {
        self.first += self.lines.len();
        self.lines.clear();
        self.raw.clear();
        self.dropped = 0;
        self.width = 0;
        self.generation += 1;
    }

    /// Appends lines (their carried colour is already prefixed).
    pub fn extend<I: IntoIterator<Item = LogLine>>(&mut self, lines: I) {
        for LogLine { text: stored, raw } in lines {
            let cells = if stored.contains('\x1b') {
                display_width(&ansi::strip(&stored))
            } else {
                display_width(&stored)
            };
            self.width = self.width.max(cells);
            if self.lines.len() == self.limit {
                self.lines.pop_front();
                self.dropped += 1;
                self.first += 1;
                if self.raw.front().is_some_and(|(n, _)| *n < self.first) {
                    self.raw.pop_front();
                }
            }
            if let Some(bytes) = raw {
                self.raw
                    .push_back((self.first + self.lines.len(), bytes.into_boxed_slice()));
            }
            self.lines.push_back(stored.into_boxed_str());
        }
        self.generation += 1;
    }
}

fn display_width(s: &str) -> usize {
    use unicode_width::UnicodeWidthStr;
    s.width()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_drops_oldest_and_counts() {
        let mut log = StepLog::new(3);
        log.extend((0..5).map(|i| LogLine::from(format!("l{i}"))));
        assert_eq!(log.len(), 3);
        assert_eq!(log.dropped(), 2);
        assert_eq!(log.line(0), Some("l2"));
    }

    #[test]
    fn received_bytes_follow_their_line_through_drops_and_clears() {
        let bad = |n: u8| LogLine {
            text: format!("bad{n}\u{fffd}"),
            raw: Some(vec![b'b', b'a', b'd', b'0' + n, 0xff]),
        };
        let mut log = StepLog::new(3);
        log.extend([bad(0), "ok1".into(), bad(2), "ok3".into(), bad(4)]);
        let bytes: Vec<&[u8]> = log.iter_bytes().collect();
        assert_eq!(bytes, [&b"bad2\xff"[..], b"ok3", b"bad4\xff"]);
        log.clear();
        log.extend(["ok".into(), bad(1)]);
        let bytes: Vec<&[u8]> = log.iter_bytes().collect();
        assert_eq!(bytes, [&b"ok"[..], b"bad1\xff"]);
    }
}
