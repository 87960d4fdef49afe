//! JSON text in the layout of Python's `json.dumps` defaults (`", "` and `": "` separators,
//! non-ASCII escaped), so replies are byte-for-byte what the reference instance sends.

use serde_json::Value;
use std::fmt::Write;

/// Serialises `value` like Python's `json.dumps(value)`.
pub fn to_python_json(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value);
    out
}

fn write_value(out: &mut String, value: &Value) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => match n.as_f64().filter(|_| n.is_f64()) {
            Some(f) => write_float(out, f),
            None => {
                let _ = write!(out, "{n}");
            }
        },
        Value::String(s) => write_string(out, s),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_value(out, item);
            }
            out.push(']');
        }
        Value::Object(map) => {
            out.push('{');
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write_string(out, k);
                out.push_str(": ");
                write_value(out, v);
            }
            out.push('}');
        }
    }
}

/// Python's `repr(float)`: the shortest digits that read back, written positionally from 1e-4 up
/// to below 1e16 (`100.0`, `0.0001`) and otherwise with a signed, two-digit-minimum exponent
/// (`1e+16`, `1e-05`); serde_json writes `1e16` and `1e-5`.
fn write_float(out: &mut String, f: f64) {
    let shortest = format!("{:e}", f.abs());
    // When two strings of that length read back (a value exactly between them), Python takes
    // the even last digit and Rust's shortest form the upper one; Rust's fixed-precision form
    // rounds the exact value half to even, as Python does.
    let len = shortest
        .split('e')
        .next()
        .map_or(1, |m| m.replace('.', "").len());
    let even = format!("{:.*e}", len - 1, f.abs());
    let sci = if even.parse::<f64>() == Ok(f.abs()) {
        even
    } else {
        shortest
    };
    let (mantissa, exp) = sci.split_once('e').unwrap_or((&sci, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    let digits = mantissa.replace('.', "");
    if f.is_sign_negative() {
        out.push('-');
    }
    if !(-4..16).contains(&exp) {
        out.push_str(&digits[..1]);
        if digits.len() > 1 {
            out.push('.');
            out.push_str(&digits[1..]);
        }
        let _ = write!(
            out,
            "e{}{:02}",
            if exp < 0 { '-' } else { '+' },
            exp.unsigned_abs()
        );
        return;
    }
    // Where the decimal point falls after the first `point` digits.
    let point = exp + 1;
    if point <= 0 {
        out.push_str("0.");
        out.extend(std::iter::repeat_n('0', point.unsigned_abs() as usize));
        out.push_str(&digits);
    } else if (point as usize) < digits.len() {
        out.push_str(&digits[..point as usize]);
        out.push('.');
        out.push_str(&digits[point as usize..]);
    } else {
        out.push_str(&digits);
        out.extend(std::iter::repeat_n('0', point as usize - digits.len()));
        out.push_str(".0");
    }
}

fn write_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            ' '..='~' => out.push(c),
            _ => {
                let mut units = [0u16; 2];
                for unit in c.encode_utf16(&mut units) {
                    let _ = write!(out, "\\u{unit:04x}");
                }
            }
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    #[test]
    fn matches_python_layout() {
        let v = json!({"msgid": "m1", "done": true, "error": null, "list": [1, 2.5], "é": "😀\n"});
        assert_eq!(
            to_python_json(&v),
            r#"{"msgid": "m1", "done": true, "error": null, "list": [1, 2.5], "\u00e9": "\ud83d\ude00\n"}"#
        );
    }

    /// What Python 3's `json.dumps` writes for these floats.
    #[test]
    fn floats_are_written_as_python_writes_them() {
        for (f, python) in [
            (10.0, "10.0"),
            (0.1, "0.1"),
            (-0.0, "-0.0"),
            (0.0, "0.0"),
            (1e16, "1e+16"),
            (1e15, "1000000000000000.0"),
            (1.2345678901234568e17, "1.2345678901234568e+17"),
            (1e-5, "1e-05"),
            (0.0001, "0.0001"),
            (1.5e-7, "1.5e-07"),
            (-1.2381694799326279e26, "-1.2381694799326279e+26"),
            (5e-324, "5e-324"),
            (1.7976931348623157e308, "1.7976931348623157e+308"),
            (2.5, "2.5"),
            (100.0, "100.0"),
            (1234.5678, "1234.5678"),
            (0.001234, "0.001234"),
            (9999999999999998.0, "9999999999999998.0"),
            // Exactly ...002.25 and ...252.125, between two shortest forms: the even one.
            (-1113178120592002.2, "-1113178120592002.2"),
            (111659285584252.12, "111659285584252.12"),
        ] {
            assert_eq!(to_python_json(&json!(f)), python, "{f:e}");
        }
        assert_eq!(
            to_python_json(&json!([1, -2, u64::MAX])),
            "[1, -2, 18446744073709551615]"
        );
    }

    proptest! {
        /// Any float is written in one of Python's two forms and reads back exactly.
        #[test]
        fn any_float_reads_back(f in any::<f64>().prop_filter("JSON numbers are finite", |f| f.is_finite())) {
            let text = to_python_json(&json!(f));
            prop_assert_eq!(text.parse::<f64>(), Ok(f));
            prop_assert!(text.contains('.') || text.contains('e'), "{}", text);
        }

        #[test]
        fn output_is_ascii_json_that_parses_back(s in any::<String>(), n in any::<i64>()) {
            let v = json!({"s": s, "n": n, "a": [s.clone(), null, true]});
            let text = to_python_json(&v);
            prop_assert!(text.is_ascii());
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, v);
        }

        /// The same for any value: whatever it holds, the text is ASCII and parses back to it.
        #[test]
        fn any_value_parses_back(v in crate::test_strategies::json_value()) {
            let text = to_python_json(&v);
            prop_assert!(text.is_ascii());
            let back: Value = serde_json::from_str(&text).unwrap();
            prop_assert_eq!(back, v);
        }
    }
}
