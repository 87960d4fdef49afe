//! The step console through its public interface and a real socket: one test binary, one module per area.

mod client;
mod common;
mod protocol;
mod queued_passes;
mod render;
mod save_files;
mod tui_scrolling;
mod tui_search;
mod tui_sizes;
mod unread_replies;
mod vanished_clients;
