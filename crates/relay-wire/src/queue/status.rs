//! Message statuses. There is no `done` and no reachable `error` status in the protocol.

/// Where a message is in its lifecycle: pending or scheduled, then processing once pulled, then processed once acked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum Status {
    /// Waiting in the destination's inbox, deliverable now.
    Pending,
    /// Waiting, but not deliverable before its scheduled time.
    Scheduled,
    /// Pulled and not yet acknowledged; stays so until acked (there is no redelivery timeout by default).
    Processing,
    /// Acknowledged by its destination; kept until deleted.
    Processed,
}

impl Status {
    /// The lowercase name used in `Scirocco-Status` and the `status` JSON key.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Scheduled => "scheduled",
            Status::Processing => "processing",
            Status::Processed => "processed",
        }
    }

    /// Reads a status a client may send on push. `error` is not accepted, as in the original.
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "scheduled" => Some(Status::Scheduled),
            "processing" => Some(Status::Processing),
            "processed" => Some(Status::Processed),
            _ => None,
        }
    }

    /// Only the sender's own waiting messages may be changed in the v2 dialect.
    pub fn is_waiting(self) -> bool {
        matches!(self, Status::Pending | Status::Scheduled)
    }
}
