//! `relay account …` and `relay channel …`: the channel face's command line, and the channel
//! options of `relay serve`.

use std::path::Path;

use clap::Subcommand;

#[derive(Subcommand)]
pub enum ChannelCommand {}

pub fn run(cmd: ChannelCommand) -> anyhow::Result<std::process::ExitCode> {
    match cmd {}
}

/// Channel options of `relay serve`.
#[derive(clap::Args, Debug, Clone)]
pub struct ServeChannelArgs {}

/// Opens the channel face's state under `data_dir` for `relay serve`.
pub fn open_face(
    _args: &ServeChannelArgs,
    _data_dir: &Path,
) -> anyhow::Result<Option<relay_server::channel::ChannelFace>> {
    Ok(None)
}
