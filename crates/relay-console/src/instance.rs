//! The single owner of the console state. Events are applied strictly in arrival order and each
//! reply is queued only after its change is applied, so a client that got `done: true` for an
//! `add` can use the new widget at once, from any connection.

use crate::console::{Console, Outcome, RUN_OUTPUT_ID};
use crate::server::{spawn_pass, Conn, Event, PassTarget};
use crate::settings::Settings;
use relay_wire::console::{build_reply, to_python_json};
use serde_json::{Map, Value};
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;
use tokio::sync::{mpsc, Semaphore};

/// Lines kept for the `z` console panel.
const LOG_LINES: usize = 500;
/// Pass chunks buffered between readers and the instance; readers wait when it is full, which
/// bounds memory without ever blocking the instance itself.
pub const DATA_QUEUE: usize = 256;

/// Receiving ends of the two event queues: control (requests, logs) is unbounded and served
/// first; data (pass lines) is bounded.
pub struct Queues {
    pub control: mpsc::UnboundedReceiver<Event>,
    pub data: mpsc::Receiver<Event>,
}

/// Sending ends, handed to the listener and to `relay run`'s output reader.
#[derive(Clone)]
pub struct Senders {
    pub control: mpsc::UnboundedSender<Event>,
    pub data: mpsc::Sender<Event>,
}

pub fn queues() -> (Senders, Queues) {
    let (ctx, crx) = mpsc::unbounded_channel();
    let (dtx, drx) = mpsc::channel(DATA_QUEUE);
    (
        Senders {
            control: ctx,
            data: dtx,
        },
        Queues {
            control: crx,
            data: drx,
        },
    )
}

/// A client parked on `get-answer --wait`, with the request to answer.
type Waiter = (Conn, Map<String, Value>);

pub struct Instance {
    pub console: Console,
    /// Clients parked on `get-answer --wait`, per question id.
    waiters: HashMap<String, Vec<Waiter>>,
    pub log: VecDeque<String>,
    senders: Senders,
    permits: Arc<Semaphore>,
    /// Whether `relay run` output has started feeding its step.
    run_output_started: bool,
}

impl Instance {
    pub fn new(settings: Settings, senders: Senders) -> Self {
        let permits = Arc::new(Semaphore::new(settings.pass_concurrency));
        Instance {
            console: Console::new(settings),
            waiters: HashMap::new(),
            log: VecDeque::new(),
            senders,
            permits,
            run_output_started: false,
        }
    }

    pub fn senders(&self) -> &Senders {
        &self.senders
    }

    pub fn push_log(&mut self, line: String) {
        if self.log.len() == LOG_LINES {
            self.log.pop_front();
        }
        self.log.push_back(format!("{} {line}", timestamp()));
    }

    /// Applies one event. Must run inside the runtime (passes spawn tasks).
    pub fn apply(&mut self, event: Event) {
        match event {
            Event::Log(line) => self.push_log(line),
            Event::Lines { step, lines } => {
                // Run output creates its step on the first line, as the reference does.
                if step == RUN_OUTPUT_ID && !self.run_output_started {
                    self.run_output_started = true;
                    self.console.start_run_output();
                }
                self.console.append_lines(&step, lines)
            }
            Event::PassDone {
                step,
                reply_to,
                error,
            } => {
                if reply_to.is_some() || self.run_output_started {
                    self.console.pass_finished(&step);
                }
                self.console.generation += 1;
                if let Some((conn, request)) = reply_to {
                    self.reply(&conn, &request, error.as_deref(), None);
                }
            }
            Event::Request {
                conn,
                mut request,
                fd,
            } => self.request(conn, &mut request, fd),
            // Parked waiters of a gone client would keep its socket open until an answer.
            Event::Closed { conn } => self.waiters.retain(|_, list| {
                list.retain(|(c, _)| c.id != conn);
                !list.is_empty()
            }),
        }
    }

