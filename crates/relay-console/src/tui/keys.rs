//! Key and mouse handling: turns input events into view changes, instance changes (answers,
//! collapse) and effects the terminal loop performs (quit, save, clipboard).

use super::layout::{self, log_height, log_start, log_total, row_of_line, set_log_start};
use super::render::{display_order, list_layout, maximized_height, reveal};
use super::search::{find, Field};
use super::view::{Focus, Part, QuitDialog, ViewState};
use crate::instance::Instance;
use crate::model::{Kind, Widget, WidgetBody};
use crate::text::{ansi, markup};
use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

/// What the terminal loop must do after an input event.
#[derive(Debug, PartialEq, Eq)]
pub enum Effect {
    Nothing,
    Quit { terminate_child: bool },
    Save,
    Copy(String),
}

pub fn handle_key(
    instance: &mut Instance,
    view: &mut ViewState,
    key: KeyEvent,
    child_running: bool,
) -> Effect {
    if key.kind == KeyEventKind::Release {
        return Effect::Nothing;
    }
    view.quit_child_running = child_running;
    if view.show_help {
        view.show_help = false;
        return Effect::Nothing;
    }
    if view.quit_dialog.is_some() {
        return quit_dialog_key(instance, view, key, child_running);
    }
    if view.search.open {
        search_key(instance, view, key);
        return Effect::Nothing;
    }
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if let Some(f) = view.focus.clone() {
        if f.part == Part::Input && !ctrl && input_key(instance, view, &f.id, key) {
            return Effect::Nothing;
        }
    }
    match (key.code, ctrl) {
        (KeyCode::Char('q'), _) => return request_quit(instance, view, child_running),
        (KeyCode::Char('c'), true) => view.notify("Press q or ctrl+q to quit", false),
        (KeyCode::Tab, _) => move_focus(instance, view, true),
        (KeyCode::BackTab, _) => move_focus(instance, view, false),
        (KeyCode::Char('y'), true) => next_question(instance, view, true),
        (KeyCode::Char('t'), true) => next_question(instance, view, false),
        (KeyCode::Char('x'), true) => {
            set_all_collapsed(instance, view, false);
            force_new(instance, view, false);
        }
        (KeyCode::Char('o'), true) => {
            set_all_collapsed(instance, view, true);
            force_new(instance, view, true);
        }
        (KeyCode::Char('x'), false) if view.maximized.is_none() => {
            set_all_collapsed(instance, view, false)
        }
        (KeyCode::Char('o'), false) if view.maximized.is_none() => {
            set_all_collapsed(instance, view, true)
        }
        (KeyCode::Char('X'), false) => force_new(instance, view, false),
        (KeyCode::Char('O'), false) => force_new(instance, view, true),
        (KeyCode::Char('s'), false) if view.maximized.is_none() => return Effect::Save,
        (KeyCode::Char('z'), false) if view.maximized.is_none() => {
            view.show_console = !view.show_console
        }
        (KeyCode::Char('d'), false) => view.light = !view.light,
        (KeyCode::Char('h'), false) => view.show_help = true,
        (KeyCode::Char('l'), false) => view.locked = !view.locked,
        (KeyCode::Char('/'), false) => open_search(view, false),
        (KeyCode::Char('?'), _) => open_search(view, true),
        (KeyCode::Char('n'), false) => search_again(instance, view, false),
        (KeyCode::Char('N'), _) => search_again(instance, view, true),
        (KeyCode::Char('c'), false) => return copy(instance, view, false),
        (KeyCode::Char('w'), false) => return copy(instance, view, true),
        (KeyCode::Char('f'), false) => toggle_maximize(instance, view),
        (KeyCode::Enter, _) | (KeyCode::Char(' '), false) => activate(instance, view),
        (KeyCode::Esc, _) if view.maximized.is_some() => view.maximized = None,
        (code, _) => scroll_key(instance, view, code, ctrl),
    }
    Effect::Nothing
}

