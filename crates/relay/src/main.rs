//! The `relay` command. Parsing and wiring only: every capability lives in a library crate.

mod channel_cmd;
mod config;
mod console_cmd;
mod logging;
mod queue_cmd;
mod serve_cmd;
mod serve_metrics;
mod top_cmd;

use clap::{CommandFactory, Parser, Subcommand};

/// The server allocates and frees small buffers for every request and frame from several
/// threads at once; mimalloc's per-thread pages cost about a tenth of the server's CPU less
/// than the system allocator under the queue benchmark.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// The version and the git revision it was built from (see build.rs).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (git ",
    env!("RELAY_GIT_REV"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "relay",
    version = VERSION,
    about = "One server for step consoles, realtime channels and durable queues"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the network server (queues and channels) on one HTTP listener.
    Serve(serve_cmd::ServeArgs),
    /// Talk to a running server's queue face.
    #[command(subcommand)]
    Queue(queue_cmd::QueueCommand),
    /// Channel face commands (accounts, channels, messages).
    #[command(flatten)]
    Channel(channel_cmd::ChannelCommand),
    /// A live view of a running server: queues, channels, store.
    Top(top_cmd::TopArgs),
    /// Step console commands, the same command line as `moulti`.
    #[command(flatten)]
    Console(console_cmd::ConsoleCommand),
    /// Configuration files of `relay serve --config`.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Check a configuration file (unknown keys, bad values) without starting the server.
    Check {
        /// The TOML file; its keys are the long options of `relay serve`.
        file: std::path::PathBuf,
    },
}

fn config_check(file: &std::path::Path) -> anyhow::Result<std::process::ExitCode> {
    let settings = config::check(&Cli::command(), file)?;
    println!("{}: ok ({settings} settings)", file.display());
    Ok(std::process::ExitCode::SUCCESS)
}

fn main() -> std::process::ExitCode {
    let argv = console_cmd::normalize_args(std::env::args_os());
    let argv = match config::apply(Cli::command(), argv) {
        Ok(argv) => argv,
        Err(err) => {
            eprintln!("relay: {err:#}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let cli = Cli::parse_from(argv);
    let result = match cli.command {
        Command::Serve(args) => serve_cmd::run(args),
        Command::Queue(cmd) => queue_cmd::run(cmd),
        Command::Channel(cmd) => channel_cmd::run(cmd),
        Command::Top(args) => top_cmd::run(args),
        Command::Console(cmd) => console_cmd::run(cmd),
        Command::Config(ConfigCommand::Check { file }) => config_check(&file),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            eprintln!("relay: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
