//! `relay init | run | wait | step …`: the step console's command line, mirroring `moulti`
//! (same subcommands, options and JSON messages), so `alias moulti=relay` works.

mod args;
mod diff;
mod manpage;
mod messages;
mod send;

pub(crate) use args::ConsoleCommand;

use args::{QuestionAction, StepAction, WidgetAction};
use messages::{collapsible_options, common_options, question_options, step_options};
use serde_json::{json, Map, Value};
use std::process::ExitCode;

/// Rewrites Moulti's multi-letter short options (`-tt`, `-bt`, `-mh`, `-Mh`, `-rs`, `-pt`),
/// which clap cannot declare, into their long forms. Everything after `--` is left alone.
pub(crate) fn normalize_args<I: IntoIterator<Item = std::ffi::OsString>>(
    args: I,
) -> Vec<std::ffi::OsString> {
    const SHORTS: [(&str, &str); 6] = [
        ("-tt", "--top-text"),
        ("-bt", "--bottom-text"),
        ("-mh", "--min-height"),
        ("-Mh", "--max-height"),
        ("-rs", "--read-size"),
        ("-pt", "--progress-target"),
    ];
    let mut out = Vec::new();
    let mut passthrough = false;
    for arg in args {
        if passthrough || arg == "--" {
            passthrough = true;
            out.push(arg);
            continue;
        }
        let s = arg.to_string_lossy();
        let replaced = SHORTS.iter().find_map(|(short, long)| {
            if s == *short {
                Some(long.to_string())
            } else {
                s.strip_prefix(&format!("{short}="))
                    .map(|v| format!("{long}={v}"))
            }
        });
        out.push(replaced.map(Into::into).unwrap_or(arg));
    }
    out
}

pub(crate) fn run(cmd: ConsoleCommand) -> anyhow::Result<ExitCode> {
    match cmd {
        ConsoleCommand::Init => {
            crate::serve_metrics::console_exposition()?;
            Ok(ExitCode::from(relay_console::launch::launch(None)?))
        }
        ConsoleCommand::Run(a) => {
            crate::serve_metrics::console_exposition()?;
            run_command(a)
        }
        ConsoleCommand::Wait(a) => Ok(send::wait(a.verbose, a.delay, a.max_attempts)),
        ConsoleCommand::Step(action) => step(action),
        ConsoleCommand::Pass(a) => Ok(send::pass(&a.id, !a.append, a.read_size)),
        ConsoleCommand::Divider(action) => Ok(widget("divider", action)),
        ConsoleCommand::Inputquestion(action) => Ok(question("inputquestion", action)),
        ConsoleCommand::Buttonquestion(action) => Ok(question("buttonquestion", action)),
        ConsoleCommand::Question(action) => Ok(question("question", action)),
        ConsoleCommand::Set(a) => {
            let mut m = Map::new();
            m.insert("title".into(), a.title.map_or(Value::Null, Value::String));
            m.insert(
                "step_position".into(),
                a.step_position.map_or(Value::Null, Value::String),
            );
            m.insert(
                "step_direction".into(),
                a.step_direction.map_or(Value::Null, Value::String),
            );
            m.insert(
                "progress_bar".into(),
                flag_pair(a.progress_bar, a.no_progress_bar).map_or(Value::Null, Value::Bool),
            );
            m.insert(
                "progress_target".into(),
                a.progress_target.map_or(Value::Null, |t| json!(t)),
            );
            if let Some(p) = &a.progress {
                if p.trim().parse::<f64>().is_err() {
                    anyhow::bail!("argument --progress/-p: invalid float value: '{p}'");
                }
            }
            m.insert(
                "progress".into(),
                a.progress.map_or(Value::Null, Value::String),
            );
            m.insert("command".into(), "set".into());
            Ok(send::one(m))
        }
        ConsoleCommand::Scroll(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            m.insert("offset".into(), a.offset.map_or(Value::Null, |o| json!(o)));
            m.insert("command".into(), "scroll".into());
            Ok(send::one(m))
        }
        ConsoleCommand::Load(a) => Ok(send::load(&a.saved_directory)),
        ConsoleCommand::Diff(src) => parse_or_run(src, "diff", diff::messages),
        ConsoleCommand::Manpage(src) => parse_or_run(src, "manpage", manpage::messages),
    }
}

