//! The console's state and the application of client messages to it. No I/O and no terminal:
//! the server feeds requests in, the TUI reads the state out.

use crate::model::{
    Button, ButtonStyle, Kind, QuestionBody, ScrollOnActivity, StepBody, StepLog, Store, Widget,
    WidgetBody,
};
use crate::settings::Settings;
use crate::text::{lines, markup};
use crate::value::{is_truthy, py_float, py_int, py_str, text};
use serde_json::{Map, Value};

/// Instance-wide properties changed by `set`.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceProps {
    pub title: String,
    pub step_position_bottom: bool,
    pub step_direction_up: bool,
    pub progress_bar: bool,
    pub progress_target: f64,
    pub progress: f64,
}

impl Default for InstanceProps {
    fn default() -> Self {
        InstanceProps {
            title: "Moulti".into(),
            step_position_bottom: false,
            step_direction_up: false,
            progress_bar: false,
            progress_target: 100.0,
            progress: 0.0,
        }
    }
}

/// What the caller must do after a message was applied.
#[derive(Debug, PartialEq)]
pub enum Outcome {
    Done,
    Answer(String),
    Failed(String),
    /// `get-answer --wait` on an unanswered question: reply when the user answers.
    Park {
        question: String,
    },
    /// Start streaming the attached descriptor into this step (its `ongoing` count is already up).
    Pass {
        step: String,
        read_size: usize,
    },
}

/// A programmatic scroll of the main list the view should perform.
#[derive(Debug, Clone, PartialEq)]
pub struct ScrollRequest {
    pub id: String,
    /// Screen line of the widget to make visible; `None` = its top.
    pub line: Option<i64>,
}

/// Reserved id of the step that receives `relay run` output.
pub const RUN_OUTPUT_ID: &str = "moulti_run_output";

pub struct Console {
    pub store: Store,
    pub props: InstanceProps,
    pub settings: Settings,
    /// Collapsed state forced on new widgets (`X`/`O` keys, `MOULTI_ENFORCE_COLLAPSIBLE`).
    pub enforce_collapsed: Option<bool>,
    pub scroll_requests: Vec<ScrollRequest>,
    /// Bumped on every change so the view knows when to redraw.
    pub generation: u64,
}

impl Console {
    pub fn new(settings: Settings) -> Self {
        Console {
            store: Store::default(),
            props: InstanceProps::default(),
            enforce_collapsed: settings.enforce_collapsed,
            settings,
            scroll_requests: Vec::new(),
            generation: 0,
        }
    }

    /// Applies one message. `request` may be rewritten the way the reference rewrites it, which
    /// matters for the echoed reply form.
    pub fn handle(&mut self, request: &mut Map<String, Value>, has_fd: bool) -> Outcome {
        self.generation += 1;
        if request.get("command").and_then(Value::as_str) == Some("pass") {
            request.insert("command".into(), "step".into());
            request.insert("action".into(), "pass".into());
        }
        let command = request.get("command").cloned().unwrap_or(Value::Null);
        let command_name = py_str(&command);
        match command.as_str().and_then(Kind::from_command) {
            Some(kind) => self.widget_command(kind, request, has_fd),
            None => match command.as_str() {
                Some("set") => self.set(request),
                Some("scroll") => self.scroll(request),
                Some("ping") => Outcome::Done,
                _ => Outcome::Failed(format!("unknown command {command_name}")),
            },
        }
    }

