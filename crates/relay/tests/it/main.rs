//! The integration tests of the `relay` binary, in one test binary: each drives a real
//! `relay serve` (and the client commands) as separate processes, through [`support`].

mod channel;
mod cli_stdout;
mod console_cli_errors;
mod graceful_stop;
mod listener;
mod logs;
mod metrics;
mod packaging;
mod queue;
mod serve_config;
mod support;
mod tls;