    fn request(
        &mut self,
        conn: Conn,
        request: &mut Map<String, Value>,
        fd: Option<std::os::fd::OwnedFd>,
    ) {
        self.push_log(format!("{}: => message={}", conn.label, log_json(request)));
        let is_delete = request.get("action").and_then(Value::as_str) == Some("delete");
        let outcome = self.console.handle(request, fd.is_some());
        match outcome {
            Outcome::Done => {
                if is_delete {
                    if let Some(id) = request.get("id").map(crate::value::py_str) {
                        self.release_waiters(&id);
                    }
                }
                self.reply(&conn, request, None, None)
            }
            Outcome::Answer(a) => self.reply(&conn, request, None, Some(&a)),
            Outcome::Failed(e) => self.reply(&conn, request, Some(&e), None),
            Outcome::Park { question } => self
                .waiters
                .entry(question)
                .or_default()
                .push((conn, request.clone())),
            Outcome::Pass { step, read_size } => {
                let fd = fd.expect("pass outcome implies a descriptor");
                let target = PassTarget {
                    step,
                    reply_to: Some((conn, request.clone())),
                };
                spawn_pass(
                    fd,
                    target,
                    read_size,
                    self.console.settings.tab_size,
                    self.senders.data.clone(),
                    self.permits.clone(),
                );
            }
        }
    }

    /// Deleting a question must not leave its waiters hanging forever (the reference does).
    fn release_waiters(&mut self, id: &str) {
        for (conn, request) in self.waiters.remove(id).unwrap_or_default() {
            self.reply(
                &conn,
                &request,
                Some("no answer from end user: the question was deleted"),
                None,
            );
        }
    }

    fn reply(
        &mut self,
        conn: &Conn,
        request: &Map<String, Value>,
        error: Option<&str>,
        answer: Option<&str>,
    ) {
        let reply = build_reply(request, error, answer);
        self.push_log(format!("{}: <= message={}", conn.label, log_json(&reply)));
        conn.send(&reply);
    }

    /// The user answered a question: record it and answer every parked client.
    pub fn answer(&mut self, id: &str, answer: String) {
        if self.console.answer(id, answer.clone()) {
            for (conn, request) in self.waiters.remove(id).unwrap_or_default() {
                self.reply(&conn, &request, None, Some(&answer));
            }
        }
    }

    /// Number of clients waiting on a question (for tests and the view).
    pub fn waiting(&self, id: &str) -> usize {
        self.waiters.get(id).map_or(0, Vec::len)
    }
}

/// Longest message text kept in a console log line.
const LOG_MESSAGE_CHARS: usize = 1000;

/// A message as shown in the console log, cut short so huge texts do not pile up in memory.
fn log_json(m: &Map<String, Value>) -> String {
    let mut text = to_python_json(&Value::Object(m.clone()));
    if text.len() > LOG_MESSAGE_CHARS {
        let mut cut = LOG_MESSAGE_CHARS;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let total = text.len();
        text.truncate(cut);
        text.push_str(&format!("… ({total} bytes)"));
    }
    text
}

/// Waits for the next event, control first. `None` when every sender is gone.
pub async fn next_event(q: &mut Queues) -> Option<Event> {
    tokio::select! {
        biased;
        Some(e) = q.control.recv() => Some(e),
        Some(e) = q.data.recv() => Some(e),
        else => None,
    }
}

/// Applies events with no terminal attached (tests, benchmarks of the protocol alone).
pub async fn run_headless(mut instance: Instance, mut queues: Queues) {
    while let Some(event) = next_event(&mut queues).await {
        instance.apply(event);
        // Nobody scrolls a screen that is not there.
        instance.console.scroll_requests.clear();
    }
}

/// `YYYY-MM-DDTHH:MM:SS.mmm` in UTC, without pulling a date crate in.
fn timestamp() -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let secs = now.as_secs();
    let (days, rem) = (secs / 86_400, secs % 86_400);
    let (y, m, d) = relay_wire::calendar::civil_from_days(days as i64);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        now.subsec_millis()
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn huge_messages_are_cut_in_the_log() {
        let mut m = serde_json::Map::new();
        m.insert("text".into(), "é".repeat(100_000).into());
        let line = super::log_json(&m);
        assert!(line.len() < 1100, "{}", line.len());
        assert!(line.ends_with("bytes)"));
    }
}