    fn widget_command(
        &mut self,
        kind: Kind,
        req: &mut Map<String, Value>,
        has_fd: bool,
    ) -> Outcome {
        let action = req
            .get("action")
            .map(py_str)
            .unwrap_or_else(|| "None".into());
        let action = action.replace('_', "-");
        if action == "add" {
            return self.add(kind, req);
        }
        let id = match req.get("id") {
            None | Some(Value::Null) => return Outcome::Failed("unknown id: None".into()),
            Some(v) => py_str(v),
        };
        let Some(widget) = self.store.get(&id) else {
            return Outcome::Failed(format!("unknown id: {id}"));
        };
        if !widget.kind.satisfies(kind) {
            return Outcome::Failed(format!("{id} is not a {}", kind.command()));
        }
        match action.as_str() {
            "update" => self.update(&id, req),
            "delete" => self.delete(&id),
            "clear" if kind == Kind::Step => {
                let step = self.step_mut(&id);
                step.log.clear();
                step.following = step.auto_scroll;
                step.log_offset = step.log.first();
                step.h_offset = 0;
                Outcome::Done
            }
            "append" if kind == Kind::Step => self.append(&id, req),
            "pass" if kind == Kind::Step => {
                if !has_fd {
                    return Outcome::Failed("missing file descriptor for pass operation".into());
                }
                let read_size = req
                    .get("read_size")
                    .and_then(|v| py_int(v).ok())
                    .filter(|n| *n > 0)
                    .unwrap_or(8192);
                self.step_mut(&id).ongoing += 1;
                Outcome::Pass {
                    step: id,
                    read_size: read_size as usize,
                }
            }
            "get-answer" if kind.is_question() => {
                let answer = self
                    .store
                    .get(&id)
                    .and_then(Widget::question)
                    .and_then(|q| q.answer.clone());
                match answer {
                    Some(a) => Outcome::Answer(a),
                    None if req.get("wait").is_some_and(is_truthy) => {
                        Outcome::Park { question: id }
                    }
                    None => Outcome::Failed("answer not available yet".into()),
                }
            }
            _ => Outcome::Failed(format!(
                "unknown action {}",
                req.get("action")
                    .map(py_str)
                    .unwrap_or_else(|| "None".into())
            )),
        }
    }

    fn step_mut(&mut self, id: &str) -> &mut StepBody {
        self.store
            .get_mut(id)
            .and_then(Widget::step_mut)
            .expect("checked to be a step")
    }

    fn add(&mut self, kind: Kind, req: &mut Map<String, Value>) -> Outcome {
        let id = match req.get("id") {
            None | Some(Value::Null) => return Outcome::Failed("missing id".into()),
            Some(Value::String(s)) => s.clone(),
            // The reference silently creates nothing for non-string ids; stringifying numbers
            // keeps `done: true` honest.
            Some(Value::Number(n)) => n.to_string(),
            Some(other) => {
                return Outcome::Failed(format!("invalid id {other}: ids must be strings"))
            }
        };
        if self.store.contains(&id) {
            return Outcome::Failed(format!("id {id} already in use"));
        }
        if id == RUN_OUTPUT_ID && kind != Kind::Step {
            return Outcome::Failed(format!(
                "{RUN_OUTPUT_ID} is a reserved id that must be assigned to a step"
            ));
        }
        if let Err(e) = check_id(&id) {
            return Outcome::Failed(e);
        }
        if kind != Kind::Divider {
            if let Some(forced) = self.enforce_collapsed {
                req.insert("collapsed".into(), Value::Bool(forced));
            }
        }
        let mut widget = match new_widget(kind, &id, &self.settings, req) {
            Ok(w) => w,
            Err(e) => return Outcome::Failed(e),
        };
        if let Err(e) = apply_props(&mut widget, req, true, self.settings.tab_size) {
            return Outcome::Failed(e);
        }
        self.store.push(widget);
        Outcome::Done
    }

    fn update(&mut self, id: &str, req: &mut Map<String, Value>) -> Outcome {
        if self.enforce_collapsed.is_some() {
            req.remove("collapsed");
        }
        let tab = self.settings.tab_size;
        let widget = self.store.get_mut(id).expect("checked");
        if let Err(e) = validate_props(widget.kind, req, false) {
            return Outcome::Failed(e);
        }
        match apply_props(widget, req, false, tab) {
            Ok(()) => Outcome::Done,
            Err(e) => Outcome::Failed(e),
        }
    }

    fn delete(&mut self, id: &str) -> Outcome {
        let ongoing = self
            .store
            .get(id)
            .and_then(Widget::step)
            .map_or(0, |s| s.ongoing);
        if ongoing > 0 {
            return Outcome::Failed(format!(
                "cannot proceed with deletion as {ongoing} ongoing operations prevent it"
            ));
        }
        self.store.remove(id);
        Outcome::Done
    }

