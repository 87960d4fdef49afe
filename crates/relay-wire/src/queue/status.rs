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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ALL: [Status; 4] = [
        Status::Pending,
        Status::Scheduled,
        Status::Processing,
        Status::Processed,
    ];

    #[test]
    fn every_status_reads_back_its_name() {
        for s in ALL {
            assert_eq!(Status::parse(s.as_str()), Some(s));
        }
        assert_eq!(Status::parse("error"), None);
        assert_eq!(Status::parse("Pending"), None);
    }

    proptest! {
        /// Only the four exact names are statuses.
        #[test]
        fn any_other_string_is_no_status(s in any::<String>()) {
            match Status::parse(&s) {
                Some(status) => prop_assert_eq!(status.as_str(), s),
                None => prop_assert!(ALL.iter().all(|st| st.as_str() != s)),
            }
        }
    }
}