type Builder = fn(&str, &str, u32, &dyn Fn(&str) -> Option<String>) -> Vec<Map<String, Value>>;

/// `diff`/`manpage` `parse FILE` or `run CMD…`: read the text, send the messages pipelined.
fn parse_or_run(src: args::ParseOrRun, what: &str, build: Builder) -> anyhow::Result<ExitCode> {
    let get = |k: &str| std::env::var(k).ok();
    let (title, bytes) = match src {
        args::ParseOrRun::Parse { file } => {
            let bytes = std::fs::read(&file)
                .map_err(|e| anyhow::anyhow!("cannot read {}: {e}", file.display()))?;
            (file.display().to_string(), bytes)
        }
        args::ParseOrRun::Run { command } => {
            let mut cmd = std::process::Command::new(&command[0]);
            cmd.args(&command[1..])
                .stdin(std::process::Stdio::inherit());
            if what == "manpage" {
                cmd.env("MAN_KEEP_FORMATTING", "y");
            }
            let out = cmd
                .output()
                .map_err(|e| anyhow::anyhow!("cannot run {}: {e}", command[0]))?;
            if out.stdout.is_empty() && !out.status.success() {
                eprintln!(
                    "{what}_run: {command:?} produced no output and exited with status {}",
                    out.status.code().unwrap_or(1)
                );
                return Ok(ExitCode::from(out.status.code().unwrap_or(1) as u8));
            }
            (command.join(" "), out.stdout)
        }
    };
    let text = String::from_utf8_lossy(&bytes);
    if text.is_empty() {
        return Ok(ExitCode::SUCCESS);
    }
    Ok(send::pipeline_messages(build(
        &title,
        &text,
        std::process::id(),
        &get,
    )))
}

/// `--x` / `--no-x` pairs: `None` when neither was given; the last one wins.
fn flag_pair(yes: bool, no: bool) -> Option<bool> {
    match (yes, no) {
        (false, false) => None,
        (_, true) => Some(false),
        (true, false) => Some(true),
    }
}

fn run_command(a: args::RunArgs) -> anyhow::Result<ExitCode> {
    let get = |k: &str| std::env::var(k).ok();
    let suffix = get("MOULTI_SOCKET_PATH").is_none_or(|p| p.is_empty())
        && !a.no_suffix
        && get("MOULTI_RUN_NO_SUFFIX").is_none();
    if suffix {
        let base = get("MOULTI_INSTANCE")
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        // Sound only while single-threaded: no runtime has started yet.
        std::env::set_var("MOULTI_INSTANCE", format!("{base}-{}", std::process::id()));
    }
    if a.print_env {
        let address = relay_console::server::resolve_address(&|k| std::env::var(k).ok());
        for (k, v) in
            relay_console::run::run_environment(&address.printable(), &|k| std::env::var(k).ok())
        {
            println!("{k}={v}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    Ok(ExitCode::from(relay_console::launch::launch(Some(
        a.command,
    ))?))
}

fn step(action: StepAction) -> anyhow::Result<ExitCode> {
    Ok(match action {
        StepAction::Add(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.clone().into());
            common_options(&mut m, &a.common, true);
            collapsible_options(&mut m, &a.collapsible, true);
            step_options(&mut m, &a.step, true)?;
            send::one(finish(m, "step", "add"))
        }
        StepAction::Update(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.clone().into());
            common_options(&mut m, &a.common, false);
            collapsible_options(&mut m, &a.collapsible, false);
            step_options(&mut m, &a.step, false)?;
            send::one(finish(m, "step", "update"))
        }
        StepAction::Delete(a) => send::delete("step", &a.ids),
        StepAction::Clear(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            send::one(finish(m, "step", "clear"))
        }
        StepAction::Append(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            m.insert("text".into(), json!(a.text));
            send::one(finish(m, "step", "append"))
        }
    })
}