    fn append(&mut self, id: &str, req: &Map<String, Value>) -> Outcome {
        let pieces: Vec<String> = match req.get("text") {
            None | Some(Value::Null) => {
                return Outcome::Failed("missing text for append operation".into())
            }
            Some(Value::Array(items)) => items.iter().map(py_str).collect(),
            // The reference iterates a plain string character by character; so do we, since
            // scripts written against it may rely on it.
            Some(Value::String(s)) => s.chars().map(String::from).collect(),
            Some(other) => vec![py_str(other)],
        };
        // A final LF is implied; split_text ends an unterminated last line the same way.
        let joined = pieces.join("\n");
        let tab = self.settings.tab_size;
        self.append_lines(id, lines::split_text(&joined, tab));
        Outcome::Done
    }

    /// Appends already split lines to a step (used by `append`, `pass` and run output).
    pub fn append_lines(&mut self, id: &str, new_lines: Vec<lines::LogLine>) {
        self.generation += 1;
        if let Some(widget) = self.store.get_mut(id) {
            let soa = widget.scroll_on_activity;
            if let Some(step) = widget.step_mut() {
                if new_lines.is_empty() {
                    return;
                }
                step.log.extend(new_lines);
                let request = match soa {
                    ScrollOnActivity::Never => None,
                    ScrollOnActivity::Widget => Some(ScrollRequest {
                        id: id.into(),
                        line: None,
                    }),
                    ScrollOnActivity::Line(n) => Some(ScrollRequest {
                        id: id.into(),
                        line: Some(n),
                    }),
                };
                // Consecutive appends to one step ask for the same scroll once.
                if let Some(r) = request.filter(|r| self.scroll_requests.last() != Some(r)) {
                    self.scroll_requests.push(r);
                }
            }
        }
    }

    /// A pass into `id` finished (the step may have been deleted meanwhile... it cannot, since
    /// delete is refused while passes run, but be tolerant).
    pub fn pass_finished(&mut self, id: &str) {
        if let Some(step) = self.store.get_mut(id).and_then(Widget::step_mut) {
            step.ongoing = step.ongoing.saturating_sub(1);
        }
    }

    /// Creates the `relay run` output step if needed and marks it as being fed.
    pub fn start_run_output(&mut self) {
        if !self.store.contains(RUN_OUTPUT_ID) {
            let mut req = Map::new();
            req.insert("collapsed".into(), Value::Bool(false));
            if let Ok(mut w) = new_widget(Kind::Step, RUN_OUTPUT_ID, &self.settings, &req) {
                w.collapsed = false;
                self.store.push(w);
            }
        }
        if let Some(step) = self.store.get_mut(RUN_OUTPUT_ID).and_then(Widget::step_mut) {
            step.ongoing += 1;
        }
        self.generation += 1;
    }

    fn set(&mut self, req: &Map<String, Value>) -> Outcome {
        let get = |k: &str| req.get(k).filter(|v| !v.is_null());
        let mut props = self.props.clone();
        if let Some(t) = get("title") {
            let t = py_str(t);
            if let Err(e) = markup::validate(&t) {
                return Outcome::Failed(e.0);
            }
            props.title = t;
        }
        if let Some(p) = get("step_position") {
            props.step_position_bottom = p.as_str() == Some("bottom");
        }
        if let Some(d) = get("step_direction") {
            props.step_direction_up = d.as_str() == Some("up");
        }
        if let Some(b) = get("progress_bar") {
            props.progress_bar = is_truthy(b);
        }
        if let Some(t) = get("progress_target") {
            match py_float(t) {
                Ok(f) => props.progress_target = f,
                Err(e) => return Outcome::Failed(e),
            }
        }
        if let Some(p) = get("progress") {
            let s = py_str(p);
            match py_float(p) {
                Ok(f) if s.starts_with('+') || s.starts_with('-') => props.progress += f,
                Ok(f) => props.progress = f,
                Err(e) => return Outcome::Failed(e),
            }
        }
        self.props = props;
        Outcome::Done
    }

