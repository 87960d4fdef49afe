//! Relay's step console (Moulti-compatible): a terminal UI showing script output in collapsible
//! steps, driven by clients over a Unix socket.
//!
//! Layers, from the inside out:
//! - `text`, `model`, `console`: the widget model and how each JSON message changes it. Pure, no
//!   I/O, no terminal; unit-tested directly.
//! - `server`: the Unix socket (naming, peer credentials, TLV framing, descriptor passing, `pass`
//!   readers). It turns connections into [`server::Event`]s and writes replies.
//! - `instance`: the single owner of the [`console::Console`]; applies events in order, parks
//!   question waiters and sends replies after each change is applied.
//! - `tui`: view state (focus, scrolling, search, dialogs), rendering with ratatui, key and mouse
//!   handling, and the terminal loop.
//! - `save`: the Save directory (Moulti's format, replayable with `moulti load`) and plain/ANSI
//!   exports.
//! - `run`: the child process of `relay run`.

pub mod console;
pub mod error;
pub mod instance;
pub mod launch;
pub mod model;
pub mod run;
pub mod save;
pub mod server;
pub mod settings;
pub mod text;
pub mod tui;
pub mod value;

pub use error::ConsoleError;
