//! Widget kinds and their properties.

use super::StepLog;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Step,
    Divider,
    InputQuestion,
    ButtonQuestion,
    Question,
}

impl Kind {
    pub fn from_command(command: &str) -> Option<Kind> {
        Some(match command {
            "step" => Kind::Step,
            "divider" => Kind::Divider,
            "inputquestion" => Kind::InputQuestion,
            "buttonquestion" => Kind::ButtonQuestion,
            "question" => Kind::Question,
            _ => return None,
        })
    }

    pub fn command(self) -> &'static str {
        match self {
            Kind::Step => "step",
            Kind::Divider => "divider",
            Kind::InputQuestion => "inputquestion",
            Kind::ButtonQuestion => "buttonquestion",
            Kind::Question => "question",
        }
    }

    /// Whether a widget of this kind answers to `command` (a `question` is also an input and a
    /// button question, as in the reference).
    pub fn satisfies(self, command: Kind) -> bool {
        self == command
            || (self == Kind::Question
                && matches!(command, Kind::InputQuestion | Kind::ButtonQuestion))
    }

    pub fn is_question(self) -> bool {
        matches!(
            self,
            Kind::InputQuestion | Kind::ButtonQuestion | Kind::Question
        )
    }

    pub fn has_input(self) -> bool {
        matches!(self, Kind::InputQuestion | Kind::Question)
    }

    pub fn has_buttons(self) -> bool {
        matches!(self, Kind::ButtonQuestion | Kind::Question)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScrollOnActivity {
    Never,
    Widget,
    /// Make this screen line of the widget visible; negative counts from the bottom.
    Line(i64),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ButtonStyle {
    Default,
    Primary,
    Error,
    Warning,
    Success,
}

impl ButtonStyle {
    pub fn parse(s: &str) -> Option<ButtonStyle> {
        Some(match s {
            "default" => ButtonStyle::Default,
            "primary" => ButtonStyle::Primary,
            "error" => ButtonStyle::Error,
            "warning" => ButtonStyle::Warning,
            "success" => ButtonStyle::Success,
            _ => return None,
        })
    }

    pub fn name(self) -> &'static str {
        match self {
            ButtonStyle::Default => "default",
            ButtonStyle::Primary => "primary",
            ButtonStyle::Error => "error",
            ButtonStyle::Warning => "warning",
            ButtonStyle::Success => "success",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Button {
    pub value: String,
    pub style: ButtonStyle,
    pub label: String,
}

#[derive(Debug)]
pub struct StepBody {
    pub log: StepLog,
    /// The configured `auto_scroll` property.
    pub auto_scroll: bool,
    /// Whether the view currently follows the last line (turned off by scrolling up).
    pub following: bool,
    /// Number (see `StepLog::first`) of the first visible log line when not following: the view
    /// stays on the lines the user reads while older ones are dropped.
    pub log_offset: usize,
    pub min_height: i64,
    pub max_height: i64,
    /// Passes (and run-output harvesting) currently feeding this step.
    pub ongoing: usize,
    /// Horizontal scroll of the log, in cells.
    pub h_offset: usize,
}

#[derive(Debug, Default)]
pub struct QuestionBody {
    pub text: String,
    pub placeholder: String,
    pub value: String,
    pub password: bool,
    pub max_length: i64,
    pub restrict: String,
    pub buttons: Vec<Button>,
    pub answer: Option<String>,
}

#[derive(Debug)]
pub enum WidgetBody {
    Step(StepBody),
    Divider,
    Question(QuestionBody),
}

#[derive(Debug)]
pub struct Widget {
    pub id: String,
    pub kind: Kind,
    pub title: Option<String>,
    pub classes: String,
    pub scroll_on_activity: ScrollOnActivity,
    pub collapsed: bool,
    pub top_text: String,
    pub bottom_text: String,
    pub body: WidgetBody,
}

impl Widget {
    /// The title markup to show: the id when the title is absent or empty.
    pub fn display_title(&self) -> &str {
        match &self.title {
            Some(t) if !t.is_empty() => t,
            _ => &self.id,
        }
    }

    pub fn collapsible(&self) -> bool {
        self.kind != Kind::Divider
    }

    pub fn step(&self) -> Option<&StepBody> {
        match &self.body {
            WidgetBody::Step(s) => Some(s),
            _ => None,
        }
    }

    pub fn step_mut(&mut self) -> Option<&mut StepBody> {
        match &mut self.body {
            WidgetBody::Step(s) => Some(s),
            _ => None,
        }
    }

    pub fn question(&self) -> Option<&QuestionBody> {
        match &self.body {
            WidgetBody::Question(q) => Some(q),
            _ => None,
        }
    }

    pub fn question_mut(&mut self) -> Option<&mut QuestionBody> {
        match &mut self.body {
            WidgetBody::Question(q) => Some(q),
            _ => None,
        }
    }

    /// The class names, split.
    pub fn class_list(&self) -> impl Iterator<Item = &str> {
        self.classes.split_whitespace()
    }
}
