//! Clap definitions of the console commands, option for option as in `moulti` 1.34.1.

use clap::{Args, Subcommand};
use std::path::PathBuf;

#[derive(Subcommand)]
pub(crate) enum ConsoleCommand {
    /// Start a step console instance in this terminal.
    Init,
    /// Start an instance and run a command in it.
    Run(RunArgs),
    /// Wait until the instance is available.
    Wait(WaitArgs),
    /// Add, update, delete, clear or append to steps.
    #[command(subcommand)]
    Step(StepAction),
    /// Pass standard input to a step.
    Pass(PassArgs),
    /// Add, update or delete dividers.
    #[command(subcommand)]
    Divider(WidgetAction),
    /// Questions with an input field.
    #[command(subcommand)]
    Inputquestion(QuestionAction),
    /// Questions with buttons.
    #[command(subcommand)]
    Buttonquestion(QuestionAction),
    /// Questions with an input field and buttons.
    #[command(subcommand)]
    Question(QuestionAction),
    /// Set instance options (title, step position and direction, progress bar).
    Set(SetArgs),
    /// Scroll to a widget.
    Scroll(ScrollArgs),
    /// Load a directory written by Save into the instance.
    Load(LoadArgs),
    /// Show a unified diff: one divider per file, one step per hunk.
    #[command(subcommand)]
    Diff(ParseOrRun),
    /// Show a man page: one step per section.
    #[command(subcommand)]
    Manpage(ParseOrRun),
}

#[derive(Subcommand)]
pub(crate) enum ParseOrRun {
    /// Read the text from a file.
    Parse { file: PathBuf },
    /// Run a command and read its output.
    #[command(trailing_var_arg = true)]
    Run {
        #[arg(required = true, allow_hyphen_values = true, num_args = 1..)]
        command: Vec<String>,
    },
}

#[derive(Args)]
#[command(trailing_var_arg = true)]
pub(crate) struct RunArgs {
    /// Print the environment variables set for the command and exit.
    #[arg(long)]
    pub print_env: bool,
    /// Do not suffix the instance name with the process id.
    #[arg(long, short = 'n')]
    pub no_suffix: bool,
    /// Command to run along with its arguments.
    #[arg(required = true, allow_hyphen_values = true, num_args = 1..)]
    pub command: Vec<String>,
}

#[derive(Args)]
pub(crate) struct WaitArgs {
    /// Print why each connection attempt failed.
    #[arg(long, short = 'v')]
    pub verbose: bool,
    /// Milliseconds between two attempts.
    #[arg(long, short = 'd', default_value_t = 500)]
    pub delay: u64,
    /// Maximum number of attempts; 0 means never give up.
    #[arg(long, short = 'm', default_value_t = 0)]
    pub max_attempts: u64,
}

/// Options every widget has.
#[derive(Args, Clone, Default)]
pub(crate) struct CommonOptions {
    /// Title (Rich markup).
    #[arg(long)]
    pub title: Option<String>,
    /// Space-separated classes: standard, success, warning, error, inactive.
    #[arg(long, short = 'c')]
    pub classes: Option<String>,
    /// Scroll to the widget on activity: false, true, or a line number (-1 = last).
    #[arg(long, allow_hyphen_values = true)]
    pub scroll_on_activity: Option<String>,
}

/// Options of collapsible widgets.
#[derive(Args, Clone, Default)]
pub(crate) struct CollapsibleOptions {
    #[arg(long, overrides_with = "no_collapsed")]
    pub collapsed: bool,
    #[arg(long, overrides_with = "collapsed")]
    pub no_collapsed: bool,
    /// Text above the contents (Rich markup); `-tt` works too.
    #[arg(long)]
    pub top_text: Option<String>,
    /// Text below the contents (Rich markup); `-bt` works too.
    #[arg(long)]
    pub bottom_text: Option<String>,
}

#[derive(Args, Clone, Default)]
pub(crate) struct StepOptions {
    /// Contents of the step (not markup).
    #[arg(long, short = 't')]
    pub text: Option<String>,
    #[arg(long, overrides_with = "no_auto_scroll")]
    pub auto_scroll: bool,
    #[arg(long, overrides_with = "auto_scroll")]
    pub no_auto_scroll: bool,
    /// Minimum height of the log; `-mh` works too.
    #[arg(long, allow_hyphen_values = true)]
    pub min_height: Option<String>,
    /// Maximum height of the log, 0 = unlimited; `-Mh` works too.
    #[arg(long, allow_hyphen_values = true)]
    pub max_height: Option<String>,
}