fn widget(command: &str, action: WidgetAction) -> ExitCode {
    match action {
        WidgetAction::Add(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            common_options(&mut m, &a.common, true);
            send::one(finish(m, command, "add"))
        }
        WidgetAction::Update(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            common_options(&mut m, &a.common, false);
            send::one(finish(m, command, "update"))
        }
        WidgetAction::Delete(a) => send::delete(command, &a.ids),
    }
}

fn question(command: &str, action: QuestionAction) -> ExitCode {
    let input = command != "buttonquestion";
    let buttons = command != "inputquestion";
    match action {
        QuestionAction::Add(a) => {
            if buttons && a.question.button.is_empty() {
                eprintln!(
                    "relay {command} add: at least one --button VALUE STYLE LABEL is required"
                );
                return ExitCode::from(2);
            }
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            common_options(&mut m, &a.common, true);
            collapsible_options(&mut m, &a.collapsible, true);
            question_options(&mut m, &a.question, true, input, buttons);
            send::one(finish(m, command, "add"))
        }
        QuestionAction::Update(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            common_options(&mut m, &a.common, false);
            collapsible_options(&mut m, &a.collapsible, false);
            question_options(&mut m, &a.question, false, input, buttons);
            send::one(finish(m, command, "update"))
        }
        QuestionAction::GetAnswer(a) => {
            let mut m = Map::new();
            m.insert("id".into(), a.id.into());
            m.insert("wait".into(), a.wait.into());
            send::get_answer(finish(m, command, "get-answer"))
        }
        QuestionAction::Delete(a) => send::delete(command, &a.ids),
    }
}

fn finish(mut m: Map<String, Value>, command: &str, action: &str) -> Map<String, Value> {
    m.insert("command".into(), command.into());
    m.insert("action".into(), action.into());
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn negative_values_parse() {
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            cmd: ConsoleCommand,
        }
        let args = [
            "relay",
            "step",
            "add",
            "s",
            "--scroll-on-activity",
            "-1",
            "-Mh",
            "-3",
        ]
        .iter()
        .map(Into::into);
        let cli = Cli::try_parse_from(normalize_args(args)).expect("parses");
        let ConsoleCommand::Step(StepAction::Add(a)) = cli.cmd else {
            panic!("not a step add")
        };
        assert_eq!(a.common.scroll_on_activity.as_deref(), Some("-1"));
        assert_eq!(a.step.max_height.as_deref(), Some("-3"));
    }

    #[test]
    fn negative_read_size_parses() {
        // Checklist 49: a negative read_size behaves as 8192; `moulti pass x --read-size -1` is accepted.
        use clap::Parser;
        #[derive(Parser)]
        struct Cli {
            #[command(subcommand)]
            cmd: ConsoleCommand,
        }
        for args in [
            ["relay", "pass", "s", "--read-size", "-1"],
            ["relay", "pass", "s", "-rs", "-1"],
        ] {
            let cli =
                Cli::try_parse_from(normalize_args(args.iter().map(Into::into))).expect("parses");
            let ConsoleCommand::Pass(a) = cli.cmd else {
                panic!("not a pass")
            };
            assert_eq!(a.read_size, -1);
        }
    }

    #[test]
    fn multi_letter_shorts_become_long_options() {
        let args: Vec<std::ffi::OsString> = [
            "relay", "step", "add", "s", "-tt", "x", "-Mh=0", "--", "-tt",
        ]
        .iter()
        .map(Into::into)
        .collect();
        let out: Vec<String> = normalize_args(args)
            .into_iter()
            .map(|s| s.into_string().unwrap())
            .collect();
        assert_eq!(
            out,
            [
                "relay",
                "step",
                "add",
                "s",
                "--top-text",
                "x",
                "--max-height=0",
                "--",
                "-tt"
            ]
        );
    }
}