    fn scroll(&mut self, req: &Map<String, Value>) -> Outcome {
        let id = req.get("id").map(py_str).unwrap_or_else(|| "None".into());
        if !self.store.contains(&id) {
            return Outcome::Failed(format!("unknown id: {id}"));
        }
        let line = req.get("offset").and_then(|v| py_int(v).ok());
        self.scroll_requests.push(ScrollRequest { id, line });
        Outcome::Done
    }

    /// Records the user's answer to a question. Returns false if it was already answered.
    pub fn answer(&mut self, id: &str, answer: String) -> bool {
        match self.store.get_mut(id).and_then(Widget::question_mut) {
            Some(q) if q.answer.is_none() => {
                q.answer = Some(answer);
                self.generation += 1;
                true
            }
            _ => false,
        }
    }
}

/// Textual's identifier rule applied to the internal name `step_<id>`.
fn check_id(id: &str) -> Result<(), String> {
    if id
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
    {
        Ok(())
    } else {
        Err(format!(
            "'step_{id}' is an invalid id; identifiers must contain only letters, numbers, underscores, or hyphens, and must not begin with a number."
        ))
    }
}

fn new_widget(
    kind: Kind,
    id: &str,
    settings: &Settings,
    req: &Map<String, Value>,
) -> Result<Widget, String> {
    validate_props(kind, req, true)?;
    let body = match kind {
        Kind::Step => WidgetBody::Step(StepBody {
            log: StepLog::new(settings.max_lines),
            auto_scroll: true,
            following: true,
            log_offset: 0,
            min_height: 1,
            max_height: 25,
            ongoing: 0,
            h_offset: 0,
        }),
        Kind::Divider => WidgetBody::Divider,
        _ => {
            let mut q = QuestionBody::default();
            if kind.has_buttons() {
                q.buttons = match req.get("button") {
                    Some(v) if !v.is_null() => parse_buttons(v)?,
                    _ => default_buttons(),
                };
            }
            WidgetBody::Question(q)
        }
    };
    Ok(Widget {
        id: id.to_string(),
        kind,
        title: None,
        classes: String::new(),
        scroll_on_activity: ScrollOnActivity::Never,
        // A raw add without `collapsed` starts collapsed, like the reference's toolkit default.
        collapsed: kind != Kind::Divider,
        top_text: String::new(),
        bottom_text: String::new(),
        body,
    })
}

fn default_buttons() -> Vec<Button> {
    [
        ("yes", ButtonStyle::Success, "Yes"),
        ("no", ButtonStyle::Error, "No"),
        ("cancel", ButtonStyle::Primary, "Cancel"),
    ]
    .into_iter()
    .map(|(v, s, l)| Button {
        value: v.into(),
        style: s,
        label: l.into(),
    })
    .collect()
}

fn parse_buttons(v: &Value) -> Result<Vec<Button>, String> {
    let Value::Array(items) = v else {
        return Err("button must be a list of [value, style, label] triples".into());
    };
    items
        .iter()
        .map(|item| {
            let triple = item.as_array().filter(|a| a.len() == 3).ok_or("each button must be a [value, style, label] triple")?;
            let style = py_str(&triple[1]);
            let style = ButtonStyle::parse(&style).ok_or_else(|| {
                format!("invalid style '{style}'. Valid button variants are 'default', 'error', 'primary', 'success', or 'warning'")
            })?;
            let label = py_str(&triple[2]);
            markup::validate(&label).map_err(|e| e.0)?;
            Ok(Button { value: py_str(&triple[0]), style, label })
        })
        .collect()
}

const MARKUP_KEYS: [&str; 3] = ["title", "top_text", "bottom_text"];

