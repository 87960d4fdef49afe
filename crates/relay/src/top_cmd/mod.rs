//! `relay top`: a live view of a running server's queues, channels and store, read from its
//! metrics (`GET /_relay/metrics` with the queue token) once per interval.

mod snapshot;
mod view;

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context;
use crossterm::event::{self, Event, KeyCode, KeyEventKind, KeyModifiers};
use relay_client::queue::QueueClient;

use snapshot::{Rates, Snapshot};

#[derive(clap::Args)]
pub(crate) struct TopArgs {
    /// Base URL of the server.
    #[arg(long, env = "RELAY_URL", default_value = "http://127.0.0.1:7720")]
    url: String,
    /// The queue token. Without one, the token file in the server's data directory is read.
    #[arg(long, env = "RELAY_QUEUE_TOKEN", hide_env_values = true)]
    token: Option<String>,
    /// The server's data directory, to find its generated token file (`DIR/queue-token`).
    #[arg(long, env = "RELAY_DATA", value_name = "DIR")]
    data: Option<PathBuf>,
    /// Seconds between readings (rates are over this interval).
    #[arg(long, default_value_t = 1.0, value_name = "SECONDS")]
    interval: f64,
    /// Print one reading (rates over one interval) and exit.
    #[arg(long)]
    once: bool,
    /// With --once: print the reading as JSON (without: as the live view's text).
    #[arg(long, requires = "once")]
    json: bool,
}

pub(crate) fn run(args: TopArgs) -> anyhow::Result<ExitCode> {
    let interval = Duration::try_from_secs_f64(args.interval)
        .ok()
        .filter(|d| !d.is_zero())
        .context("--interval must be a positive number of seconds")?;
    let token = crate::queue_cmd::find_token(args.token.as_deref(), args.data.as_deref())?;
    // The metrics route ignores the node; the client needs one to be built.
    let client = QueueClient::with_timeout(&args.url, "0", &token, Duration::from_secs(10))?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let read = || -> anyhow::Result<Snapshot> {
        let text = runtime.block_on(client.metrics())?;
        Ok(Snapshot::parse(&text, Instant::now())?)
    };
    if args.once {
        let before = read()?;
        std::thread::sleep(interval);
        let now = read()?;
        let rates = Rates::between(&before, &now);
        if args.json {
            println!("{:#}", snapshot::to_json(&now, &rates));
        } else {
            print!("{}", view::text(&args.url, &now, &rates));
        }
        return Ok(ExitCode::SUCCESS);
    }
    let mut last = read()?;
    let mut rates = Rates::default();
    let mut error: Option<String> = None;
    let mut terminal = ratatui::init();
    let result = (|| -> anyhow::Result<()> {
        let mut next = Instant::now();
        loop {
            if Instant::now() >= next {
                match read() {
                    Ok(now) => {
                        rates = Rates::between(&last, &now);
                        last = now;
                        error = None;
                    }
                    // The server may be restarting: say so and keep trying.
                    Err(e) => error = Some(format!("{e:#}")),
                }
                next = Instant::now() + interval;
                terminal
                    .draw(|f| view::draw(f, &args.url, &last, &rates, true, error.as_deref()))?;
            }
            if event::poll(next.saturating_duration_since(Instant::now()))? {
                match event::read()? {
                    Event::Key(k) if k.kind == KeyEventKind::Press => {
                        let ctrl_c = k.code == KeyCode::Char('c')
                            && k.modifiers.contains(KeyModifiers::CONTROL);
                        if matches!(k.code, KeyCode::Char('q') | KeyCode::Esc) || ctrl_c {
                            return Ok(());
                        }
                    }
                    Event::Resize(..) => {
                        terminal.draw(|f| {
                            view::draw(f, &args.url, &last, &rates, true, error.as_deref())
                        })?;
                    }
                    _ => {}
                }
            }
        }
    })();
    ratatui::restore();
    result.map(|()| ExitCode::SUCCESS)
}
