//! The queue face: the scirocco HTTP API, the queue command, restarts, crashes and limits.

mod ack;
mod auth_transport;
mod bad_input;
mod cli;
mod concurrency;
mod crash;
mod dialects;
mod far_times;
mod hooks;
mod list_memory;
mod messages;
mod model;
mod nodes;
mod payload_cap;
mod pg_outage;
mod postgres;
mod pull;
mod push;
mod restart;
mod retention;
mod startup;
mod token;
mod visibility;
