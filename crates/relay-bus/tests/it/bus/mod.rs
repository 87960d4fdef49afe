//! The bus's tests. `scenarios` holds what both buses must do alike; `local` runs it in
//! process, `nats` and `outage` against a real nats-server.

mod local;
mod nats;
mod outage;
mod scenarios;

use relay_bus::{NodeId, Subjects};

/// A cluster of the test's own, so that tests sharing one nats-server never see each other.
fn cluster(test: &str) -> Subjects {
    Subjects::new(&format!("{test}-{}", std::process::id())).expect("a valid cluster name")
}

fn node(name: &str) -> NodeId {
    NodeId::new(name).expect("a valid node id")
}
