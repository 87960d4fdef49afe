//! `relay queue …`: the queue face's command line.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum QueueCommand {}

pub fn run(cmd: QueueCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {}
}
