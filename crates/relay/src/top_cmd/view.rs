//! Draws one frame of `relay top` from a snapshot and its rates; no state of its own.

use ratatui::layout::{Constraint, Layout};
use ratatui::style::{Color, Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Row, Table};
use ratatui::Frame;

use super::snapshot::{Rates, Snapshot};

/// The console's title colour, so both terminal views look alike.
const PRIMARY: Color = Color::Rgb(0x01, 0x78, 0xd4);

/// One frame as plain text, 100 columns wide, for `--once`.
pub(crate) fn text(url: &str, s: &Snapshot, r: &Rates) -> String {
    let height = 12 + s.queues.len().max(1) as u16 + s.stores.len() as u16;
    let mut terminal = ratatui::Terminal::new(ratatui::backend::TestBackend::new(100, height))
        .expect("an in-memory terminal");
    let _ = terminal.draw(|f| draw(f, url, s, r, false, None));
    let buf = terminal.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        let line: String = (0..buf.area.width).map(|x| buf[(x, y)].symbol()).collect();
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

/// Draws the view; `live` adds the key help, `error` replaces it with why the last reading
/// failed.
pub(crate) fn draw(
    f: &mut Frame,
    url: &str,
    s: &Snapshot,
    r: &Rates,
    live: bool,
    error: Option<&str>,
) {
    let [head, queues, channels, stores, foot] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(5),
        Constraint::Length(3),
        Constraint::Length(2 + s.stores.len().max(1) as u16 + 1),
        Constraint::Length(1),
    ])
    .areas(f.area());
    let title = Style::default()
        .fg(Color::White)
        .bg(PRIMARY)
        .add_modifier(Modifier::BOLD);
    f.render_widget(
        Paragraph::new(format!(" relay top — {url}")).style(title),
        head,
    );

    let rate = |op: &str| r.ops.get(op).copied().unwrap_or(0.0);
    let queue_title = format!(
        " Queues  push {:.0}/s  pull {:.0}/s  ack {:.0}/s ",
        rate("push"),
        rate("pull"),
        rate("ack")
    );
    let bold = Style::default().add_modifier(Modifier::BOLD);
    let rows = s.queues.iter().map(|(dest, c)| {
        Row::new(vec![
            dest.clone(),
            format!("{:.0}", c.pending),
            format!("{:.0}", c.processing),
            format!("{:.0}", c.processed),
        ])
    });
    let table = Table::new(
        rows,
        [
            Constraint::Min(16),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(12),
        ],
    )
    .header(Row::new(vec!["destination", "pending", "processing", "processed"]).style(bold))
    .block(Block::default().borders(Borders::ALL).title(queue_title));
    f.render_widget(table, queues);

    let ch = Paragraph::new(format!(
        "connections {:.0}   deliveries {:.0}/s   slow-consumer disconnects {:.0} ({:.1}/s)",
        s.connections, r.deliveries, s.disconnects, r.disconnects
    ))
    .block(Block::default().borders(Borders::ALL).title(" Channels "));
    f.render_widget(ch, channels);

    let store_rows = r.stores.iter().map(|(name, (per_sec, batch, fsync))| {
        Row::new(vec![
            name.clone(),
            format!("{per_sec:.1}"),
            format!("{batch:.1}"),
            format!("{:.2}", fsync * 1000.0),
        ])
    });
    let store_table = Table::new(
        store_rows,
        [
            Constraint::Min(16),
            Constraint::Length(12),
            Constraint::Length(12),
            Constraint::Length(14),
        ],
    )
    .header(Row::new(vec!["store", "commits/s", "batch", "fsync ms"]).style(bold))
    .block(Block::default().borders(Borders::ALL).title(" Store "));
    f.render_widget(store_table, stores);

    let foot_line = match error {
        Some(e) => Line::from(Span::styled(
            format!(" {e}"),
            Style::default().fg(Color::Rgb(0xff, 0x63, 0x47)),
        )),
        None if live => Line::from(" q quit"),
        None => Line::default(),
    };
    f.render_widget(Paragraph::new(foot_line), foot);
}