fn request_quit(instance: &Instance, view: &mut ViewState, child_running: bool) -> Effect {
    use crate::settings::{DefaultQuit, RunningQuit};
    let s = &instance.console.settings;
    if child_running {
        match s.quit_running {
            RunningQuit::Leave => {
                return Effect::Quit {
                    terminate_child: false,
                }
            }
            RunningQuit::Terminate => {
                return Effect::Quit {
                    terminate_child: true,
                }
            }
            RunningQuit::Ask => {}
        }
    } else if s.quit_default == DefaultQuit::Quit {
        return Effect::Quit {
            terminate_child: false,
        };
    }
    view.quit_dialog = Some(QuitDialog::Stay);
    view.quit_presses = 1;
    Effect::Nothing
}

fn quit_dialog_key(
    _instance: &mut Instance,
    view: &mut ViewState,
    key: KeyEvent,
    child: bool,
) -> Effect {
    let choice = view.quit_dialog.unwrap_or(QuitDialog::Stay);
    let choices: &[QuitDialog] = if child {
        &[QuitDialog::Stay, QuitDialog::Leave, QuitDialog::Terminate]
    } else {
        &[QuitDialog::Stay, QuitDialog::Quit]
    };
    let activate = |c: QuitDialog, view: &mut ViewState| match c {
        QuitDialog::Stay => {
            view.quit_dialog = None;
            Effect::Nothing
        }
        QuitDialog::Quit | QuitDialog::Leave => Effect::Quit {
            terminate_child: false,
        },
        QuitDialog::Terminate => Effect::Quit {
            terminate_child: true,
        },
    };
    match key.code {
        KeyCode::Esc => activate(QuitDialog::Stay, view),
        KeyCode::Char('l') if child => activate(QuitDialog::Leave, view),
        KeyCode::Char('t') if child => activate(QuitDialog::Terminate, view),
        KeyCode::Char('q') if !child && !key.modifiers.contains(KeyModifiers::CONTROL) => {
            // Pressing quit again escalates, as in the reference.
            escalate(view, choices)
        }
        KeyCode::Char('q') => escalate(view, choices),
        KeyCode::Enter => activate(choice, view),
        KeyCode::Tab | KeyCode::Down | KeyCode::Right => {
            let i = choices.iter().position(|c| *c == choice).unwrap_or(0);
            view.quit_dialog = Some(choices[(i + 1) % choices.len()]);
            Effect::Nothing
        }
        KeyCode::BackTab | KeyCode::Up | KeyCode::Left => {
            let i = choices.iter().position(|c| *c == choice).unwrap_or(0);
            view.quit_dialog = Some(choices[(i + choices.len() - 1) % choices.len()]);
            Effect::Nothing
        }
        _ => Effect::Nothing,
    }
}

fn escalate(view: &mut ViewState, choices: &[QuitDialog]) -> Effect {
    view.quit_presses += 1;
    let step = view.quit_presses as usize - 1;
    if step >= choices.len() {
        let last = *choices.last().expect("choices");
        return Effect::Quit {
            terminate_child: last == QuitDialog::Terminate,
        };
    }
    view.quit_dialog = Some(choices[step]);
    Effect::Nothing
}

fn open_search(view: &mut ViewState, backward: bool) {
    view.search.open = true;
    view.search.backward = backward;
    view.search.input.clear();
    view.search.history_pos = None;
}

fn search_key(instance: &mut Instance, view: &mut ViewState, key: KeyEvent) {
    let s = &mut view.search;
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Esc => s.open = false,
        KeyCode::Backspace if s.input.is_empty() => s.open = false,
        KeyCode::Backspace => {
            s.input.pop();
        }
        KeyCode::Char('r') if ctrl => s.plain = !s.plain,
        KeyCode::Char('t') if ctrl => s.case_insensitive = !s.case_insensitive,
        KeyCode::Up if !s.history.is_empty() => {
            let pos = s
                .history_pos
                .map_or(s.history.len() - 1, |p| p.saturating_sub(1));
            s.history_pos = Some(pos);
            s.input = s.history[pos].clone();
        }
        KeyCode::Down => {
            if let Some(p) = s.history_pos {
                if p + 1 < s.history.len() {
                    s.history_pos = Some(p + 1);
                    s.input = s.history[p + 1].clone();
                } else {
                    s.history_pos = None;
                    s.input.clear();
                }
            }
        }
        KeyCode::Enter => {
            if s.input.is_empty() {
                s.open = false;
                return;
            }
            let Ok(re) = s.compile() else { return };
            s.remember();
            s.pattern = Some(re);
            s.open = false;
            s.current = None;
            let backward = s.backward;
            search_again(instance, view, backward);
        }
        KeyCode::Char(c) if !ctrl => s.input.push(c),
        _ => {}
    }
}

