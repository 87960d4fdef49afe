//! Text handling that does not depend on the terminal: turning byte streams into log lines,
//! ANSI escape bookkeeping, and Rich-style markup used by titles and texts.

pub mod ansi;
pub mod lines;
pub mod markup;
pub mod sgr;
