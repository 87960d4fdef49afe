//! Queue wire format: header mapping.
