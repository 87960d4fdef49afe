//! Times on the wire. Headers use the JavaScript `Date.toString()` form the original's users
//! saw (always in UTC here); JSON bodies use ISO-8601 with milliseconds. Scheduled times are
//! read in every form the known clients and suites send. All values are epoch milliseconds.

use chrono::{DateTime, NaiveDate, NaiveDateTime};
use std::fmt::Write as _;

/// A UTC instant split into calendar fields, for any `i64` of milliseconds. chrono stops at
/// year 262143, short of JavaScript's ±8.64e15 ms (years -271821 to 275760), which a numeric
/// scheduled time may reach; its `unwrap_or_default` used to turn those into 1970.
struct Civil {
    year: i64,
    /// 0 = January.
    month0: usize,
    day: u32,
    /// 0 = Sunday, as in JavaScript.
    weekday: usize,
    hour: u32,
    minute: u32,
    second: u32,
    milli: u32,
}

const MS_PER_DAY: i64 = 86_400_000;

fn civil(ms: i64) -> Civil {
    let days = ms.div_euclid(MS_PER_DAY);
    let in_day = ms.rem_euclid(MS_PER_DAY) as u32;
    let (year, month, day) = crate::calendar::civil_from_days(days);
    Civil {
        year,
        month0: month as usize - 1,
        day,
        // 1970-01-01 was a Thursday.
        weekday: (days + 4).rem_euclid(7) as usize,
        hour: in_day / 3_600_000,
        minute: in_day / 60_000 % 60,
        second: in_day / 1000 % 60,
        milli: in_day % 1000,
    }
}

/// `Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)`: JavaScript's `Date.prototype.toString()` in UTC,
/// years below 0 written `-0001`, above 9999 as they are (`275760`).
pub fn format_header_time(ms: i64) -> String {
    const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let t = civil(ms);
    let sign = if t.year < 0 { "-" } else { "" };
    let mut out = String::with_capacity(48);
    let _ = write!(
        out,
        "{} {} {:02} {sign}{:04} {:02}:{:02}:{:02} GMT+0000 (UTC)",
        DAYS[t.weekday],
        MONTHS[t.month0],
        t.day,
        t.year.unsigned_abs(),
        t.hour,
        t.minute,
        t.second
    );
    out
}

/// `2016-11-15T10:41:05.123Z`: JavaScript's `Date.prototype.toISOString()`, which writes years
/// outside 0 to 9999 with a sign and six digits (`+275760-09-13T00:00:00.000Z`), the ISO 8601
/// expanded form that `Date.parse` reads back.
pub fn format_json_time(ms: i64) -> String {
    let t = civil(ms);
    let mut out = String::with_capacity(32);
    let _ = if (0..=9999).contains(&t.year) {
        write!(out, "{:04}", t.year)
    } else {
        write!(
            out,
            "{}{:06}",
            if t.year < 0 { '-' } else { '+' },
            t.year.unsigned_abs()
        )
    };
    let _ = write!(
        out,
        "-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.month0 + 1,
        t.day,
        t.hour,
        t.minute,
        t.second,
        t.milli
    );
    out
}

/// JavaScript dates stop at ±8.64e15 ms; anything beyond is "Invalid Date" there too.
const MAX_JS_MS: f64 = 8.64e15;

/// Reads a `Scirocco-Scheduled-Time` value. A numeric string is epoch milliseconds; otherwise
/// ISO-8601/RFC 3339 (naive values and bare dates are UTC), RFC 2822 and the JS `toString()`
/// form are accepted. `None` means the value is not a time.
pub fn parse_scheduled_time(value: &str) -> Option<i64> {
    let v = value.trim();
    if v.is_empty() {
        return None;
    }
    if let Ok(n) = v.parse::<f64>() {
        // Rust also reads "inf" and "NaN"; JavaScript's Number() would not make dates of them.
        return (n.is_finite() && n.abs() <= MAX_JS_MS).then_some(n as i64);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(v) {
        return Some(t.timestamp_millis());
    }
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f%:z",
        "%Y-%m-%dT%H:%M:%S%.f%z",
        "%Y-%m-%dT%H:%M%:z",
    ] {
        if let Ok(t) = DateTime::parse_from_str(v, fmt) {
            return Some(t.timestamp_millis());
        }
    }
    let naive = v
        .strip_suffix('Z')
        .or_else(|| v.strip_suffix('z'))
        .unwrap_or(v);
    for fmt in [
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(naive, fmt) {
            return Some(t.and_utc().timestamp_millis());
        }
    }
    if let Ok(d) = NaiveDate::parse_from_str(v, "%Y-%m-%d") {
        return Some(d.and_hms_opt(0, 0, 0)?.and_utc().timestamp_millis());
    }
    if let Ok(t) = DateTime::parse_from_rfc2822(v) {
        return Some(t.timestamp_millis());
    }
    parse_js_to_string(v)
}

