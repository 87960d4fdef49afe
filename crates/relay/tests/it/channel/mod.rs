//! The channel face: WebSocket protocol, HTTP API, client commands, crashes and limits.

mod api_envelopes;
mod binary_rate_limit;
mod checklist;
mod clean_stop;
mod cli;
mod client;
mod client_watch_replay;
mod clock_hook;
mod condemned_takeover;
mod crash;
mod download_headers;
mod durable_acks;
mod flood_fairness;
mod node_files;
mod nodes;
mod ping_flood;
mod prelogin_budget;
mod prelogin_bytes;
mod relogin;
mod signin_flood;
mod stalled_body;
mod token_lifetimes;
mod trusted_proxy;
mod unread_close;
mod upload_spools;
mod uploads;
