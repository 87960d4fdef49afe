//! The terminal loop: raw mode and alternate screen, input events, instance events, and
//! redraws at most every 25 ms so floods of output never starve the keyboard.

use super::keys::{handle_key, handle_mouse, Effect};
use super::render::{apply_scroll_requests, draw};
use super::view::ViewState;
use crate::instance::{next_event, Instance, Queues};
use crate::ConsoleError;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event as TermEvent, EventStream};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use futures_util::StreamExt;
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use std::io::Write;
use std::time::{Duration, Instant};
use tokio::sync::watch;

/// How the user left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TuiExit {
    Quit,
    /// Quit and send SIGTERM to `relay run`'s child.
    QuitTerminate,
}

/// Whether `relay run`'s child is still alive (`None` for `relay init`).
pub type ChildState = Option<watch::Receiver<bool>>;

const FRAME: Duration = Duration::from_millis(25);
/// Longest stretch spent applying queued events before looking at input and redrawing again.
const EVENT_BUDGET: Duration = Duration::from_millis(15);

fn restore_terminal() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Runs the TUI until the user quits.
pub async fn run(
    mut instance: Instance,
    mut queues: Queues,
    mut view: ViewState,
    child: ChildState,
) -> Result<TuiExit, ConsoleError> {
    enable_raw_mode().map_err(ConsoleError::Terminal)?;
    execute!(std::io::stdout(), EnterAlternateScreen, EnableMouseCapture)
        .map_err(ConsoleError::Terminal)?;
    let previous_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore_terminal();
        previous_hook(info);
    }));
    let result = event_loop(&mut instance, &mut queues, &mut view, child).await;
    restore_terminal();
    result
}

async fn event_loop(
    instance: &mut Instance,
    queues: &mut Queues,
    view: &mut ViewState,
    child: ChildState,
) -> Result<TuiExit, ConsoleError> {
    let mut terminal =
        Terminal::new(CrosstermBackend::new(std::io::stdout())).map_err(ConsoleError::Terminal)?;
    let mut input = EventStream::new();
    let mut tick = tokio::time::interval(FRAME);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut drawn_generation = u64::MAX;
    let mut dirty = true;
    let mut input_open = true;
    let child_running = |c: &ChildState| c.as_ref().is_some_and(|rx| *rx.borrow());
    loop {
        tokio::select! {
            // Order matters: input, then the frame tick, then events; a flood of events
            // must never starve the keyboard or the redraw.
            biased;
            ev = input.next(), if input_open => {
                // A closed or failing terminal input would otherwise be polled in a busy loop.
                let Some(Ok(ev)) = ev else {
                    input_open = false;
                    continue;
                };
                dirty = true;
                match ev {
                    TermEvent::Key(key) => match handle_key(instance, view, key, child_running(&child)) {
                        Effect::Nothing => {}
                        Effect::Quit { terminate_child } => {
                            return Ok(if terminate_child { TuiExit::QuitTerminate } else { TuiExit::Quit });
                        }
                        Effect::Save => {
                            match crate::save::save(instance, &view.instance_name) {
                                Ok(report) => view.notify(report, false),
                                Err(e) => view.notify(format!("Save failed!\n{}", relay_wire::error_chain::ErrorChain(&e)), true),
                            }
                        }
                        Effect::Copy(text) => copy_osc52(&text),
                    },
                    TermEvent::Mouse(m) => handle_mouse(instance, view, m),
                    _ => {}
                }
            }
            _ = tick.tick() => {
                let animating = instance.console.props.progress_bar && instance.console.props.progress_target <= 0.0;
                let notifying = view.notification.as_ref().is_some_and(|(_, _, at)| at.elapsed() < Duration::from_secs(5));
                if dirty || animating || notifying || drawn_generation != instance.console.generation {
                    apply_scroll_requests(instance, view);
                    terminal.draw(|f| draw(f, instance, view)).map_err(ConsoleError::Terminal)?;
                    drawn_generation = instance.console.generation;
                    dirty = false;
                }
            }
            Some(event) = next_event(queues) => {
                instance.apply(event);
                let started = Instant::now();
                while started.elapsed() < EVENT_BUDGET {
                    let next = queues.control.try_recv().or_else(|_| queues.data.try_recv());
                    match next {
                        Ok(e) => instance.apply(e),
                        Err(_) => break,
                    }
                }
            }
        }
    }
}

/// Copies through the terminal (OSC 52), which works over SSH and inside tmux.
fn copy_osc52(text: &str) {
    use base64::Engine;
    let encoded = base64::engine::general_purpose::STANDARD.encode(text.as_bytes());
    let mut out = std::io::stdout();
    let _ = write!(out, "\x1b]52;c;{encoded}\x07");
    let _ = out.flush();
}
