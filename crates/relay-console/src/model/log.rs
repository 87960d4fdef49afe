//! A step's log: lines with their carried ANSI style already prefixed (by the stream that
//! produced them), bounded by a line limit.

use crate::text::ansi;
use std::collections::VecDeque;

/// Log lines of one step. When the limit is reached the oldest lines are dropped and counted,
/// so the view can say explicitly that something is missing.
#[derive(Debug)]
pub struct StepLog {
    lines: VecDeque<Box<str>>,
    limit: usize,
    dropped: u64,
    /// Widest line seen, in terminal cells (for horizontal scrolling).
    width: usize,
    /// Bumped on every change so views can cache what they derived from the log.
    generation: u64,
}

impl StepLog {
    pub fn new(limit: usize) -> Self {
        StepLog { lines: VecDeque::new(), limit: limit.max(1), dropped: 0, width: 0, generation: 0 }
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

    pub fn clear(&mut self) {
        self.lines.clear();
        self.dropped = 0;
        self.width = 0;
        self.generation += 1;
    }

    /// Appends lines (their carried colour is already prefixed).
    pub fn extend<I: IntoIterator<Item = String>>(&mut self, lines: I) {
        for stored in lines {
            let cells = if stored.contains('\x1b') { display_width(&ansi::strip(&stored)) } else { display_width(&stored) };
            self.width = self.width.max(cells);
            if self.lines.len() == self.limit {
                self.lines.pop_front();
                self.dropped += 1;
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
        log.extend((0..5).map(|i| format!("l{i}")));
        assert_eq!(log.len(), 3);
        assert_eq!(log.dropped(), 2);
        assert_eq!(log.line(0), Some("l2"));
    }
}
