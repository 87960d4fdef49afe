//! ANSI escape helpers: stripping for plain text and the colour carry-over between lines.

/// Removes every escape sequence (CSI, OSC and two-byte ESC sequences) and lone CRs.
pub fn strip(line: &str) -> String {
    if !line.contains('\x1b') && !line.contains('\r') {
        return line.to_string();
    }
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\x1b' => skip_escape(&mut chars),
            '\r' => {}
            _ => out.push(c),
        }
    }
    out
}

fn skip_escape(chars: &mut std::iter::Peekable<std::str::Chars<'_>>) {
    match chars.next() {
        Some('[') => {
            for c in chars.by_ref() {
                if ('\x40'..='\x7e').contains(&c) {
                    break;
                }
            }
        }
        Some(']') => {
            while let Some(c) = chars.next() {
                if c == '\x07' {
                    break;
                }
                if c == '\x1b' {
                    chars.next();
                    break;
                }
            }
        }
        _ => {}
    }
}

/// SGR sequences (`ESC[...m`) of a line, in order.
fn sgr_sequences(line: &str) -> Vec<&str> {
    let bytes = line.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i + 1 < bytes.len() {
        if bytes[i] == 0x1b && bytes[i + 1] == b'[' {
            let start = i;
            let mut j = i + 2;
            while j < bytes.len() && !(0x40..=0x7e).contains(&bytes[j]) {
                j += 1;
            }
            if j < bytes.len() {
                if bytes[j] == b'm' {
                    out.push(&line[start..=j]);
                }
                i = j + 1;
                continue;
            }
            break;
        }
        i += 1;
    }
    out
}

/// The style carried into the next line: what the SGR sequences of `line` leave active, starting
/// from `carry_in`, as one sequence (empty when that is the default style).
pub fn carry_out(carry_in: &str, line: &str) -> String {
    if !line.contains('\x1b') {
        return carry_in.to_string();
    }
    let mut rendition = super::sgr::Rendition::default();
    for seq in sgr_sequences(carry_in)
        .into_iter()
        .chain(sgr_sequences(line))
    {
        rendition.apply(&seq[2..seq.len() - 1]);
    }
    rendition.sequence()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strip_removes_sequences_and_cr() {
        assert_eq!(strip("\x1b[31mred\x1b[0m CR\r"), "red CR");
        assert_eq!(strip("\x1b]0;title\x07x"), "x");
    }

    #[test]
    fn carry_over_follows_the_last_sequence() {
        assert_eq!(carry_out("", "\x1b[31mred"), "\x1b[31m");
        assert_eq!(carry_out("\x1b[31m", "still"), "\x1b[31m");
        assert_eq!(carry_out("\x1b[31m", "\x1b[0mplain"), "");
        assert_eq!(carry_out("\x1b[31m", "\x1b[1mbold"), "\x1b[1;31m");
        assert_eq!(
            carry_out("", "\x1b[31mx\x1b[0m y \x1b[32mgreen"),
            "\x1b[32m"
        );
    }
}
