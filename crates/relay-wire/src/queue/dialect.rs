//! The two header dialects. The v1 clients (scirocco-pyclient 0.0.4 and 1.0.0) and the v2
//! clients (2.x) name the same concepts differently; one server answers each in its own words.

/// Every system header starts with this.
pub const HEADER_PREFIX: &str = "Scirocco-";

/// Which client generation a request comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// scirocco-pyclient 0.0.4 and 1.0.0: `Scirocco-From`, `Scirocco-To`, `Scirocco-Data-Type`, body key `data`.
    V1,
    /// scirocco-pyclient 2.x: `Scirocco-Node-Source`, `Scirocco-Node-Destination`, `Scirocco-Payload-Type`, body key `payload`.
    V2,
}

/// A message field that appears as a system header and as a key of the list body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    /// The message id, 24 hex characters (`Scirocco-Id`, `_id`).
    Id,
    /// The node that pushed the message.
    Source,
    /// The node whose inbox the message is in.
    Destination,
    /// The type label (1 to 30 characters), by default the push's content type.
    Label,
    /// `pending`, `scheduled`, `processing` or `processed`.
    Status,
    /// How many times the message was pulled (a decimal string in headers, a number in JSON).
    Tries,
    /// Exists in the model but is never set over HTTP, so it is only ever absent.
    Topic,
    /// When the message was pushed.
    CreatedTime,
    /// When the message last changed (pull, ack or payload update); absent until then.
    UpdateTime,
    /// The earliest delivery time of a scheduled message; absent otherwise.
    ScheduledTime,
    /// When the message was pulled; absent before.
    ProcessingTime,
    /// When the message was acknowledged; absent before.
    ProcessedTime,
    /// Part of the model but never set, as in the original (there is no reachable `error` status).
    ErrorTime,
}

impl Dialect {
    /// A request is v2 when it carries any header only the v2 dialect has; the v2 client sends
    /// `Scirocco-Node-Source` on every request.
    pub fn detect(has_header: impl Fn(&str) -> bool) -> Dialect {
        const V2_ONLY: [&str; 3] = [
            "Scirocco-Node-Source",
            "Scirocco-Node-Destination",
            "Scirocco-Payload-Type",
        ];
        if V2_ONLY.iter().any(|h| has_header(h)) {
            Dialect::V2
        } else {
            Dialect::V1
        }
    }

