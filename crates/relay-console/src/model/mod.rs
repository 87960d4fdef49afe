//! The widget model: what the console shows, independent of any terminal.

mod log;
mod store;
mod widget;

pub use log::StepLog;
pub use store::Store;
pub use widget::{
    Button, ButtonStyle, Kind, QuestionBody, ScrollOnActivity, StepBody, Widget, WidgetBody,
};
