//! The subset of Rich console markup that titles, top/bottom texts, question texts and button
//! labels use: `[style]...[/style]`, `[/]`, `\[` escapes. Validation reports the same messages
//! as the reference so clients see identical errors.

use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use regex::Regex;
use std::sync::LazyLock;

static TAG: LazyLock<Regex> =
    LazyLock::new(|| Regex::new(r"((\\*)\[([a-z#/@][^\[]*?)\])").expect("static regex"));

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct MarkupError(pub String);

/// Parsed markup: text pieces with the style stack active at each.
#[derive(Debug, Clone, PartialEq)]
pub struct Styled {
    pub pieces: Vec<(String, Style)>,
}

impl Styled {
    pub fn plain(&self) -> String {
        self.pieces.iter().map(|(t, _)| t.as_str()).collect()
    }

    /// Splits into ratatui lines at LF.
    pub fn lines(&self, base: Style) -> Vec<Line<'static>> {
        let mut lines = vec![Vec::new()];
        for (text, style) in &self.pieces {
            for (i, part) in text.split('\n').enumerate() {
                if i > 0 {
                    lines.push(Vec::new());
                }
                if !part.is_empty() {
                    lines
                        .last_mut()
                        .expect("non-empty")
                        .push(Span::styled(part.to_string(), base.patch(*style)));
                }
            }
        }
        lines.into_iter().map(Line::from).collect()
    }
}

/// Parses markup; errors on closing tags that close nothing.
pub fn parse(markup: &str) -> Result<Styled, MarkupError> {
    let mut pieces: Vec<(String, Style)> = Vec::new();
    let mut stack: Vec<(String, Style)> = Vec::new();
    let mut pos = 0;
    let current = |stack: &Vec<(String, Style)>| {
        stack
            .iter()
            .fold(Style::default(), |acc, (_, s)| acc.patch(*s))
    };
    let push_text = |pieces: &mut Vec<(String, Style)>, text: &str, style: Style| {
        if !text.is_empty() {
            pieces.push((text.to_string(), style));
        }
    };
    for caps in TAG.captures_iter(markup) {
        let whole = caps.get(0).expect("match");
        let backslashes = caps.get(2).map_or("", |m| m.as_str());
        let tag = caps.get(3).map_or("", |m| m.as_str());
        let style = current(&stack);
        push_text(&mut pieces, &markup[pos..whole.start()], style);
        pos = whole.end();
        let escaped = backslashes.len() % 2 == 1;
        let kept = "\\".repeat(backslashes.len() / 2);
        push_text(&mut pieces, &kept, style);
        if escaped {
            push_text(&mut pieces, &format!("[{tag}]"), style);
            continue;
        }
        // Python counts characters, not bytes.
        let position = markup[..whole.start()].chars().count() + backslashes.len();
        if let Some(name) = tag.strip_prefix('/') {
            let name = name.trim();
            if name.is_empty() {
                if stack.pop().is_none() {
                    return Err(MarkupError(format!(
                        "closing tag '[/]' at position {position} has nothing to close"
                    )));
                }
            } else {
                match stack.iter().rposition(|(n, _)| n == tag_name(name)) {
                    Some(i) => {
                        stack.remove(i);
                    }
                    None => {
                        return Err(MarkupError(format!(
                        "closing tag '[/{name}]' at position {position} doesn't match any open tag"
                    )))
                    }
                }
            }
        } else {
            stack.push((tag_name(tag).to_string(), parse_style(tag)));
        }
    }
    let style = current(&stack);
    push_text(&mut pieces, &markup[pos..], style);
    Ok(Styled { pieces })
}

/// A tag's name, as Rich matches closing tags: what precedes `=` (`[link=URL]` is closed by `[/link]`).
fn tag_name(tag: &str) -> &str {
    tag.split('=').next().unwrap_or_default().trim()
}

/// Validates markup without keeping the result.
pub fn validate(markup: &str) -> Result<(), MarkupError> {
    parse(markup).map(|_| ())
}

/// Plain text of markup; invalid markup is shown verbatim.
pub fn plain(markup: &str) -> String {
    parse(markup).map_or_else(|_| markup.to_string(), |s| s.plain())
}

/// Styled lines of markup; invalid markup is shown verbatim.
pub fn lines(markup: &str, base: Style) -> Vec<Line<'static>> {
    match parse(markup) {
        Ok(s) => s.lines(base),
        Err(_) => markup
            .split('\n')
            .map(|l| Line::styled(l.to_string(), base))
            .collect(),
    }
}

