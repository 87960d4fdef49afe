//! Times on the wire. Headers use the JavaScript `Date.toString()` form the original's users
//! saw (always in UTC here); JSON bodies use ISO-8601 with milliseconds. Scheduled times are
//! read in every form the known clients and suites send. All values are epoch milliseconds.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, TimeZone, Timelike, Utc};

fn utc(ms: i64) -> DateTime<Utc> {
    Utc.timestamp_millis_opt(ms).single().unwrap_or_default()
}

/// `Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)`.
///
/// Every queue response carries several of these, so the common case (years 0 to 9999) is
/// written directly rather than through a format string that is parsed on every call.
pub fn format_header_time(ms: i64) -> String {
    let t = utc(ms);
    if !(0..=9999).contains(&t.year()) {
        return t.format("%a %b %d %Y %H:%M:%S GMT+0000 (UTC)").to_string();
    }
    const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
    const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];
    format!(
        "{} {} {:02} {:04} {:02}:{:02}:{:02} GMT+0000 (UTC)",
        DAYS[t.weekday().num_days_from_monday() as usize],
        MONTHS[t.month0() as usize],
        t.day(),
        t.year(),
        t.hour(),
        t.minute(),
        t.second()
    )
}

/// `2016-11-15T10:41:05.123Z`.
pub fn format_json_time(ms: i64) -> String {
    let t = utc(ms);
    if !(0..=9999).contains(&t.year()) {
        return t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string();
    }
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
        t.year(),
        t.month(),
        t.day(),
        t.hour(),
        t.minute(),
        t.second(),
        t.timestamp_subsec_millis()
    )
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
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M%:z"] {
        if let Ok(t) = DateTime::parse_from_str(v, fmt) {
            return Some(t.timestamp_millis());
        }
    }
    let naive = v.strip_suffix('Z').or_else(|| v.strip_suffix('z')).unwrap_or(v);
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"] {
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

    #[test]
    fn direct_formatting_matches_the_format_strings() {
        // From 1900 to 2100 in uneven steps, plus the ends of the direct range and beyond it.
        let mut times: Vec<i64> = (0..20_000).map(|i| -2_208_988_800_000 + i * 316_223_017_123).collect();
        times.extend([0, -1, 1, 253_402_300_799_999, -62_167_219_200_000, 253_402_300_800_000, -62_167_219_200_001]);
        for ms in times {
            let t = utc(ms);
            assert_eq!(format_header_time(ms), t.format("%a %b %d %Y %H:%M:%S GMT+0000 (UTC)").to_string(), "{ms}");
            assert_eq!(format_json_time(ms), t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string(), "{ms}");
        }
    }

    const T: i64 = 1_479_206_465_123; // 2016-11-15T10:41:05.123Z

    #[test]
    fn formats() {
        assert_eq!(format_header_time(T), "Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)");
        assert_eq!(format_json_time(T), "2016-11-15T10:41:05.123Z");
        assert_eq!(format_header_time(1_478_000_000_000), "Tue Nov 01 2016 11:33:20 GMT+0000 (UTC)");
    }

    #[test]
    fn every_accepted_form() {
        let s = T / 1000 * 1000;
        assert_eq!(parse_scheduled_time("1479206465123"), Some(T));
        assert_eq!(parse_scheduled_time("1.479206465123e12"), Some(T));
        assert_eq!(parse_scheduled_time("2016-11-15T10:41:05.123Z"), Some(T));
        assert_eq!(parse_scheduled_time("2016-11-15T11:41:05.123+01:00"), Some(T));
        assert_eq!(parse_scheduled_time("2016-11-15T10:41:05.123456"), Some(T));
        assert_eq!(parse_scheduled_time("2016-11-15T10:41:05"), Some(s));
        assert_eq!(parse_scheduled_time("2016-11-15"), Some(1_479_168_000_000));
        assert_eq!(parse_scheduled_time("Tue, 15 Nov 2016 10:41:05 GMT"), Some(s));
        assert_eq!(parse_scheduled_time("Tue, 15 Nov 2016 10:41:05 +0000"), Some(s));
        assert_eq!(parse_scheduled_time("Tue Nov 15 2016 10:41:05 GMT+0000 (UTC)"), Some(s));
        assert_eq!(parse_scheduled_time("Tue Nov 15 2016 11:41:05 GMT+0100 (CET)"), Some(s));
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
}
