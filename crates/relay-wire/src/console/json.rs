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
        Value::Number(n) => {
            let _ = write!(out, "{n}");
        }
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

    proptest! {
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
