//! Logs go to stderr through `tracing`; `RELAY_LOG` sets the filter (default `info`) and
//! `RELAY_LOG_FORMAT=json` makes every line one JSON object, for log shippers.
//!
//! The few lines people and scripts wait for (where the server listens, where its token is,
//! that it stopped) are plain `relay: …` lines in the text format, as they always were, and
//! `info` events in the JSON format, so that a shipper reads nothing but JSON.

use std::sync::atomic::{AtomicBool, Ordering};

static JSON: AtomicBool = AtomicBool::new(false);

pub(crate) fn init() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("RELAY_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::env::var("RELAY_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json")) {
        JSON.store(true, Ordering::Relaxed);
        let _ = builder.json().flatten_event(true).try_init();
    } else {
        let _ = builder.try_init();
    }
}

/// A line for whoever started the server (see the module's doc).
pub(crate) fn announce(message: std::fmt::Arguments<'_>) {
    if JSON.load(Ordering::Relaxed) {
        tracing::info!("{message}");
    } else {
        eprintln!("relay: {message}");
    }
}
