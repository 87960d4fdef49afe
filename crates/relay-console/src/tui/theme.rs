//! Colours of the reference's default theme.

use ratatui::style::{Color, Style};

pub(super) const PRIMARY: Color = Color::Rgb(0x01, 0x78, 0xd4);
pub(super) const SECONDARY: Color = Color::Rgb(0x00, 0x45, 0x78);
pub(super) const SUCCESS: Color = Color::Rgb(0x00, 0xff, 0x00);
pub(super) const WARNING: Color = Color::Rgb(0xff, 0xa5, 0x00);
pub(super) const ERROR: Color = Color::Rgb(0xff, 0x63, 0x47);
pub(super) const INACTIVE: Color = Color::Rgb(0xbe, 0xbe, 0xbe);
pub(super) const PROGRESS: Color = Color::Rgb(0xff, 0xa6, 0x2b);
pub(super) const FOCUS: Color = Color::Rgb(0x4f, 0xa3, 0xe0);
pub(super) const LOCKED: Color = Color::Rgb(0x18, 0xb2, 0x18);
pub(super) const RULE: Color = Color::Yellow;

/// Background and text colour of a widget, from its classes (the last known class wins, as
/// later CSS rules would).
pub(super) fn class_style(classes: &str) -> Style {
    let mut bg = SECONDARY;
    for class in classes.split_whitespace() {
        match class {
            "success" => bg = SUCCESS,
            "warning" => bg = WARNING,
            "error" => bg = ERROR,
            "inactive" => bg = INACTIVE,
            "standard" => bg = SECONDARY,
            _ => {}
        }
    }
    let fg = if bg == SECONDARY {
        Color::Rgb(0xe0, 0xe0, 0xe0)
    } else {
        Color::Black
    };
    Style::default().bg(bg).fg(fg)
}

/// The log area's colours (`MOULTI_ANSI` verbatim defaults).
pub(super) fn log_style(light: bool) -> Style {
    if light {
        Style::default()
            .bg(Color::Rgb(0xf7, 0xf7, 0xf7))
            .fg(Color::Black)
    } else {
        Style::default()
            .bg(Color::Rgb(0x0c, 0x0c, 0x0c))
            .fg(Color::Rgb(0xd9, 0xd9, 0xd9))
    }
}

pub(super) fn screen_style(light: bool) -> Style {
    if light {
        Style::default()
            .bg(Color::Rgb(0xef, 0xef, 0xef))
            .fg(Color::Black)
    } else {
        Style::default()
            .bg(Color::Rgb(0x1e, 0x1e, 0x1e))
            .fg(Color::Rgb(0xe0, 0xe0, 0xe0))
    }
}

pub(super) fn bar_style() -> Style {
    Style::default().bg(PRIMARY).fg(Color::White)
}
