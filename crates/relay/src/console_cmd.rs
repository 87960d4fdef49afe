//! `relay init | run | wait | step …`: the step console's command line, mirroring `moulti`.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ConsoleCommand {}

pub fn run(cmd: ConsoleCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {}
}