fn parse_style(tag: &str) -> Style {
    let mut style = Style::default();
    let mut words = tag.split_whitespace().peekable();
    let mut negate = false;
    while let Some(word) = words.next() {
        let word = word.to_ascii_lowercase();
        if word.contains('=') || word.starts_with('@') {
            continue;
        }
        let modifier = match word.as_str() {
            "bold" | "b" => Some(Modifier::BOLD),
            "dim" | "d" => Some(Modifier::DIM),
            "italic" | "i" => Some(Modifier::ITALIC),
            "underline" | "u" | "underline2" | "uu" => Some(Modifier::UNDERLINED),
            "reverse" | "r" => Some(Modifier::REVERSED),
            "strike" | "s" => Some(Modifier::CROSSED_OUT),
            "blink" | "blink2" => Some(Modifier::SLOW_BLINK),
            "conceal" | "c" => Some(Modifier::HIDDEN),
            _ => None,
        };
        if let Some(m) = modifier {
            style = if negate {
                style.remove_modifier(m)
            } else {
                style.add_modifier(m)
            };
            negate = false;
            continue;
        }
        match word.as_str() {
            "not" => negate = true,
            "on" => {
                if let Some(c) = words
                    .next()
                    .and_then(|w| parse_color(&w.to_ascii_lowercase()))
                {
                    style = style.bg(c);
                }
            }
            other => {
                if let Some(c) = parse_color(other) {
                    style = style.fg(c);
                }
            }
        }
    }
    style
}

/// Colour names and notations accepted by Rich (the common subset).
pub fn parse_color(word: &str) -> Option<Color> {
    if let Some(hex) = word.strip_prefix('#') {
        if hex.len() == 6 {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return None;
    }
    if let Some(inner) = word
        .strip_prefix("color(")
        .and_then(|w| w.strip_suffix(')'))
    {
        return inner.parse().ok().map(Color::Indexed);
    }
    if let Some(inner) = word.strip_prefix("rgb(").and_then(|w| w.strip_suffix(')')) {
        let parts: Vec<u8> = inner
            .split(',')
            .filter_map(|p| p.trim().parse().ok())
            .collect();
        return (parts.len() == 3).then(|| Color::Rgb(parts[0], parts[1], parts[2]));
    }
    Some(match word {
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "white" => Color::Gray,
        "bright_black" | "grey" | "gray" => Color::DarkGray,
        "bright_red" => Color::LightRed,
        "bright_green" => Color::LightGreen,
        "bright_yellow" => Color::LightYellow,
        "bright_blue" => Color::LightBlue,
        "bright_magenta" => Color::LightMagenta,
        "bright_cyan" => Color::LightCyan,
        "bright_white" => Color::White,
        "default" => Color::Reset,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_error_messages() {
        assert_eq!(
            validate("[/]").unwrap_err().0,
            "closing tag '[/]' at position 0 has nothing to close"
        );
        assert_eq!(
            validate("[/x]").unwrap_err().0,
            "closing tag '[/x]' at position 0 doesn't match any open tag"
        );
        assert_eq!(
            validate("ab[/]").unwrap_err().0,
            "closing tag '[/]' at position 2 has nothing to close"
        );
    }

    #[test]
    fn tags_with_parameters_are_closed_by_their_name() {
        // Rich names a tag by what precedes `=`: `[link=URL]…[/link]` is valid.
        assert!(validate("see [link=https://example.com]the site[/link]").is_ok());
        assert!(validate("[@click=app.bell]ring[/@click]").is_ok());
        assert_eq!(
            parse("[link=https://example.com]x[/link] y")
                .unwrap()
                .plain(),
            "x y"
        );
    }

    #[test]
    fn error_positions_count_characters_like_python() {
        assert_eq!(
            validate("é[/]").unwrap_err().0,
            "closing tag '[/]' at position 1 has nothing to close"
        );
        assert_eq!(
            validate("日本 \\\\[/x]").unwrap_err().0,
            "closing tag '[/x]' at position 5 doesn't match any open tag"
        );
    }

    #[test]
    fn styles_and_escapes() {
        let s = parse("a [bold red]b[/] \\[c] [1]").unwrap();
        assert_eq!(s.plain(), "a b [c] [1]");
        assert_eq!(
            s.pieces[1].1,
            Style::default().add_modifier(Modifier::BOLD).fg(Color::Red)
        );
        assert!(validate("[b]x[/b] [i]y").is_ok());
    }
}
