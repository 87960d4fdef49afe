//! Bytes to log lines: only LF ends a line, the remainder waits for more data or for EOF, TABs
//! become a fixed number of spaces, invalid UTF-8 is shown with replacement characters but kept
//! for Save, and the colour a line leaves active is carried into the next lines of the same
//! stream.

/// Longest line kept whole; a longer run without LF is cut into pieces of this size so one
/// endless line cannot grow memory without bound.
pub const MAX_LINE: usize = 1024 * 1024;

/// One line as a step keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    /// What is shown, searched and copied (carried colour prefixed, TABs expanded).
    pub text: String,
    /// The same line as bytes when it was not valid UTF-8: Save writes back what the step
    /// received, as the reference does, where `text` has replacement characters.
    pub raw: Option<Vec<u8>>,
}

impl From<String> for LogLine {
    fn from(text: String) -> Self {
        LogLine { text, raw: None }
    }
}

impl From<&str> for LogLine {
    fn from(text: &str) -> Self {
        LogLine {
            text: text.to_string(),
            raw: None,
        }
    }
}

impl PartialEq<&str> for LogLine {
    fn eq(&self, other: &&str) -> bool {
        self.text == *other
    }
}

/// Splits a byte stream into complete lines.
#[derive(Debug, Default)]
pub struct LineSplitter {
    pending: Vec<u8>,
    tab: String,
    /// SGR sequences still active at the end of the last line, prefixed to the next one. Each
    /// stream (pass, append, text) has its own, as in the reference.
    carry: String,
}

impl LineSplitter {
    pub fn new(tab_size: usize) -> Self {
        LineSplitter {
            pending: Vec::new(),
            tab: " ".repeat(tab_size),
            carry: String::new(),
        }
    }

    /// Returns the lines completed by `data`.
    pub fn push(&mut self, data: &[u8]) -> Vec<LogLine> {
        let mut out = Vec::new();
        let mut rest = data;
        while let Some(pos) = rest.iter().position(|b| *b == b'\n') {
            if self.pending.is_empty() {
                out.push(self.decode(&rest[..pos]));
            } else {
                self.pending.extend_from_slice(&rest[..pos]);
                let line = std::mem::take(&mut self.pending);
                out.push(self.decode(&line));
            }
            rest = &rest[pos + 1..];
        }
        self.pending.extend_from_slice(rest);
        while self.pending.len() >= MAX_LINE {
            let rest = self.pending.split_off(MAX_LINE);
            let piece = std::mem::replace(&mut self.pending, rest);
            out.push(self.decode(&piece));
        }
        out
    }

    /// Flushes the unterminated remainder at end of input.
    pub fn finish(&mut self) -> Option<LogLine> {
        if self.pending.is_empty() {
            return None;
        }
        let line = std::mem::take(&mut self.pending);
        Some(self.decode(&line))
    }

    fn decode(&mut self, bytes: &[u8]) -> LogLine {
        let text = String::from_utf8_lossy(bytes);
        let raw = match text {
            std::borrow::Cow::Borrowed(_) => None,
            std::borrow::Cow::Owned(_) => Some(self.raw_line(bytes)),
        };
        let line = if text.contains('\t') {
            text.replace('\t', &self.tab)
        } else {
            text.into_owned()
        };
        let next_carry = super::ansi::carry_out(&self.carry, &line);
        let stored = if self.carry.is_empty() {
            line
        } else {
            format!("{}{line}", self.carry)
        };
        self.carry = next_carry;
        LogLine { text: stored, raw }
    }

    /// The bytes of a line that is not UTF-8, transformed as its text is.
    fn raw_line(&self, bytes: &[u8]) -> Vec<u8> {
        let mut raw = Vec::with_capacity(self.carry.len() + bytes.len());
        raw.extend_from_slice(self.carry.as_bytes());
        for &b in bytes {
            if b == b'\t' {
                raw.extend_from_slice(self.tab.as_bytes());
            } else {
                raw.push(b);
            }
        }
        raw
    }
}

/// Splits a whole text (from `text` or `append`) with the same rules as a stream.
pub fn split_text(text: &str, tab_size: usize) -> Vec<LogLine> {
    let mut s = LineSplitter::new(tab_size);
    let mut lines = s.push(text.as_bytes());
    lines.extend(s.finish());
    lines
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_lines_wait_for_lf_and_eof_flushes() {
        let mut s = LineSplitter::new(8);
        assert!(s.push(b"partial-").is_empty());
        assert_eq!(s.push(b"line\nlast"), vec!["partial-line"]);
        assert_eq!(s.finish().map(|l| l.text).as_deref(), Some("last"));
        assert_eq!(s.finish(), None);
    }

    #[test]
    fn trailing_lf_adds_no_empty_line_and_empty_input_adds_nothing() {
        assert_eq!(split_text("a\nb\n", 8), vec!["a", "b"]);
        assert!(split_text("", 8).is_empty());
        assert_eq!(split_text("\n", 8), vec![""]);
    }

    #[test]
    fn endless_lines_are_cut() {
        let mut s = LineSplitter::new(8);
        let lines = s.push(&vec![b'x'; MAX_LINE * 2 + 5]);
        assert_eq!(lines.len(), 2);
        assert!(lines.iter().all(|l| l.text.len() == MAX_LINE));
        assert_eq!(s.finish().map(|l| l.text.len()), Some(5));
    }

    #[test]
    fn colour_is_carried_into_the_next_lines_of_the_stream() {
        let mut s = LineSplitter::new(8);
        let lines = s.push(b"\x1b[31mred\nstill\n\x1b[0mplain\n\x1b[32mgr");
        assert_eq!(
            lines,
            ["\x1b[31mred", "\x1b[31mstill", "\x1b[31m\x1b[0mplain"]
        );
        assert_eq!(s.push(b"een\nnext\n"), ["\x1b[32mgreen", "\x1b[32mnext"]);
        assert_eq!(split_text("after", 8), ["after"]);
    }

    #[test]
    fn a_colour_set_on_every_line_is_carried_once() {
        // Programs that colour each line and reset only at the end must not make every line
        // carry all the sequences before it (memory would grow with the square of the lines).
        let mut s = LineSplitter::new(8);
        let input: Vec<u8> = (0..2000)
            .flat_map(|i| format!("\x1b[3{}mline {i}\n", i % 8).into_bytes())
            .collect();
        let lines = s.push(&input);
        assert!(
            lines.iter().all(|l| l.text.len() < 32),
            "longest line: {} bytes",
            lines.iter().map(|l| l.text.len()).max().unwrap_or(0)
        );
        assert_eq!(lines[1999], "\x1b[36m\x1b[37mline 1999");
        let lines = s.push(b"\x1b[1mbold\nstill\n\x1b[22;39mplain\n");
        assert_eq!(
            lines,
            [
                "\x1b[37m\x1b[1mbold",
                "\x1b[1;37mstill",
                "\x1b[1;37m\x1b[22;39mplain"
            ]
        );
        assert_eq!(s.push(b"after\n"), ["after"]);
    }

    #[test]
    fn tabs_are_plain_substitution_and_cr_is_kept() {
        assert_eq!(split_text("first\tTAB|", 8), vec!["first        TAB|"]);
        assert_eq!(split_text("a\tb", 2), vec!["a  b"]);
        assert_eq!(split_text("CR\r\n", 8), vec!["CR\r"]);
    }
}
