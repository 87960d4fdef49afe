//! Lenient conversions of JSON values, following Python's `bool()`, `int()`, `float()` and
//! `str()` so errors read like the reference's.

use serde_json::Value;

pub use relay_wire::console::is_truthy;

/// `str(value)` as Python would print it.
pub fn py_str(value: &Value) -> String {
    match value {
        Value::Null => "None".into(),
        Value::Bool(true) => "True".into(),
        Value::Bool(false) => "False".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `int(value)`.
pub fn py_int(value: &Value) -> Result<i64, String> {
    match value {
        Value::Bool(b) => Ok(*b as i64),
        Value::Number(n) => n
            .as_i64()
            .or_else(|| {
                n.as_f64()
                    .filter(|f| f.is_finite())
                    .map(|f| f.trunc() as i64)
            })
            .ok_or_else(|| format!("cannot convert float {n} to integer")),
        Value::String(s) => s
            .trim()
            .replace('_', "")
            .parse::<i64>()
            .map_err(|_| format!("invalid literal for int() with base 10: '{s}'")),
        Value::Null => Err(
            "int() argument must be a string, a bytes-like object or a real number, not 'NoneType'"
                .into(),
        ),
        Value::Array(_) => Err(
            "int() argument must be a string, a bytes-like object or a real number, not 'list'"
                .into(),
        ),
        Value::Object(_) => Err(
            "int() argument must be a string, a bytes-like object or a real number, not 'dict'"
                .into(),
        ),
    }
}

/// `float(value)`.
pub fn py_float(value: &Value) -> Result<f64, String> {
    match value {
        Value::Bool(b) => Ok(*b as i64 as f64),
        Value::Number(n) => n
            .as_f64()
            .ok_or_else(|| format!("could not convert {n} to float")),
        Value::String(s) => {
            let t = s.trim().to_ascii_lowercase();
            let parsed = match t.as_str() {
                "inf" | "+inf" | "infinity" | "+infinity" => Some(f64::INFINITY),
                "-inf" | "-infinity" => Some(f64::NEG_INFINITY),
                "nan" | "+nan" | "-nan" => None,
                _ => t
                    .parse::<f64>()
                    .ok()
                    .filter(|_| !t.is_empty() && !t.contains("inf") && !t.contains("nan")),
            };
            parsed.ok_or_else(|| format!("could not convert string to float: '{s}'"))
        }
        Value::Null => {
            Err("float() argument must be a string or a real number, not 'NoneType'".into())
        }
        Value::Array(_) => {
            Err("float() argument must be a string or a real number, not 'list'".into())
        }
        Value::Object(_) => {
            Err("float() argument must be a string or a real number, not 'dict'".into())
        }
    }
}

/// Markup-bearing text fields: `null` means empty.
pub fn text(value: &Value) -> String {
    match value {
        Value::Null => String::new(),
        other => py_str(other),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn python_messages() {
        assert_eq!(
            py_int(&json!("abc")).unwrap_err(),
            "invalid literal for int() with base 10: 'abc'"
        );
        assert_eq!(
            py_float(&json!("abc")).unwrap_err(),
            "could not convert string to float: 'abc'"
        );
        assert_eq!(py_int(&json!("12")), Ok(12));
        assert_eq!(py_int(&json!(2.9)), Ok(2));
        assert_eq!(py_float(&json!("+1")), Ok(1.0));
        assert_eq!(py_str(&Value::Null), "None");
    }
}
