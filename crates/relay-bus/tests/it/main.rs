//! The bus through the crate's public interface: one test binary, every area under `bus::`
//! (so that `-- bus::` picks them all out of the workspace's test binaries).

mod bus;
mod support;
