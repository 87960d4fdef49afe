//! Channel wire format: JSON payload types.
