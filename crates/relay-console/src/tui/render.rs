//! Drawing one frame from the instance and the view state.

use super::layout::{self, RowCtx, Shape};
use super::search::Field;
use super::theme;
use super::view::{Hit, Part, QuitDialog, ViewState};
use crate::console::Console;
use crate::instance::Instance;
use crate::model::Widget;
use crate::text::markup;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};
use ratatui::Frame;

/// Widgets in display order (newest first with `step_direction=up`).
pub(super) fn display_order(console: &Console) -> Vec<&Widget> {
    let mut v: Vec<&Widget> = console.store.iter().collect();
    if console.props.step_direction_up {
        v.reverse();
    }
    v
}

/// Each displayed widget with its first row in the list and its shape.
pub(super) fn list_layout<'a>(
    console: &'a Console,
    view: &ViewState,
) -> Vec<(&'a Widget, usize, Shape)> {
    let mut y = 0;
    display_order(console)
        .into_iter()
        .filter(|w| view.maximized.as_deref().is_none_or(|m| m == w.id))
        .map(|w| {
            let s = layout::shape(w, maximized_height(w, view));
            let top = y;
            y += s.height();
            (w, top, s)
        })
        .collect()
}

pub(super) fn maximized_height(w: &Widget, view: &ViewState) -> Option<usize> {
    if view.maximized.as_deref() != Some(w.id.as_str()) {
        return None;
    }
    let s = layout::shape(w, Some(0));
    Some(view.list_height.saturating_sub(s.height()).max(1))
}

/// Moves the list so rows `[top, top + height)` are visible (as much as fits).
pub(super) fn reveal(view: &mut ViewState, top: usize, height: usize) {
    let h = view.list_height.max(1);
    if top < view.scroll_y {
        view.scroll_y = top;
    } else if top + height.min(h) > view.scroll_y + h {
        view.scroll_y = top + height.min(h) - h;
    }
}

/// Performs pending `scroll` messages and scroll-on-activity, unless scrolling is locked.
pub fn apply_scroll_requests(instance: &mut Instance, view: &mut ViewState) {
    let requests = std::mem::take(&mut instance.console.scroll_requests);
    if view.locked || requests.is_empty() {
        return;
    }
    let layout = list_layout(&instance.console, view);
    for r in requests {
        if let Some((_, top, s)) = layout.iter().find(|(w, _, _)| w.id == r.id) {
            let h = s.height();
            match r.line {
                None => reveal(view, *top, h),
                Some(n) => {
                    let row = if n >= 0 {
                        (n as usize).min(h.saturating_sub(1))
                    } else {
                        h.saturating_sub(n.unsigned_abs() as usize)
                    };
                    reveal(view, top + row, 1);
                }
            }
        }
    }
}

