//! How a widget maps to screen rows. Heights come from counts alone (no wrapping), so laying out
//! thousands of widgets per frame costs a few integer additions each; only visible rows are
//! ever turned into text.

use super::search::{Field, Match};
use super::theme;
use super::view::Part;
use crate::model::{ButtonStyle, Kind, StepBody, Widget, WidgetBody};
use crate::text::markup;
use ansi_to_tui::IntoText;
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

fn count_lines(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.split('\n').count()
    }
}

/// Row counts of a widget's sections.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Shape {
    pub title: usize,
    pub top: usize,
    pub body: usize,
    pub bottom: usize,
}

impl Shape {
    pub(super) fn height(&self) -> usize {
        self.title + self.top + self.body + self.bottom
    }
}

/// Log lines including the virtual "lines dropped" marker.
pub(super) fn log_total(step: &StepBody) -> usize {
    step.log.len() + usize::from(step.log.dropped() > 0)
}

/// Most rows a log takes, whatever `min_height` a client asked for, so that adding up the heights
/// of all widgets cannot overflow.
const MAX_LOG_ROWS: i64 = u32::MAX as i64;

/// Visible log rows: the line count clamped to `[min_height, max_height]` (`max_height <= 0`
/// means unlimited).
pub(super) fn log_height(step: &StepBody) -> usize {
    let n = log_total(step) as i64;
    let mut h = n.max(step.min_height.clamp(0, MAX_LOG_ROWS));
    if step.max_height > 0 {
        h = h.min(step.max_height);
    }
    h.max(0) as usize
}

/// First visible log row (row 0 is the "lines dropped" marker when there is one).
pub(super) fn log_start(step: &StepBody, height: usize) -> usize {
    let max_start = log_total(step).saturating_sub(height);
    if step.following {
        max_start
    } else {
        row_of_line(step, step.log_offset).min(max_start)
    }
}

/// The log row showing line `number` (see `StepLog::first`); a line dropped since maps to row 0.
pub(super) fn row_of_line(step: &StepBody, number: usize) -> usize {
    let marker = usize::from(step.log.dropped() > 0);
    (number + marker).saturating_sub(step.log.first())
}

/// Makes `row` the first visible log row, remembered by line number (the marker counts as the
/// line before the first kept one).
pub(super) fn set_log_start(step: &mut StepBody, row: usize) {
    let marker = usize::from(step.log.dropped() > 0);
    step.log_offset = (step.log.first() + row).saturating_sub(marker);
}

pub(super) fn question_text_rows(w: &Widget) -> usize {
    w.question().map_or(0, |q| count_lines(&q.text))
}

pub(super) fn shape(w: &Widget, maximized_height: Option<usize>) -> Shape {
    if w.kind == Kind::Divider {
        return Shape {
            title: count_lines(w.display_title()).max(1) + 2,
            top: 0,
            body: 0,
            bottom: 0,
        };
    }
    let title = count_lines(w.display_title()).max(1);
    if w.collapsed {
        return Shape {
            title,
            top: 0,
            body: 0,
            bottom: 0,
        };
    }
    let body = match &w.body {
        WidgetBody::Step(s) => maximized_height.unwrap_or_else(|| log_height(s)),
        WidgetBody::Question(_) => {
            question_text_rows(w)
                + usize::from(w.kind.has_input())
                + usize::from(w.kind.has_buttons())
        }
        WidgetBody::Divider => 0,
    };
    Shape {
        title,
        top: count_lines(&w.top_text),
        body,
        bottom: count_lines(&w.bottom_text),
    }
}

/// What a row needs to know about the view.
pub(super) struct RowCtx<'a> {
    pub width: u16,
    pub light: bool,
    pub focus: Option<&'a Part>,
    pub current_match: Option<&'a Match>,
    pub maximized_height: Option<usize>,
}