/// Finds the next match of the last pattern (`reverse` flips the original direction).
fn search_again(instance: &mut Instance, view: &mut ViewState, reverse: bool) {
    let Some(re) = view.search.pattern.clone() else {
        view.notify("No search pattern yet: press / to search", true);
        return;
    };
    let backward = view.search.backward != reverse;
    let found = {
        let mut widgets = display_order(&instance.console);
        // A maximized log hides the other widgets; a match there could not be shown.
        if let Some(id) = view.maximized.as_deref() {
            widgets.retain(|w| w.id == id);
        }
        find(
            &instance.console.props.title,
            &widgets,
            &re,
            backward,
            view.search.current.as_ref(),
        )
    };
    let Some(m) = found else {
        view.notify(format!("not found: {}", re.as_str()), true);
        return;
    };
    if m.field == Field::Header {
        // Always on screen; there is no widget to open or scroll to.
        view.search.current = Some(m);
        return;
    }
    let mut part = Part::Title;
    if let Some(w) = instance
        .console
        .store
        .get_mut(&m.id)
        .filter(|w| w.collapsible())
    {
        w.collapsed = false;
    }
    let drawn = instance
        .console
        .store
        .get(&m.id)
        .and_then(|w| maximized_height(w, view));
    if let Some(w) = instance.console.store.get_mut(&m.id) {
        if let (Field::Log, Some(step)) = (m.field, w.step_mut()) {
            let h = drawn.unwrap_or_else(|| log_height(step));
            let row = row_of_line(step, m.line);
            let start = log_start(step, h);
            if row < start || row >= start + h {
                step.following = false;
                set_log_start(step, row.saturating_sub(h / 2));
            }
            part = Part::Log;
        }
    }
    view.focus = Some(Focus {
        id: m.id.clone(),
        part,
    });
    view.search.current = Some(m.clone());
    // Bring the matching row into the list viewport.
    let layout = list_layout(&instance.console, view);
    if let Some((w, top, s)) = layout.iter().find(|(w, _, _)| w.id == m.id) {
        let row = match m.field {
            Field::Header | Field::Title => m.line,
            Field::Top => s.title + m.line,
            Field::Text => s.title + s.top + m.line,
            Field::Log => {
                let step = w.step().expect("log match in a step");
                let start = log_start(step, s.body);
                s.title + s.top + row_of_line(step, m.line).saturating_sub(start)
            }
            Field::Bottom => s.title + s.top + s.body + m.line,
        };
        let (top, height) = (*top, s.height());
        reveal(view, top, height);
        reveal(view, top + row, 1);
    }
}

/// Typing into a focused, unanswered input. Returns false for keys the input does not take.
fn input_key(instance: &mut Instance, view: &mut ViewState, id: &str, key: KeyEvent) -> bool {
    let Some(q) = instance
        .console
        .store
        .get_mut(id)
        .and_then(Widget::question_mut)
    else {
        return false;
    };
    if q.answer.is_some() {
        return false;
    }
    match key.code {
        KeyCode::Char(c) => {
            let mut candidate = q.value.clone();
            candidate.push(c);
            let too_long = q.max_length > 0 && candidate.chars().count() as i64 > q.max_length;
            let restricted = !q.restrict.is_empty()
                && regex::Regex::new(&format!("^(?:{})$", q.restrict))
                    .is_ok_and(|re| !re.is_match(&candidate));
            if !too_long && !restricted {
                q.value = candidate;
            }
        }
        KeyCode::Backspace => {
            q.value.pop();
        }
        KeyCode::Enter => {
            let answer = q.value.clone();
            instance.answer(id, answer);
            let _ = view;
        }
        _ => return false,
    }
    instance.console.generation += 1;
    true
}