pub fn draw(frame: &mut Frame, instance: &Instance, view: &mut ViewState) {
    let console = &instance.console;
    // A maximized step that was deleted (or replaced by another kind) leaves nothing to show.
    if view
        .maximized
        .as_deref()
        .is_some_and(|id| console.store.get(id).and_then(Widget::step).is_none())
    {
        view.maximized = None;
    }
    let area = frame.area();
    frame
        .buffer_mut()
        .set_style(area, theme::screen_style(view.light));
    let console_rows = if view.show_console && view.maximized.is_none() {
        11
    } else {
        0
    };
    let [header, list, search, progress, panel, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(u16::from(view.search.open)),
        Constraint::Length(u16::from(console.props.progress_bar)),
        Constraint::Length(console_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(
        frame,
        header,
        console,
        view.search
            .current
            .as_ref()
            .is_some_and(|m| m.field == Field::Header),
    );
    draw_list(frame, list, console, view);
    if view.search.open {
        draw_search(frame, search, view);
    }
    if console.props.progress_bar {
        draw_progress(frame, progress, console, view);
    }
    if console_rows > 0 {
        draw_console(frame, panel, instance);
    }
    draw_footer(frame, footer, console, view);
    draw_notification(frame, list, view);
    if view.show_help {
        draw_help(frame, area);
    }
    if let Some(choice) = view.quit_dialog {
        draw_quit(frame, area, choice, view.quit_presses, view);
    }
}

fn draw_header(frame: &mut Frame, area: Rect, console: &Console, matched: bool) {
    let mut title = markup::lines(&console.props.title, theme::bar_style())
        .into_iter()
        .next()
        .unwrap_or_default();
    if matched {
        for span in &mut title.spans {
            span.style = span.style.add_modifier(Modifier::REVERSED);
        }
    }
    frame.render_widget(
        Paragraph::new(title.centered()).style(theme::bar_style()),
        area,
    );
}

fn draw_list(frame: &mut Frame, area: Rect, console: &Console, view: &mut ViewState) {
    view.list_height = area.height as usize;
    let layout = list_layout(console, view);
    let total: usize = layout.last().map_or(0, |(_, top, s)| top + s.height());
    let h = area.height as usize;
    view.scroll_y = view.scroll_y.min(total.saturating_sub(h));
    let scrollbar = total > h && area.width > 0;
    let width = area.width.saturating_sub(u16::from(scrollbar));
    view.width = width;
    let offset = if console.props.step_position_bottom && total < h {
        h - total
    } else {
        0
    };
    view.hits.clear();
    let current_match = view.search.current.clone();
    for (w, top, s) in &layout {
        let height = s.height();
        if top + height <= view.scroll_y || *top >= view.scroll_y + h {
            continue;
        }
        let focus_part = view
            .focus
            .as_ref()
            .filter(|f| f.id == w.id)
            .map(|f| &f.part);
        let ctx = RowCtx {
            width,
            light: view.light,
            focus: focus_part,
            current_match: current_match.as_ref(),
            maximized_height: maximized_height(w, view),
        };
        let first = view.scroll_y.saturating_sub(*top);
        let last = (view.scroll_y + h - top).min(height);
        for i in first..last {
            let y = area.y + (offset + top + i - view.scroll_y) as u16;
            let rect = Rect {
                x: area.x,
                y,
                width,
                height: 1,
            };
            let (line, base, part) = layout::row(w, i, &ctx);
            frame.buffer_mut().set_style(rect, base);
            frame.render_widget(Paragraph::new(line), rect);
            let focused_here = focus_part.is_some_and(|p| {
                *p == part || (matches!(p, Part::Button(_)) && matches!(part, Part::Button(_)))
            });
            if focus_part.is_some()
                && (focused_here || *focus_part.unwrap() == Part::Title && part != Part::Log)
            {
                frame.buffer_mut().set_string(
                    rect.x,
                    y,
                    "▌",
                    Style::default()
                        .fg(theme::FOCUS)
                        .bg(base.bg.unwrap_or(Color::Reset)),
                );
            }
            view.hits.push(Hit {
                y,
                id: w.id.clone(),
                part,
            });
        }
    }
    if scrollbar {
        let bar_x = area.x + area.width - 1;
        let thumb_len = ((h * h) / total).max(1);
        let thumb_top = (view.scroll_y * h) / total;
        let colour = if view.locked {
            theme::LOCKED
        } else {
            theme::PRIMARY
        };
        for r in 0..h {
            let on = r >= thumb_top && r < thumb_top + thumb_len;
            let style = if on {
                Style::default().fg(colour)
            } else {
                Style::default().fg(Color::DarkGray)
            };
            frame.buffer_mut().set_string(
                bar_x,
                area.y + r as u16,
                if on { "┃" } else { "│" },
                style,
            );
        }
    }
}

fn draw_search(frame: &mut Frame, area: Rect, view: &ViewState) {
    if area.is_empty() {
        return;
    }
    let s = &view.search;
    let valid = s.input.is_empty() || s.compile().is_ok();
    let style = if valid {
        Style::default()
            .bg(Color::Rgb(0x27, 0x27, 0x27))
            .fg(Color::White)
    } else {
        Style::default().bg(theme::ERROR).fg(Color::White)
    };
    let prompt = if s.backward { "?" } else { "/" };
    let line = Line::from(vec![
        Span::styled(format!(" {prompt} "), style.add_modifier(Modifier::BOLD)),
        Span::styled(s.input.clone(), style),
        Span::styled(" ", style.add_modifier(Modifier::REVERSED)),
    ]);
    frame.render_widget(Paragraph::new(line).style(style), area);
    let label = format!(" {} ", s.label());
    let x = area.x + area.width.saturating_sub(label.len() as u16);
    frame
        .buffer_mut()
        .set_string(x, area.y, label, style.add_modifier(Modifier::BOLD));
}

fn draw_progress(frame: &mut Frame, area: Rect, console: &Console, view: &ViewState) {
    let p = &console.props;
    let bar_w = area.width.saturating_sub(6) as usize;
    let (filled, label) = if p.progress_target <= 0.0 {
        (None, " --%".to_string())
    } else {
        let ratio = (p.progress / p.progress_target).clamp(0.0, 1.0);
        (
            Some((ratio * bar_w as f64).round() as usize),
            format!("{:>4}", format!("{}%", (ratio * 100.0).floor() as i64)),
        )
    };
    let mut spans = Vec::new();
    match filled {
        Some(n) => {
            spans.push(Span::styled(
                "━".repeat(n),
                Style::default().fg(theme::PROGRESS),
            ));
            spans.push(Span::styled(
                "━".repeat(bar_w - n),
                Style::default().fg(Color::DarkGray),
            ));
        }
        None => {
            // Indeterminate: a block sliding back and forth.
            let seg = (bar_w / 5).max(1).min(bar_w);
            let period = (bar_w.saturating_sub(seg)).max(1) * 2;
            let t = (view.started.elapsed().as_millis() / 40) as usize % period;
            let pos = if t < period / 2 { t } else { period - t };
            let pos = pos.min(bar_w.saturating_sub(seg));
            spans.push(Span::styled(
                "━".repeat(pos),
                Style::default().fg(Color::DarkGray),
            ));
            spans.push(Span::styled(
                "━".repeat(seg),
                Style::default().fg(theme::PROGRESS),
            ));
            spans.push(Span::styled(
                "━".repeat(bar_w - pos - seg),
                Style::default().fg(Color::DarkGray),
            ));
        }
    }
    spans.push(Span::raw(format!(" {label}")));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

fn draw_console(frame: &mut Frame, area: Rect, instance: &Instance) {
    let block = Block::default()
        .borders(Borders::TOP)
        .title(" Moulti console ")
        .border_style(Style::default().fg(theme::PRIMARY));
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let n = inner.height as usize;
    let lines: Vec<Line> = instance
        .log
        .iter()
        .skip(instance.log.len().saturating_sub(n))
        .map(|l| Line::raw(l.clone()))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

/// Footer key hints, depending on what has focus.
pub(super) fn footer_hints(
    console: &Console,
    view: &ViewState,
) -> Vec<(&'static str, &'static str)> {
    let mut hints = Vec::new();
    if let Some(f) = &view.focus {
        match console.store.get(&f.id) {
            Some(w) if w.step().is_some() => {
                hints.push(("c", "Copy"));
                hints.push(("w", "With colors"));
                if f.part == Part::Log || view.maximized.is_some() {
                    hints.push((
                        "f",
                        if view.maximized.is_some() {
                            "Restore"
                        } else {
                            "Maximize"
                        },
                    ));
                }
            }
            Some(w) if w.kind.is_question() => {
                hints.push(("c", "Copy"));
                hints.push(("w", "With question"));
            }
            Some(_) => hints.push(("c", "Copy")),
            None => {}
        }
    }
    hints.push((
        "l",
        if view.locked {
            "Unlock scroll"
        } else {
            "Lock scroll"
        },
    ));
    hints.extend([
        ("s", "Save"),
        ("z", "Console"),
        ("x", "Expand all"),
        ("o", "Collapse all"),
    ]);
    hints.push(("d", if view.light { "Dark" } else { "Light" }));
    hints.extend([("h", "Help"), ("q", "Quit")]);
    hints
}

fn draw_footer(frame: &mut Frame, area: Rect, console: &Console, view: &ViewState) {
    let key = Style::default()
        .bg(theme::PRIMARY)
        .fg(Color::Rgb(0xff, 0xd7, 0x00))
        .add_modifier(Modifier::BOLD);
    let desc = theme::bar_style();
    let mut spans = Vec::new();
    for (k, d) in footer_hints(console, view) {
        spans.push(Span::styled(format!(" {k} "), key));
        spans.push(Span::styled(format!(" {d} "), desc));
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(desc), area);
}

fn draw_notification(frame: &mut Frame, area: Rect, view: &ViewState) {
    let Some((text, error, at)) = &view.notification else {
        return;
    };
    if at.elapsed().as_secs() >= 4 || area.height < 3 {
        return;
    }
    let lines: Vec<&str> = text.lines().collect();
    let width = lines.iter().map(|l| l.chars().count()).max().unwrap_or(0) as u16 + 4;
    let width = width.min(area.width);
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = Rect {
        x: area.x + area.width - width,
        y: area.y + area.height - height,
        width,
        height,
    };
    let colour = if *error { theme::ERROR } else { theme::SUCCESS };
    frame.render_widget(Clear, rect);
    let block = Block::default()
        .borders(Borders::LEFT)
        .border_style(Style::default().fg(colour));
    let body: Vec<Line> = lines.iter().map(|l| Line::raw(format!(" {l}"))).collect();
    frame.render_widget(
        Paragraph::new(body).block(block).style(
            Style::default()
                .bg(Color::Rgb(0x27, 0x27, 0x27))
                .fg(Color::White),
        ),
        rect,
    );
}

const HELP: &[(&str, &str)] = &[
    ("tab / shift+tab", "next / previous item"),
    ("enter", "expand/collapse, submit, press"),
    (
        "up down pgup pgdn home end",
        "scroll the list or the focused log",
    ),
    ("left right ctrl+pgup ctrl+pgdn", "scroll horizontally"),
    ("x / o", "expand / collapse all"),
    ("X / O", "expand / collapse new steps"),
    ("ctrl+x / ctrl+o", "both of the above"),
    ("ctrl+y / ctrl+t", "next / previous unanswered question"),
    (
        "/ ?  n N",
        "search forward / backward, next / previous match",
    ),
    ("c / w", "copy / copy with colours or question"),
    ("f", "maximize the focused log"),
    ("l", "lock / unlock programmatic scrolling"),
    ("s", "save (with plain and ANSI exports)"),
    ("z", "show / hide the console"),
    ("d", "dark / light mode"),
    ("q / ctrl+q", "quit"),
];

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width);
    let h = height.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn draw_help(frame: &mut Frame, area: Rect) {
    let rect = centered(area, 72, HELP.len() as u16 + 4);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(" Help: key bindings (press any key to close) ")
        .border_style(Style::default().fg(theme::PRIMARY));
    let lines: Vec<Line> = HELP
        .iter()
        .map(|(k, d)| {
            Line::from(vec![
                Span::styled(
                    format!(" {k:<32}"),
                    Style::default().add_modifier(Modifier::BOLD),
                ),
                Span::raw(*d),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).block(block), rect);
}

fn draw_quit(frame: &mut Frame, area: Rect, choice: QuitDialog, presses: u8, view: &ViewState) {
    let child = view.quit_child_running;
    let mut lines = vec![Line::raw(" Are you sure you want to quit Moulti?")];
    if child {
        lines.push(Line::raw(
            " The command passed to \"moulti run\" is still running.",
        ));
    }
    lines.push(Line::raw(""));
    let button = |label: &str, on: bool| {
        let style = if on {
            Style::default()
                .bg(theme::PRIMARY)
                .fg(Color::White)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::default()
                .bg(Color::Rgb(0x44, 0x44, 0x44))
                .fg(Color::White)
        };
        Line::from(Span::styled(format!(" {label} "), style))
    };
    lines.push(button("Stay (escape)", choice == QuitDialog::Stay));
    if child {
        lines.push(button(
            "Quit and leave the process running (l)",
            choice == QuitDialog::Leave,
        ));
        lines.push(button(
            "Terminate the process and quit (t)",
            choice == QuitDialog::Terminate,
        ));
    } else {
        lines.push(button("Quit (q)", choice == QuitDialog::Quit));
    }
    if presses >= 2 {
        let hint = if child && choice == QuitDialog::Terminate {
            " Hitting Ctrl+q again will terminate the process and quit."
        } else {
            " Hitting Ctrl+q again will quit."
        };
        lines.push(Line::styled(hint, Style::default().fg(theme::WARNING)));
    }
    let rect = centered(area, 64, lines.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .title(" Quit ")
                .border_style(Style::default().fg(theme::WARNING)),
        ),
        rect,
    );
}
