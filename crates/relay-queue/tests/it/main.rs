//! The queue engine and its stores, through the crate's public interface: one test binary, one module per area.

mod embedded_store;
mod engine;
mod postgres_store;
mod shared_queue;
mod support;
