//! View state: everything about the screen that is not the console's content.

use super::search::Search;
use std::time::Instant;

/// The focusable part of a widget.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Part {
    Title,
    Log,
    Input,
    Button(usize),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Focus {
    pub id: String,
    pub part: Part,
}

/// The quit confirmation: which button is highlighted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum QuitDialog {
    Stay,
    Quit,
    Leave,
    Terminate,
}

/// Where a screen row of the list came from, for mouse clicks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub y: u16,
    pub id: String,
    pub part: Part,
}

#[derive(Debug)]
pub struct ViewState {
    pub focus: Option<Focus>,
    /// First visible row of the widget list.
    pub scroll_y: usize,
    /// Rows of the list viewport at the last draw.
    pub list_height: usize,
    /// `l`: ignore programmatic scrolling.
    pub locked: bool,
    pub light: bool,
    pub show_console: bool,
    pub show_help: bool,
    pub quit_dialog: Option<QuitDialog>,
    /// Times quit was pressed while the dialog is open (escalation).
    pub quit_presses: u8,
    /// `f`: the step whose log fills the screen.
    pub maximized: Option<String>,
    pub search: Search,
    pub notification: Option<(String, bool, Instant)>,
    pub hits: Vec<Hit>,
    pub started: Instant,
    /// Width of the list at the last draw (log heights do not depend on it, wrapping is off).
    pub width: u16,
    pub instance_name: String,
    /// Whether the quit dialog must offer to leave or terminate a running child.
    pub quit_child_running: bool,
}

impl ViewState {
    pub fn new(instance_name: String, light: bool) -> Self {
        ViewState {
            focus: None,
            scroll_y: 0,
            list_height: 0,
            locked: false,
            light,
            show_console: false,
            show_help: false,
            quit_dialog: None,
            quit_presses: 0,
            maximized: None,
            search: Search::default(),
            notification: None,
            hits: Vec::new(),
            started: Instant::now(),
            width: 80,
            instance_name,
            quit_child_running: false,
        }
    }

    pub fn notify(&mut self, text: impl Into<String>, error: bool) {
        self.notification = Some((text.into(), error, Instant::now()));
    }

    pub fn focused_id(&self) -> Option<&str> {
        self.focus.as_ref().map(|f| f.id.as_str())
    }
}