/// Focusable parts in display order.
fn focus_targets(instance: &Instance, view: &ViewState) -> Vec<Focus> {
    let mut out = Vec::new();
    for (w, _, _) in list_layout(&instance.console, view) {
        out.push(Focus {
            id: w.id.clone(),
            part: Part::Title,
        });
        if w.collapsed {
            continue;
        }
        match &w.body {
            WidgetBody::Step(s) if log_total(s) > log_height(s) || view.maximized.is_some() => out
                .push(Focus {
                    id: w.id.clone(),
                    part: Part::Log,
                }),
            WidgetBody::Question(q) if q.answer.is_none() => {
                if w.kind.has_input() {
                    out.push(Focus {
                        id: w.id.clone(),
                        part: Part::Input,
                    });
                }
                if w.kind.has_buttons() {
                    out.extend((0..q.buttons.len()).map(|i| Focus {
                        id: w.id.clone(),
                        part: Part::Button(i),
                    }));
                }
            }
            _ => {}
        }
    }
    out
}

fn move_focus(instance: &Instance, view: &mut ViewState, forward: bool) {
    let targets = focus_targets(instance, view);
    if targets.is_empty() {
        view.focus = None;
        return;
    }
    let current = view
        .focus
        .as_ref()
        .and_then(|f| targets.iter().position(|t| t == f));
    let next = match (current, forward) {
        (None, true) => 0,
        (None, false) => targets.len() - 1,
        (Some(i), true) => (i + 1) % targets.len(),
        (Some(i), false) => (i + targets.len() - 1) % targets.len(),
    };
    view.focus = Some(targets[next].clone());
    reveal_focus(instance, view);
}

fn reveal_focus(instance: &Instance, view: &mut ViewState) {
    let Some(f) = view.focus.clone() else { return };
    let layout = list_layout(&instance.console, view);
    if let Some((_, top, s)) = layout.iter().find(|(w, _, _)| w.id == f.id) {
        let (top, height) = (*top, s.height());
        match f.part {
            Part::Title => reveal(view, top, s.title),
            _ => reveal(view, top, height),
        }
    }
}

fn next_question(instance: &mut Instance, view: &mut ViewState, forward: bool) {
    let ids: Vec<String> = {
        let order = display_order(&instance.console);
        order
            .iter()
            .filter(|w| w.question().is_some_and(|q| q.answer.is_none()))
            .map(|w| w.id.clone())
            .collect()
    };
    if ids.is_empty() {
        return;
    }
    let all: Vec<String> = display_order(&instance.console)
        .iter()
        .map(|w| w.id.clone())
        .collect();
    let cur = view
        .focused_id()
        .and_then(|id| all.iter().position(|x| x == id));
    let pos_of = |id: &String| all.iter().position(|x| x == id).unwrap_or(0);
    let target = match (cur, forward) {
        (Some(c), true) => ids.iter().find(|id| pos_of(id) > c).or(ids.first()),
        (Some(c), false) => ids.iter().rev().find(|id| pos_of(id) < c).or(ids.last()),
        (None, true) => ids.first(),
        (None, false) => ids.last(),
    }
    .cloned()
    .expect("non-empty");
    let w = instance.console.store.get_mut(&target).expect("exists");
    w.collapsed = false;
    let part = if w.kind.has_input() {
        Part::Input
    } else {
        Part::Button(0)
    };
    view.focus = Some(Focus { id: target, part });
    reveal_focus(instance, view);
}

fn set_all_collapsed(instance: &mut Instance, _view: &mut ViewState, collapsed: bool) {
    for w in instance.console.store.iter_mut() {
        if w.collapsible() {
            w.collapsed = collapsed;
        }
    }
    instance.console.generation += 1;
}