/// Checks every provided property before anything is applied, so a bad value changes nothing.
fn validate_props(kind: Kind, req: &Map<String, Value>, _adding: bool) -> Result<(), String> {
    for key in MARKUP_KEYS {
        if let Some(v) = req.get(key) {
            markup::validate(&text(v)).map_err(|e| e.0)?;
        }
    }
    if kind.is_question() {
        if let Some(v) = req.get("text") {
            markup::validate(&text(v)).map_err(|e| e.0)?;
        }
        if kind.has_buttons() {
            if let Some(v) = req.get("button").filter(|v| !v.is_null()) {
                parse_buttons(v)?;
            }
        }
        if kind.has_input() {
            if let Some(v) = req.get("max_length").filter(|v| !v.is_null()) {
                py_int(v)?;
            }
            if let Some(v) = req.get("restrict") {
                let r = text(v);
                if !r.is_empty() {
                    regex::Regex::new(&r).map_err(|e| format!("invalid restrict pattern: {e}"))?;
                }
            }
        }
    }
    if kind == Kind::Step {
        for key in ["min_height", "max_height"] {
            if let Some(v) = req.get(key).filter(|v| !v.is_null()) {
                py_int(v)?;
            }
        }
    }
    if let Some(v) = req.get("scroll_on_activity") {
        parse_scroll_on_activity(v)?;
    }
    Ok(())
}

fn parse_scroll_on_activity(v: &Value) -> Result<ScrollOnActivity, String> {
    Ok(match v {
        Value::Null | Value::Bool(false) => ScrollOnActivity::Never,
        Value::Bool(true) => ScrollOnActivity::Widget,
        Value::String(s) if s.eq_ignore_ascii_case("false") || s.is_empty() => {
            ScrollOnActivity::Never
        }
        Value::String(s) if s.eq_ignore_ascii_case("true") => ScrollOnActivity::Widget,
        other => ScrollOnActivity::Line(py_int(other)?),
    })
}

/// Applies provided properties (on add, missing ones keep the defaults set by `new_widget`).
fn apply_props(
    w: &mut Widget,
    req: &Map<String, Value>,
    adding: bool,
    tab_size: usize,
) -> Result<(), String> {
    if let Some(v) = req.get("title") {
        w.title = match v {
            Value::Null => None,
            other => Some(py_str(other)),
        };
    }
    if let Some(v) = req.get("classes") {
        w.classes = text(v);
    }
    if let Some(v) = req.get("scroll_on_activity") {
        w.scroll_on_activity = parse_scroll_on_activity(v)?;
    }
    if w.collapsible() {
        if let Some(v) = req.get("collapsed") {
            w.collapsed = is_truthy(v);
        }
        if let Some(v) = req.get("top_text") {
            w.top_text = text(v);
        }
        if let Some(v) = req.get("bottom_text") {
            w.bottom_text = text(v);
        }
    }
    let kind = w.kind;
    match &mut w.body {
        WidgetBody::Step(step) => {
            if let Some(v) = req.get("auto_scroll") {
                step.auto_scroll = is_truthy(v);
                step.following = step.auto_scroll;
            }
            if let Some(v) = req.get("min_height").filter(|v| !v.is_null()) {
                step.min_height = py_int(v)?;
            }
            if let Some(v) = req.get("max_height").filter(|v| !v.is_null()) {
                step.max_height = py_int(v)?;
            }
            if let Some(v) = req.get("text") {
                let t = text(v);
                step.log.clear();
                step.h_offset = 0;
                step.log.extend(lines::split_text(&t, tab_size));
                if !adding {
                    step.following = step.auto_scroll;
                }
            }
        }
        WidgetBody::Question(q) => {
            if let Some(v) = req.get("text") {
                q.text = text(v);
            }
            if kind.has_input() {
                if let Some(v) = req.get("placeholder") {
                    q.placeholder = text(v);
                }
                if let Some(v) = req.get("value") {
                    q.value = text(v);
                }
                if let Some(v) = req.get("password") {
                    q.password = is_truthy(v);
                }
                if let Some(v) = req.get("max_length").filter(|v| !v.is_null()) {
                    q.max_length = py_int(v)?;
                }
                if let Some(v) = req.get("restrict") {
                    q.restrict = text(v);
                }
            }
        }
        WidgetBody::Divider => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