/// The `i`-th row of a widget: its text, its base style, and which part a click there reaches.
pub(super) fn row(w: &Widget, i: usize, ctx: &RowCtx<'_>) -> (Line<'static>, Style, Part) {
    let class = theme::class_style(&w.classes);
    let s = shape(w, ctx.maximized_height);
    let hl = |field: Field, line: usize| {
        ctx.current_match
            .is_some_and(|m| m.id == w.id && m.field == field && m.line == line)
    };
    if w.kind == Kind::Divider {
        let title_rows = s.title - 2;
        if i == 0 || i == s.title - 1 {
            let rule = "─".repeat(ctx.width as usize);
            return (
                Line::styled(rule, class.fg(theme::RULE)),
                class,
                Part::Title,
            );
        }
        let line = markup_line(w.display_title(), i - 1, class, hl(Field::Title, i - 1));
        let _ = title_rows;
        return (line.centered(), class, Part::Title);
    }
    if i < s.title {
        let arrow = if w.collapsed { "▶ " } else { "▼ " };
        let mut line = markup_line(
            w.display_title(),
            i,
            class.add_modifier(Modifier::BOLD),
            hl(Field::Title, i),
        );
        line.spans
            .insert(0, Span::styled(if i == 0 { arrow } else { "  " }, class));
        return (line, class, Part::Title);
    }
    let mut i = i - s.title;
    if i < s.top {
        return (
            indent(markup_line(&w.top_text, i, class, hl(Field::Top, i)), class),
            class,
            Part::Title,
        );
    }
    i -= s.top;
    if i < s.body {
        return match &w.body {
            WidgetBody::Step(step) => (log_row(w, step, i, s.body, ctx, class), class, Part::Log),
            WidgetBody::Question(_) => question_row(w, i, ctx, class),
            WidgetBody::Divider => (Line::default(), class, Part::Title),
        };
    }
    i -= s.body;
    (
        indent(
            markup_line(&w.bottom_text, i, class, hl(Field::Bottom, i)),
            class,
        ),
        class,
        Part::Title,
    )
}

fn indent(mut line: Line<'static>, class: Style) -> Line<'static> {
    line.spans.insert(0, Span::styled("  ", class));
    line
}

fn markup_line(text: &str, n: usize, base: Style, highlight: bool) -> Line<'static> {
    let raw = text.split('\n').nth(n).unwrap_or("");
    let mut line = markup::lines(raw, base)
        .into_iter()
        .next()
        .unwrap_or_default();
    if highlight {
        for span in &mut line.spans {
            span.style = span.style.add_modifier(Modifier::REVERSED);
        }
    }
    line
}

fn log_row(
    w: &Widget,
    step: &StepBody,
    i: usize,
    height: usize,
    ctx: &RowCtx<'_>,
    class: Style,
) -> Line<'static> {
    let log_style = theme::log_style(ctx.light);
    let avail = (ctx.width as usize).saturating_sub(4);
    let start = log_start(step, height);
    let index = start + i;
    let marker = usize::from(step.log.dropped() > 0);
    let mut content: Vec<Span<'static>> = if index < marker {
        vec![Span::styled(
            format!(
                "[… {} earlier lines dropped: per-step limit reached]",
                step.log.dropped()
            ),
            log_style.fg(Color::Yellow).add_modifier(Modifier::ITALIC),
        )]
    } else if let Some(text) = step.log.line(index - marker) {
        let mut spans = log_spans(text, log_style);
        if ctx.current_match.is_some_and(|m| {
            m.id == w.id && m.field == Field::Log && m.line == step.log.first() + index - marker
        }) {
            for span in &mut spans {
                span.style = span.style.add_modifier(Modifier::REVERSED);
            }
        }
        spans
    } else {
        Vec::new()
    };
    content = skip_cells(content, step.h_offset);
    let used: usize = content.iter().map(|s| s.content.width()).sum();
    if used < avail {
        content.push(Span::styled(" ".repeat(avail - used), log_style));
    }
    let mut spans = vec![Span::styled("  ", class), Span::styled(" ", log_style)];
    spans.extend(content);
    Line::from(spans)
}

/// Styled spans of one stored log line (ANSI SGR interpreted, CRs dropped).
pub(super) fn log_spans(text: &str, base: Style) -> Vec<Span<'static>> {
    let clean;
    let text = if text.contains('\r') {
        clean = text.replace('\r', "");
        clean.as_str()
    } else {
        text
    };
    if !text.contains('\x1b') {
        return vec![Span::styled(text.to_string(), base)];
    }
    match text.as_bytes().into_text() {
        Ok(t) => t
            .lines
            .into_iter()
            .flat_map(|l| {
                let line_style = l.style;
                l.spans.into_iter().map(move |s| {
                    Span::styled(
                        s.content.into_owned(),
                        inherit_reset(base, base.patch(line_style).patch(s.style)),
                    )
                })
            })
            .collect(),
        Err(_) => vec![Span::styled(crate::text::ansi::strip(text), base)],
    }
}

