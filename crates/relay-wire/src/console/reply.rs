//! The two reply shapes: `{msgid, [answer], done, error}` for a truthy msgid, otherwise the
//! whole request echoed with `done`, `error` (and `answer`) set.

use serde_json::{Map, Value};

/// Python truthiness of a JSON value, which the reference applies to `msgid` and booleans.
pub fn is_truthy(value: &Value) -> bool {
    match value {
        Value::Null => false,
        Value::Bool(b) => *b,
        Value::Number(n) => n.as_f64().is_some_and(|f| f != 0.0),
        Value::String(s) => !s.is_empty(),
        Value::Array(a) => !a.is_empty(),
        Value::Object(o) => !o.is_empty(),
    }
}

/// Builds the reply to `request`. `error` is `None` on success.
pub fn build_reply(
    request: &Map<String, Value>,
    error: Option<&str>,
    answer: Option<&str>,
) -> Map<String, Value> {
    let mut reply = match request.get("msgid") {
        Some(id) if is_truthy(id) => {
            let mut m = Map::new();
            m.insert("msgid".into(), id.clone());
            m
        }
        _ => request.clone(),
    };
    if let Some(answer) = answer {
        reply.insert("answer".into(), Value::String(answer.into()));
    }
    reply.insert("done".into(), Value::Bool(error.is_none()));
    reply.insert(
        "error".into(),
        error.map_or(Value::Null, |e| Value::String(e.into())),
    );
    reply
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::console::to_python_json;
    use proptest::prelude::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        v.as_object().unwrap().clone()
    }

    #[test]
    fn truthy_msgid_gives_the_short_form() {
        let r = build_reply(&obj(json!({"msgid": "m1", "command": "ping"})), None, None);
        assert_eq!(
            to_python_json(&Value::Object(r)),
            r#"{"msgid": "m1", "done": true, "error": null}"#
        );
        let r = build_reply(&obj(json!({"msgid": 42, "command": "ping"})), None, None);
        assert_eq!(r["msgid"], json!(42));
    }

    #[test]
    fn falsy_msgid_echoes_the_request() {
        let r = build_reply(&obj(json!({"msgid": "", "command": "ping"})), None, None);
        assert_eq!(
            to_python_json(&Value::Object(r)),
            r#"{"msgid": "", "command": "ping", "done": true, "error": null}"#
        );
        let r = build_reply(
            &obj(json!({"command": "frob"})),
            Some("unknown command frob"),
            None,
        );
        assert_eq!(
            to_python_json(&Value::Object(r)),
            r#"{"command": "frob", "done": false, "error": "unknown command frob"}"#
        );
    }

    #[test]
    fn answer_precedes_done() {
        let r = build_reply(&obj(json!({"msgid": "q"})), None, Some("yes"));
        assert_eq!(
            to_python_json(&Value::Object(r)),
            r#"{"msgid": "q", "answer": "yes", "done": true, "error": null}"#
        );
    }

    proptest! {
        /// Whatever the request holds, the reply says `done` exactly when there is no error, and
        /// is the short form exactly when the msgid is truthy.
        #[test]
        fn any_request_gets_one_of_the_two_shapes(
            request in prop::collection::vec((prop_oneof![Just("msgid".to_string()), any::<String>()], crate::test_strategies::json_value()), 0..5),
            error in proptest::option::of(any::<String>()),
            answer in proptest::option::of(any::<String>()),
        ) {
            let request: Map<String, Value> = request.into_iter().collect();
            let r = build_reply(&request, error.as_deref(), answer.as_deref());
            prop_assert_eq!(&r["done"], &Value::Bool(error.is_none()));
            prop_assert_eq!(&r["error"], &error.clone().map_or(Value::Null, Value::String));
            if let Some(a) = &answer {
                prop_assert_eq!(&r["answer"], &Value::String(a.clone()));
            }
            let short = request.get("msgid").is_some_and(is_truthy);
            let echoed = request.keys().all(|k| ["answer", "done", "error"].contains(&k.as_str()) || r.get(k) == request.get(k));
            if short {
                let mut keys = vec!["msgid", "done", "error"];
                keys.extend(answer.as_ref().map(|_| "answer"));
                prop_assert!(r.keys().all(|k| keys.contains(&k.as_str())), "{:?}", r);
            } else {
                prop_assert!(echoed);
            }
        }
    }
}
