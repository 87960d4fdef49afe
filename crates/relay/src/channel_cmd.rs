//! `relay account …` and `relay channel …`: the channel face's command line.

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ChannelCommand {}

pub fn run(cmd: ChannelCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {}
}