fn force_new(instance: &mut Instance, view: &mut ViewState, collapsed: bool) {
    let word = if collapsed { "collapsing" } else { "expanding" };
    if instance.console.enforce_collapsed == Some(collapsed) {
        instance.console.enforce_collapsed = None;
        view.notify(format!("No longer {word} new steps"), false);
    } else {
        instance.console.enforce_collapsed = Some(collapsed);
        let mut w = word.to_string();
        w[..1].make_ascii_uppercase();
        view.notify(format!("{w} new steps"), false);
    }
}

fn activate(instance: &mut Instance, view: &mut ViewState) {
    let Some(f) = view.focus.clone() else { return };
    match f.part {
        Part::Title => {
            if let Some(w) = instance.console.store.get_mut(&f.id) {
                if w.collapsible() {
                    w.collapsed = !w.collapsed;
                    instance.console.generation += 1;
                }
            }
        }
        Part::Button(i) => press_button(instance, &f.id, i),
        Part::Input | Part::Log => {}
    }
}

pub(super) fn press_button(instance: &mut Instance, id: &str, i: usize) {
    let Some(w) = instance.console.store.get(id) else {
        return;
    };
    let Some(q) = w.question() else { return };
    if q.answer.is_some() {
        return;
    }
    let Some(b) = q.buttons.get(i) else { return };
    let answer = if w.kind == Kind::Question {
        b.value.replace("{input}", &q.value)
    } else {
        b.value.clone()
    };
    instance.answer(id, answer);
}

fn copy(instance: &Instance, view: &mut ViewState, extended: bool) -> Effect {
    let Some(w) = view
        .focused_id()
        .and_then(|id| instance.console.store.get(id))
    else {
        return Effect::Nothing;
    };
    let text = match &w.body {
        WidgetBody::Step(s) => {
            let mut out = String::new();
            for l in s.log.iter() {
                out.push_str(&if extended {
                    l.replace('\r', "")
                } else {
                    ansi::strip(l)
                });
                if extended && l.contains('\x1b') {
                    out.push_str("\x1b[0m");
                }
                out.push('\n');
            }
            out
        }
        WidgetBody::Divider => markup::plain(w.display_title()),
        WidgetBody::Question(q) => {
            let answer = q.answer.clone().unwrap_or_default();
            if extended {
                format!("Q: {}\nA: {answer}\n", markup::plain(&q.text))
            } else {
                answer
            }
        }
    };
    view.notify("Copied to the clipboard", false);
    Effect::Copy(text)
}

fn toggle_maximize(instance: &Instance, view: &mut ViewState) {
    if view.maximized.take().is_some() {
        reveal_focus(instance, view);
        return;
    }
    if let Some(f) = &view.focus {
        if instance
            .console
            .store
            .get(&f.id)
            .is_some_and(|w| w.step().is_some() && !w.collapsed)
        {
            view.maximized = Some(f.id.clone());
            view.scroll_y = 0;
        }
    }
}