#[derive(Args)]
pub(crate) struct StepArgs {
    pub id: String,
    #[command(flatten)]
    pub common: CommonOptions,
    #[command(flatten)]
    pub collapsible: CollapsibleOptions,
    #[command(flatten)]
    pub step: StepOptions,
}

#[derive(Args)]
pub(crate) struct IdsArgs {
    #[arg(required = true, num_args = 1..)]
    pub ids: Vec<String>,
}

#[derive(Args)]
pub(crate) struct IdArgs {
    pub id: String,
}

#[derive(Args)]
pub(crate) struct AppendArgs {
    pub id: String,
    #[arg(num_args = 0.., allow_hyphen_values = true)]
    pub text: Vec<String>,
}

#[derive(Subcommand)]
pub(crate) enum StepAction {
    Add(StepArgs),
    Update(StepArgs),
    Delete(IdsArgs),
    Clear(IdArgs),
    Append(AppendArgs),
}

#[derive(Args)]
pub(crate) struct PassArgs {
    pub id: String,
    /// Do not clear the step first.
    #[arg(long, short = 'a', visible_alias = "no-clear")]
    pub append: bool,
    /// Bytes per read; `-rs` works too.
    #[arg(long, default_value_t = 8192, allow_hyphen_values = true)]
    pub read_size: i64,
}

#[derive(Args)]
pub(crate) struct WidgetArgs {
    pub id: String,
    #[command(flatten)]
    pub common: CommonOptions,
}

#[derive(Subcommand)]
pub(crate) enum WidgetAction {
    Add(WidgetArgs),
    Update(WidgetArgs),
    Delete(IdsArgs),
}

#[derive(Args, Clone, Default)]
pub(crate) struct QuestionOptions {
    /// The question (Rich markup).
    #[arg(long, short = 't')]
    pub text: Option<String>,
    #[arg(long)]
    pub placeholder: Option<String>,
    #[arg(long)]
    pub value: Option<String>,
    #[arg(long, overrides_with = "no_password")]
    pub password: bool,
    #[arg(long, overrides_with = "password")]
    pub no_password: bool,
    #[arg(long, allow_hyphen_values = true)]
    pub max_length: Option<i64>,
    #[arg(long)]
    pub restrict: Option<String>,
    /// A button: VALUE STYLE LABEL (repeatable).
    #[arg(long, short = 'b', num_args = 3, value_names = ["VALUE", "STYLE", "LABEL"], action = clap::ArgAction::Append, allow_hyphen_values = true)]
    pub button: Vec<String>,
}

#[derive(Args)]
pub(crate) struct QuestionArgs {
    pub id: String,
    #[command(flatten)]
    pub common: CommonOptions,
    #[command(flatten)]
    pub collapsible: CollapsibleOptions,
    #[command(flatten)]
    pub question: QuestionOptions,
}

#[derive(Args)]
pub(crate) struct GetAnswerArgs {
    pub id: String,
    /// Wait until the question is answered.
    #[arg(long, short = 'w')]
    pub wait: bool,
}

#[derive(Subcommand)]
pub(crate) enum QuestionAction {
    Add(QuestionArgs),
    Update(QuestionArgs),
    GetAnswer(GetAnswerArgs),
    Delete(IdsArgs),
}

#[derive(Args)]
pub(crate) struct SetArgs {
    #[arg(long, short = 't')]
    pub title: Option<String>,
    #[arg(long, value_parser = ["top", "bottom"])]
    pub step_position: Option<String>,
    #[arg(long, value_parser = ["up", "down"])]
    pub step_direction: Option<String>,
    #[arg(long, overrides_with = "no_progress_bar")]
    pub progress_bar: bool,
    #[arg(long, overrides_with = "progress_bar")]
    pub no_progress_bar: bool,
    /// Total of the progress bar; `-pt` works too.
    #[arg(long, allow_hyphen_values = true)]
    pub progress_target: Option<f64>,
    /// Progress: absolute (`5`) or relative (`+1`, `-2`).
    #[arg(long, short = 'p', allow_hyphen_values = true)]
    pub progress: Option<String>,
}

#[derive(Args)]
pub(crate) struct ScrollArgs {
    pub id: String,
    #[arg(allow_hyphen_values = true)]
    pub offset: Option<i64>,
}

#[derive(Args)]
pub(crate) struct LoadArgs {
    pub saved_directory: PathBuf,
}
