//! The channel hub through its public interface: one test binary, one module per area.

mod fanout;
mod memory_budget;
mod postgres_hub;
mod prelogin_budget;
mod support;
mod takeover_memory;