/// A reset (`ESC[0m`, `ESC[39m`, `ESC[49m`) means the log's own colours, not the terminal's.
fn inherit_reset(base: Style, mut style: Style) -> Style {
    if style.fg == Some(Color::Reset) {
        style.fg = base.fg;
    }
    if style.bg == Some(Color::Reset) {
        style.bg = base.bg;
    }
    style
}

fn skip_cells(spans: Vec<Span<'static>>, mut skip: usize) -> Vec<Span<'static>> {
    if skip == 0 {
        return spans;
    }
    let mut out = Vec::new();
    for span in spans {
        if skip == 0 {
            out.push(span);
            continue;
        }
        let mut kept = String::new();
        for c in span.content.chars() {
            if skip > 0 {
                skip = skip.saturating_sub(unicode_width::UnicodeWidthChar::width(c).unwrap_or(0));
            } else {
                kept.push(c);
            }
        }
        if !kept.is_empty() {
            out.push(Span::styled(kept, span.style));
        }
    }
    out
}

fn question_row(
    w: &Widget,
    i: usize,
    ctx: &RowCtx<'_>,
    class: Style,
) -> (Line<'static>, Style, Part) {
    let q = w.question().expect("question body");
    let text_rows = question_text_rows(w);
    if i < text_rows {
        let hl = ctx
            .current_match
            .is_some_and(|m| m.id == w.id && m.field == Field::Text && m.line == i);
        return (
            indent(markup_line(&q.text, i, class, hl), class),
            class,
            Part::Title,
        );
    }
    let i = i - text_rows;
    let answered = q.answer.is_some();
    if w.kind.has_input() && i == 0 {
        let focused = ctx.focus == Some(&Part::Input);
        let field = Style::default()
            .bg(Color::Rgb(0x27, 0x27, 0x27))
            .fg(Color::White);
        let shown = if q.value.is_empty() && !focused {
            Span::styled(q.placeholder.clone(), field.fg(Color::DarkGray))
        } else if q.password {
            Span::styled("•".repeat(q.value.chars().count()), field)
        } else {
            Span::styled(q.value.clone(), field)
        };
        let mut spans = vec![
            Span::styled("  ", class),
            Span::styled(if focused { "▶ " } else { "  " }, field),
            shown,
        ];
        if focused && !answered {
            spans.push(Span::styled(" ", field.add_modifier(Modifier::REVERSED)));
        }
        let used: usize = spans.iter().skip(1).map(|s| s.content.width()).sum();
        let avail = (ctx.width as usize).saturating_sub(4);
        if used < avail {
            spans.push(Span::styled(" ".repeat(avail - used), field));
        }
        let mut line = Line::from(spans);
        if answered {
            line = line.patch_style(Style::default().add_modifier(Modifier::DIM));
        }
        return (line, class, Part::Input);
    }
    let mut spans = vec![Span::styled("  ", class)];
    for (n, b) in q.buttons.iter().enumerate() {
        let bg = match b.style {
            ButtonStyle::Default => Color::Rgb(0x44, 0x44, 0x44),
            ButtonStyle::Primary => theme::PRIMARY,
            ButtonStyle::Error => theme::ERROR,
            ButtonStyle::Warning => theme::WARNING,
            ButtonStyle::Success => Color::Rgb(0x2e, 0x9d, 0x2e),
        };
        let mut style = Style::default()
            .bg(bg)
            .fg(Color::White)
            .add_modifier(Modifier::BOLD);
        if ctx.focus == Some(&Part::Button(n)) {
            style = style.add_modifier(Modifier::REVERSED);
        }
        if answered {
            style = style.add_modifier(Modifier::DIM);
        }
        spans.push(Span::styled(
            format!(" {} ", markup::plain(&b.label)),
            style,
        ));
        spans.push(Span::styled(" ", class));
    }
    (Line::from(spans), class, Part::Button(0))
}

/// Which button a column of the buttons row falls on.
pub(super) fn button_at(w: &Widget, x: u16) -> Option<usize> {
    let q = w.question()?;
    let (x, mut col) = (usize::from(x), 2);
    for (n, b) in q.buttons.iter().enumerate() {
        let width = markup::plain(&b.label).width() + 2;
        if x >= col && x < col + width {
            return Some(n);
        }
        col += width + 1;
    }
    None
}
