//! Payload arguments: a literal, `-` for stdin, or `@FILE`; and `--at` delivery times.

use std::io::Read;

use anyhow::{bail, Context};
use chrono::{DateTime, Duration, TimeZone, Utc};
use relay_client::queue::Payload;
use relay_wire::queue::parse_scheduled_time;

/// How to send a payload.
#[derive(clap::ValueEnum, Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum PayloadType {
    /// JSON objects and arrays go as JSON; other UTF-8 as text; anything else as bytes.
    Auto,
    /// `application/json`: the server takes only objects and arrays.
    Json,
    /// `text/plain`: must be UTF-8.
    Text,
    /// `application/octet-stream`: read back as base64.
    Bytes,
}

/// Reads the payload argument. A literal is always text to start with; stdin and files are
/// raw bytes, so they can carry binary data.
pub(super) fn read_payload(arg: &str, kind: PayloadType) -> anyhow::Result<Payload> {
    let raw: Vec<u8> = if arg == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .read_to_end(&mut buf)
            .context("reading the payload from stdin")?;
        buf
    } else if let Some(path) = arg.strip_prefix('@') {
        std::fs::read(path).with_context(|| format!("reading the payload from {path}"))?
    } else {
        arg.as_bytes().to_vec()
    };
    typed(raw, kind, arg)
}

fn typed(raw: Vec<u8>, kind: PayloadType, source: &str) -> anyhow::Result<Payload> {
    let utf8 = |raw: Vec<u8>| {
        String::from_utf8(raw)
            .with_context(|| format!("the payload from {source} is not UTF-8; use --type bytes"))
    };
    Ok(match kind {
        PayloadType::Auto => Payload::detect_bytes(raw),
        // Sent as given even if it is not an object or array: the server's refusal explains.
        PayloadType::Json => Payload::Json(utf8(raw)?),
        PayloadType::Text => Payload::Text(utf8(raw)?),
        PayloadType::Bytes => Payload::Bytes(raw.into()),
    })
}

/// Reads `--at`: `+30s`, `+5m`, `+2h`, `+1d` or `+250ms` from now, or an absolute time in any
/// form the server reads (epoch milliseconds, ISO-8601 where a zone-less value is UTC,
/// RFC 2822).
pub(super) fn parse_at(value: &str, now: DateTime<Utc>) -> anyhow::Result<DateTime<Utc>> {
    if let Some(rel) = value.strip_prefix('+') {
        let offset = parse_offset(rel).with_context(|| format!("--at {value:?}"))?;
        return now
            .checked_add_signed(offset)
            .with_context(|| format!("--at {value:?} is beyond the last representable time"));
    }
    parse_scheduled_time(value)
        .and_then(|ms| Utc.timestamp_millis_opt(ms).single())
        .with_context(|| {
            format!("--at {value:?} is not a time: use +30s / +5m / +2h / +1d, epoch milliseconds or ISO-8601")
        })
}

fn parse_offset(rel: &str) -> anyhow::Result<Duration> {
    let split = rel.find(|c: char| !c.is_ascii_digit()).unwrap_or(rel.len());
    let (digits, unit) = rel.split_at(split);
    let n: i64 = digits
        .parse()
        .context("expected a number of units after +")?;
    let d = match unit {
        "ms" => Duration::try_milliseconds(n),
        "s" | "" => Duration::try_seconds(n),
        "m" => Duration::try_minutes(n),
        "h" => Duration::try_hours(n),
        "d" => Duration::try_days(n),
        _ => bail!("unknown unit {unit:?} (use ms, s, m, h or d)"),
    };
    d.context("offset out of range")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> DateTime<Utc> {
        Utc.timestamp_millis_opt(1_700_000_000_000).unwrap()
    }

    #[test]
    fn relative_times() {
        assert_eq!(
            parse_at("+30s", now()).unwrap().timestamp_millis(),
            1_700_000_030_000
        );
        assert_eq!(
            parse_at("+5m", now()).unwrap().timestamp_millis(),
            1_700_000_300_000
        );
        assert_eq!(
            parse_at("+2h", now()).unwrap().timestamp_millis(),
            1_700_007_200_000
        );
        assert_eq!(
            parse_at("+1d", now()).unwrap().timestamp_millis(),
            1_700_086_400_000
        );
        assert_eq!(
            parse_at("+250ms", now()).unwrap().timestamp_millis(),
            1_700_000_000_250
        );
        assert_eq!(
            parse_at("+7", now()).unwrap().timestamp_millis(),
            1_700_000_007_000
        );
        assert!(parse_at("+5y", now()).is_err());
        assert!(parse_at("+s", now()).is_err());
    }

    #[test]
    fn offsets_past_the_last_representable_time_are_errors() {
        // Each is a valid duration; only added to now does it overflow.
        for value in ["+100000000000h", "+9223372036854775807ms", "+106751991167d"] {
            let err = parse_at(value, now()).unwrap_err();
            assert!(
                format!("{err:#}").contains("beyond the last representable time"),
                "{value}: {err:#}"
            );
        }
    }

    #[test]
    fn absolute_times() {
        assert_eq!(parse_at("2023-11-14T22:13:20Z", now()).unwrap(), now());
        assert_eq!(parse_at("2023-11-14T22:13:20", now()).unwrap(), now());
        assert_eq!(parse_at("1700000000000", now()).unwrap(), now());
        assert!(parse_at("tomorrow", now()).is_err());
    }

    #[test]
    fn explicit_types_override_detection() {
        assert_eq!(
            typed(b"{}".to_vec(), PayloadType::Text, "x").unwrap(),
            Payload::Text("{}".into())
        );
        assert_eq!(
            typed(b"123".to_vec(), PayloadType::Json, "x").unwrap(),
            Payload::Json("123".into())
        );
        assert_eq!(
            typed(b"hi".to_vec(), PayloadType::Bytes, "x").unwrap(),
            Payload::Bytes("hi".into())
        );
        assert_eq!(
            typed(b"[1]".to_vec(), PayloadType::Auto, "x").unwrap(),
            Payload::Json("[1]".into())
        );
        assert!(typed(vec![0xff], PayloadType::Text, "x").is_err());
    }
}