    /// The header that names a field, in Title-Case as it must appear on the wire.
    pub fn header(self, field: Field) -> &'static str {
        use Field::*;
        match (self, field) {
            (_, Id) => "Scirocco-Id",
            (Dialect::V1, Source) => "Scirocco-From",
            (Dialect::V2, Source) => "Scirocco-Node-Source",
            (Dialect::V1, Destination) => "Scirocco-To",
            (Dialect::V2, Destination) => "Scirocco-Node-Destination",
            (Dialect::V1, Label) => "Scirocco-Data-Type",
            (Dialect::V2, Label) => "Scirocco-Payload-Type",
            (_, Status) => "Scirocco-Status",
            (_, Tries) => "Scirocco-Tries",
            (_, Topic) => "Scirocco-Topic",
            (_, CreatedTime) => "Scirocco-Created-Time",
            (_, UpdateTime) => "Scirocco-Update-Time",
            (_, ScheduledTime) => "Scirocco-Scheduled-Time",
            (_, ProcessingTime) => "Scirocco-Processing-Time",
            (_, ProcessedTime) => "Scirocco-Processed-Time",
            (_, ErrorTime) => "Scirocco-Error-Time",
        }
    }

    /// The key a field has in JSON bodies (the list of messages, validation errors).
    pub fn json_key(self, field: Field) -> &'static str {
        use Field::*;
        match (self, field) {
            (_, Id) => "_id",
            (Dialect::V1, Source) => "from",
            (Dialect::V2, Source) => "node_source",
            (Dialect::V1, Destination) => "to",
            (Dialect::V2, Destination) => "node_destination",
            (Dialect::V1, Label) => "data_type",
            (Dialect::V2, Label) => "payload_type",
            (_, Status) => "status",
            (_, Tries) => "tries",
            (_, Topic) => "topic",
            (_, CreatedTime) => "created_time",
            (_, UpdateTime) => "update_time",
            (_, ScheduledTime) => "scheduled_time",
            (_, ProcessingTime) => "processing_time",
            (_, ProcessedTime) => "processed_time",
            (_, ErrorTime) => "error_time",
        }
    }

    /// The JSON key of the payload in list bodies.
    pub fn payload_key(self) -> &'static str {
        match self {
            Dialect::V1 => "data",
            Dialect::V2 => "payload",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn v2_is_detected_by_any_v2_only_header() {
        for h in [
            "Scirocco-Node-Source",
            "Scirocco-Node-Destination",
            "Scirocco-Payload-Type",
        ] {
            assert_eq!(Dialect::detect(|n| n == h), Dialect::V2);
        }
        assert_eq!(Dialect::detect(|n| n == "Scirocco-From"), Dialect::V1);
        assert_eq!(Dialect::detect(|_| false), Dialect::V1);
    }

    #[test]
    fn header_names_are_title_case() {
        for d in [Dialect::V1, Dialect::V2] {
            for f in [
                Field::Id,
                Field::Source,
                Field::Destination,
                Field::Label,
                Field::CreatedTime,
            ] {
                let h = d.header(f);
                assert!(
                    h.split('-')
                        .all(|w| w.chars().next().unwrap().is_ascii_uppercase()),
                    "{h}"
                );
            }
        }
    }

    const FIELDS: [Field; 13] = [
        Field::Id,
        Field::Source,
        Field::Destination,
        Field::Label,
        Field::Status,
        Field::Tries,
        Field::Topic,
        Field::CreatedTime,
        Field::UpdateTime,
        Field::ScheduledTime,
        Field::ProcessingTime,
        Field::ProcessedTime,
        Field::ErrorTime,
    ];

    #[test]
    fn each_dialect_names_each_field_once() {
        for d in [Dialect::V1, Dialect::V2] {
            let headers: std::collections::HashSet<_> =
                FIELDS.iter().map(|f| d.header(*f)).collect();
            let keys: std::collections::HashSet<_> =
                FIELDS.iter().map(|f| d.json_key(*f)).collect();
            assert_eq!((headers.len(), keys.len()), (FIELDS.len(), FIELDS.len()));
            assert!(headers.iter().all(|h| h.starts_with(HEADER_PREFIX)));
            assert!(!keys.contains(d.payload_key()));
        }
    }

    proptest! {
        /// A request carrying headers as a client of one dialect writes them is read as that
        /// dialect, whatever else it carries, as long as it names one field the dialects spell
        /// differently (the v2 client always sends its source); other headers change nothing.
        #[test]
        fn a_dialects_own_headers_detect_it(
            fields in prop::sample::subsequence(FIELDS.to_vec(), 0..=FIELDS.len()),
            others in prop::collection::vec("[A-Za-z-]{0,30}", 0..4),
        ) {
            for d in [Dialect::V1, Dialect::V2] {
                let sent: Vec<&str> = fields.iter().map(|f| d.header(*f)).collect();
                let has = |h: &str| sent.contains(&h) || others.iter().any(|o| o == h);
                let spelled_apart = fields.iter().any(|f| Dialect::V1.header(*f) != Dialect::V2.header(*f));
                let v2_named = others.iter().any(|o| [Field::Source, Field::Destination, Field::Label].iter().any(|f| Dialect::V2.header(*f) == o));
                let expected = if (d == Dialect::V2 && spelled_apart) || v2_named { Dialect::V2 } else { Dialect::V1 };
                prop_assert_eq!(Dialect::detect(has), expected);
            }
        }
    }
}
