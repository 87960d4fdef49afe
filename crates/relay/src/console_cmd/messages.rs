//! Options to JSON keys, in the order and with the defaults the `moulti` CLI sends.

use super::args::{CollapsibleOptions, CommonOptions, QuestionOptions, StepOptions};
use super::flag_pair;
use serde_json::{json, Map, Value};

fn put(m: &mut Map<String, Value>, key: &str, given: Option<Value>, default: Option<Value>) {
    if let Some(v) = given.or(default) {
        m.insert(key.into(), v);
    }
}

/// `true`, `false` or an integer.
fn scroll_on_activity(s: &str) -> Value {
    match s.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Value::Bool(true),
        "false" | "no" | "off" => Value::Bool(false),
        other => other
            .parse::<i64>()
            .map_or_else(|_| Value::String(s.to_string()), |n| json!(n)),
    }
}

pub(super) fn common_options(m: &mut Map<String, Value>, o: &CommonOptions, adding: bool) {
    let d = |v: Value| adding.then_some(v);
    put(
        m,
        "title",
        o.title.clone().map(Value::String),
        d(Value::Null),
    );
    put(
        m,
        "classes",
        o.classes.clone().map(Value::String),
        d("standard".into()),
    );
    put(
        m,
        "scroll_on_activity",
        o.scroll_on_activity.as_deref().map(scroll_on_activity),
        d(false.into()),
    );
}

pub(super) fn collapsible_options(
    m: &mut Map<String, Value>,
    o: &CollapsibleOptions,
    adding: bool,
) {
    let d = |v: Value| adding.then_some(v);
    put(
        m,
        "collapsed",
        flag_pair(o.collapsed, o.no_collapsed).map(Value::Bool),
        d(false.into()),
    );
    put(
        m,
        "top_text",
        o.top_text.clone().map(Value::String),
        d("".into()),
    );
    put(
        m,
        "bottom_text",
        o.bottom_text.clone().map(Value::String),
        d("".into()),
    );
}

fn int_option(name: &str, v: &Option<String>) -> anyhow::Result<Option<Value>> {
    match v {
        None => Ok(None),
        Some(s) => s
            .trim()
            .parse::<i64>()
            .map(|n| Some(json!(n)))
            .map_err(|_| anyhow::anyhow!("argument --{name}: invalid int value: '{s}'")),
    }
}

pub(super) fn step_options(
    m: &mut Map<String, Value>,
    o: &StepOptions,
    adding: bool,
) -> anyhow::Result<()> {
    let d = |v: Value| adding.then_some(v);
    put(m, "text", o.text.clone().map(Value::String), d("".into()));
    put(
        m,
        "auto_scroll",
        flag_pair(o.auto_scroll, o.no_auto_scroll).map(Value::Bool),
        d(true.into()),
    );
    put(
        m,
        "min_height",
        int_option("min-height", &o.min_height)?,
        d(json!(1)),
    );
    put(
        m,
        "max_height",
        int_option("max-height", &o.max_height)?,
        d(json!(25)),
    );
    Ok(())
}

pub(super) fn question_options(
    m: &mut Map<String, Value>,
    o: &QuestionOptions,
    adding: bool,
    input: bool,
    buttons: bool,
) {
    let d = |v: Value| adding.then_some(v);
    put(m, "text", o.text.clone().map(Value::String), d("".into()));
    if input {
        put(
            m,
            "placeholder",
            o.placeholder.clone().map(Value::String),
            d("".into()),
        );
        put(m, "value", o.value.clone().map(Value::String), d("".into()));
        put(
            m,
            "password",
            flag_pair(o.password, o.no_password).map(Value::Bool),
            d(false.into()),
        );
        put(m, "max_length", o.max_length.map(|n| json!(n)), d(json!(0)));
        put(
            m,
            "restrict",
            o.restrict.clone().map(Value::String),
            d("".into()),
        );
    }
    if buttons && !o.button.is_empty() {
        let triples: Vec<Value> = o.button.chunks(3).map(|c| json!(c)).collect();
        m.insert("button".into(), Value::Array(triples));
    }
}
