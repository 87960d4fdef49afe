//! The terminal side: view state (what is focused, scrolled, searched, open), rendering with
//! ratatui, key and mouse handling, and the loop that ties them to the instance.

mod keys;
mod layout;
mod render;
mod search;
mod terminal;
mod theme;
mod view;

pub use keys::{handle_key, handle_mouse, Effect};
pub use render::{apply_scroll_requests, draw};
pub use terminal::{run, ChildState, TuiExit};
pub use view::{Focus, Part, QuitDialog, ViewState};