/// `Tue Nov 15 2016 10:41:05 GMT+0100 (CET)`: the zone name in brackets is informative only.
fn parse_js_to_string(v: &str) -> Option<i64> {
    let without_name = match v.find(" (") {
        Some(i) if v.ends_with(')') => &v[..i],
        _ => v,
    };
    for fmt in ["%a %b %d %Y %H:%M:%S GMT%z", "%b %d %Y %H:%M:%S GMT%z"] {
        if let Ok(t) = DateTime::parse_from_str(without_name, fmt) {
            return Some(t.timestamp_millis());
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The calendar arithmetic against chrono over chrono's whole range, years written as
    /// JavaScript writes them.
    #[test]
    fn formatting_matches_chrono_where_chrono_reaches() {
        use chrono::{Datelike, TimeZone, Utc};
        // 1900 to about year 200000 in uneven steps, the years around 0, and the ends of the
        // four-digit range.
        let mut times: Vec<i64> = (0..20_000)
            .map(|i| -2_208_988_800_000 + i * 316_223_017_123)
            .collect();
        times.extend((0..2_000).map(|i| -63_000_000_000_000 + i * 1_000_000_017));
        times.extend([
            0,
            -1,
            1,
            253_402_300_799_999,
            253_402_300_800_000,
            -62_167_219_200_000,
            -62_167_219_200_001,
        ]);
        for ms in times {
            let t = Utc.timestamp_millis_opt(ms).unwrap();
            let (header_year, json_year) = match t.year() {
                y @ 0..=9999 => (format!("{y:04}"), format!("{y:04}")),
                y if y < 0 => (format!("-{:04}", -y), format!("-{:06}", -y)),
                y => (y.to_string(), format!("+{y:06}")),
            };
            let header = t
                .format(&format!("%a %b %d {header_year} %H:%M:%S GMT+0000 (UTC)"))
                .to_string();
            assert_eq!(format_header_time(ms), header, "{ms}");
            assert_eq!(
                format_json_time(ms),
                t.format(&format!("{json_year}-%m-%dT%H:%M:%S%.3fZ"))
                    .to_string(),
                "{ms}"
            );
        }
    }

    /// What Node.js prints for these instants (`toString()` with TZ=UTC, the zone name aside,
    /// and `toISOString()`): the ends of JavaScript's range lie beyond chrono's.
    #[test]
    fn formatting_matches_javascript_over_its_whole_range() {
        for (ms, header, json) in [
            (
                8_640_000_000_000_000,
                "Sat Sep 13 275760 00:00:00",
                "+275760-09-13T00:00:00.000Z",
            ),
            (
                -8_640_000_000_000_000,
                "Tue Apr 20 -271821 00:00:00",
                "-271821-04-20T00:00:00.000Z",
            ),
            (
                8_300_000_000_000_000,
                "Wed Jul 12 264986 19:33:20",
                "+264986-07-12T19:33:20.000Z",
            ),
            (
                -8_300_000_000_000_000,
                "Thu Jun 21 -261047 04:26:40",
                "-261047-06-21T04:26:40.000Z",
            ),
            (
                8_210_000_000_000_000,
                "Sun Jul 18 262134 03:33:20",
                "+262134-07-18T03:33:20.000Z",
            ),
            (
                253_402_300_800_000,
                "Sat Jan 01 10000 00:00:00",
                "+010000-01-01T00:00:00.000Z",
            ),
            (
                -62_167_219_200_001,
                "Fri Dec 31 -0001 23:59:59",
                "-000001-12-31T23:59:59.999Z",
            ),
            (
                -100_000_000_000_000,
                "Thu Feb 15 -1199 14:13:20",
                "-001199-02-15T14:13:20.000Z",
            ),
        ] {
            assert_eq!(
                format_header_time(ms),
                format!("{header} GMT+0000 (UTC)"),
                "{ms}"
            );
            assert_eq!(format_json_time(ms), json, "{ms}");
        }
    }

    #[test]
    fn any_i64_formats_without_panicking() {
        for ms in [
            i64::MIN,
            i64::MAX,
            -8_640_000_000_000_000,
            8_640_000_000_000_000,
        ] {
            assert!(format_header_time(ms).ends_with("GMT+0000 (UTC)"));
            assert!(format_json_time(ms).ends_with('Z'));
        }
    }

    const T: i64 = 1_479_206_465_123; // 2016-11-15T10:41:05.123Z

    #[test]
    fn formats() {
        assert_eq!(
            format_header_time(T),
            "Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)"
        );
        assert_eq!(format_json_time(T), "2016-11-15T10:41:05.123Z");
        assert_eq!(
            format_header_time(1_478_000_000_000),
            "Tue Nov 01 2016 11:33:20 GMT+0000 (UTC)"
        );
    }

    #[test]
    fn every_accepted_form() {
        let s = T / 1000 * 1000;
        assert_eq!(parse_scheduled_time("1479206465123"), Some(T));
        assert_eq!(parse_scheduled_time("1.479206465123e12"), Some(T));
        assert_eq!(parse_scheduled_time("2016-11-15T10:41:05.123Z"), Some(T));
        assert_eq!(
            parse_scheduled_time("2016-11-15T11:41:05.123+01:00"),
            Some(T)
        );
        assert_eq!(parse_scheduled_time("2016-11-15T10:41:05.123456"), Some(T));
        assert_eq!(parse_scheduled_time("2016-11-15T10:41:05"), Some(s));
        assert_eq!(parse_scheduled_time("2016-11-15"), Some(1_479_168_000_000));
        assert_eq!(
            parse_scheduled_time("Tue, 15 Nov 2016 10:41:05 GMT"),
            Some(s)
        );
        assert_eq!(
            parse_scheduled_time("Tue, 15 Nov 2016 10:41:05 +0000"),
            Some(s)
        );
        assert_eq!(
            parse_scheduled_time("Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)"),
            Some(s)
        );
        assert_eq!(
            parse_scheduled_time("Tue Nov 15 2016 11:41:05 GMT+0100 (CET)"),
            Some(s)
        );
        assert_eq!(
            parse_scheduled_time("Tue Nov 15 2016 10:41:05 GMT+0000 (Coordinated Universal Time)"),
            Some(s)
        );
    }

    #[test]
    fn rejected_forms() {
        for v in ["Invalid Date", "", "  ", "NaN", "inf", "tomorrow", "1e300"] {
            assert_eq!(parse_scheduled_time(v), None, "{v}");
        }
    }

    /// The instants whose year has four digits, the range chrono reads back.
    const FOUR_DIGIT_YEARS: std::ops::RangeInclusive<i64> =
        -62_167_219_200_000..=253_402_300_799_999;

    proptest! {
        /// Any header value is read or refused without panicking.
        #[test]
        fn any_string_is_read_or_refused(s in any::<String>()) {
            let _ = parse_scheduled_time(&s);
        }

        /// The same for strings shaped like the accepted forms, which reach chrono's parsers
        /// deeper than random text does.
        #[test]
        fn near_times_are_read_or_refused(s in r"[-+]?[0-9]{1,7}(-[0-9]{1,3}){0,2}([T ][0-9]{1,3}(:[0-9]{1,3}){0,2}(\.[0-9]{0,12})?)?([Zz]|[-+][0-9]{2}:?[0-9]{2})?") {
            let _ = parse_scheduled_time(&s);
        }

        /// Every instant JavaScript has, written as a number of milliseconds, reads back.
        #[test]
        fn epoch_milliseconds_read_back(ms in -8_640_000_000_000_000i64..=8_640_000_000_000_000) {
            prop_assert_eq!(parse_scheduled_time(&ms.to_string()), Some(ms));
            prop_assert_eq!(parse_scheduled_time(&format!(" {ms}\t")), Some(ms));
        }

        /// What the JSON bodies write reads back to the millisecond.
        #[test]
        fn json_times_read_back(ms in FOUR_DIGIT_YEARS) {
            prop_assert_eq!(parse_scheduled_time(&format_json_time(ms)), Some(ms));
        }

        /// What the headers write reads back to the second (the form has no milliseconds).
        #[test]
        fn header_times_read_back_to_the_second(ms in FOUR_DIGIT_YEARS) {
            prop_assert_eq!(parse_scheduled_time(&format_header_time(ms)), Some(ms.div_euclid(1000) * 1000));
        }

        /// Any `i64`, far beyond JavaScript's range too, formats in both forms without panicking.
        #[test]
        fn any_i64_formats(ms in any::<i64>()) {
            prop_assert!(format_header_time(ms).ends_with(" GMT+0000 (UTC)"));
            prop_assert!(format_json_time(ms).ends_with('Z'));
        }
    }
}