fn scroll_key(instance: &mut Instance, view: &mut ViewState, code: KeyCode, ctrl: bool) {
    let page = view.list_height.max(1);
    // A focused log takes the scrolling keys; otherwise the list does.
    if let Some(f) = view.focus.clone() {
        let maximized = view.maximized.as_deref() == Some(f.id.as_str());
        if f.part == Part::Log || maximized {
            // The height the log is drawn with (a maximized one leaves room for its texts).
            let drawn = instance
                .console
                .store
                .get(&f.id)
                .and_then(|w| maximized_height(w, view));
            if let Some(step) = instance
                .console
                .store
                .get_mut(&f.id)
                .and_then(Widget::step_mut)
            {
                let h = drawn.unwrap_or_else(|| log_height(step));
                let start = log_start(step, h);
                let max_start = log_total(step).saturating_sub(h);
                // Far enough right that the end of the widest line is at the right edge (log rows
                // show the list width minus 4 cells of text).
                let max_h_offset = step
                    .log
                    .width()
                    .saturating_sub((view.width as usize).saturating_sub(4));
                let set = |step: &mut crate::model::StepBody, v: usize| {
                    step.following = false;
                    set_log_start(step, v.min(max_start));
                };
                match (code, ctrl) {
                    (KeyCode::Up, _) => set(step, start.saturating_sub(1)),
                    (KeyCode::Down, _) => set(step, start + 1),
                    (KeyCode::PageUp, false) => set(step, start.saturating_sub(h)),
                    (KeyCode::PageDown, false) => set(step, start + h),
                    (KeyCode::Home, _) => set(step, 0),
                    (KeyCode::End, _) => {
                        step.following = step.auto_scroll;
                        set_log_start(step, max_start);
                    }
                    (KeyCode::Left, _) => step.h_offset = step.h_offset.saturating_sub(1),
                    (KeyCode::Right, _) => step.h_offset = (step.h_offset + 1).min(max_h_offset),
                    (KeyCode::PageUp, true) => {
                        step.h_offset = step.h_offset.saturating_sub(view.width as usize)
                    }
                    (KeyCode::PageDown, true) => {
                        step.h_offset = (step.h_offset + view.width as usize).min(max_h_offset)
                    }
                    _ => {}
                }
                instance.console.generation += 1;
                return;
            }
        }
    }
    match code {
        KeyCode::Up => view.scroll_y = view.scroll_y.saturating_sub(1),
        KeyCode::Down => view.scroll_y += 1,
        KeyCode::PageUp => view.scroll_y = view.scroll_y.saturating_sub(page),
        KeyCode::PageDown => view.scroll_y += page,
        KeyCode::Home => view.scroll_y = 0,
        KeyCode::End => view.scroll_y = usize::MAX / 2,
        _ => {}
    }
}

pub fn handle_mouse(instance: &mut Instance, view: &mut ViewState, ev: MouseEvent) {
    match ev.kind {
        MouseEventKind::ScrollUp | MouseEventKind::ScrollDown => {
            let up = ev.kind == MouseEventKind::ScrollUp;
            // The wheel over a log scrolls that log, elsewhere the list.
            let over_log = view
                .hits
                .iter()
                .find(|h| h.y == ev.row && h.part == Part::Log)
                .map(|h| h.id.clone());
            if let Some(id) = over_log {
                let drawn = instance
                    .console
                    .store
                    .get(&id)
                    .and_then(|w| maximized_height(w, view));
                if let Some(step) = instance
                    .console
                    .store
                    .get_mut(&id)
                    .and_then(Widget::step_mut)
                {
                    let h = drawn.unwrap_or_else(|| log_height(step));
                    if log_total(step) > h {
                        let start = log_start(step, h);
                        let max_start = log_total(step).saturating_sub(h);
                        step.following = false;
                        let row = if up {
                            start.saturating_sub(3)
                        } else {
                            (start + 3).min(max_start)
                        };
                        set_log_start(step, row);
                        if !up && row == max_start {
                            step.following = step.auto_scroll;
                        }
                        instance.console.generation += 1;
                        return;
                    }
                }
            }
            view.scroll_y = if up {
                view.scroll_y.saturating_sub(3)
            } else {
                view.scroll_y + 3
            };
        }
        MouseEventKind::Down(MouseButton::Left) => {
            if view.show_help {
                view.show_help = false;
                return;
            }
            let Some(hit) = view.hits.iter().find(|h| h.y == ev.row).cloned() else {
                return;
            };
            match hit.part {
                Part::Title => {
                    view.focus = Some(Focus {
                        id: hit.id.clone(),
                        part: Part::Title,
                    });
                    if let Some(w) = instance.console.store.get_mut(&hit.id) {
                        if w.collapsible() {
                            w.collapsed = !w.collapsed;
                            instance.console.generation += 1;
                        }
                    }
                }
                Part::Button(_) => {
                    let button = instance
                        .console
                        .store
                        .get(&hit.id)
                        .and_then(|w| layout::button_at(w, ev.column));
                    if let Some(i) = button {
                        view.focus = Some(Focus {
                            id: hit.id.clone(),
                            part: Part::Button(i),
                        });
                        press_button(instance, &hit.id, i);
                    }
                }
                part => view.focus = Some(Focus { id: hit.id, part }),
            }
        }
        _ => {}
    }
}
