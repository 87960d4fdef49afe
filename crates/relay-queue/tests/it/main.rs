//! The queue engine and its stores, through the crate's public interface: one test binary, one module per area.

mod cache;
mod embedded_store;
mod engine;
mod index;
mod shared_queue;
mod support;
mod written_pulls;
