//! Instance settings read once from the environment at start-up.

use std::path::PathBuf;

/// What happens to `relay run`'s child output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunOutput {
    Harvest,
    Discard,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunningQuit {
    Ask,
    Leave,
    Terminate,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DefaultQuit {
    Ask,
    Quit,
}

#[derive(Debug, Clone)]
pub struct Settings {
    pub tab_size: usize,
    /// Per-step line limit; older lines are dropped beyond it.
    pub max_lines: usize,
    /// Largest accepted message payload in bytes.
    pub max_message: u64,
    pub pass_concurrency: usize,
    pub allowed_uids: Vec<u32>,
    pub allowed_gids: Vec<u32>,
    /// `Some(true)`: force new widgets collapsed; `Some(false)`: expanded.
    pub enforce_collapsed: Option<bool>,
    pub run_output: RunOutput,
    pub quit_running: RunningQuit,
    pub quit_default: DefaultQuit,
    pub save_path: Option<PathBuf>,
    pub light: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            tab_size: 8,
            max_lines: 1_000_000,
            max_message: 64 * 1024 * 1024,
            pass_concurrency: 20,
            allowed_uids: Vec::new(),
            allowed_gids: Vec::new(),
            enforce_collapsed: None,
            run_output: RunOutput::Harvest,
            quit_running: RunningQuit::Ask,
            quit_default: DefaultQuit::Quit,
            save_path: None,
            light: false,
        }
    }
}

impl Settings {
    /// Reads `MOULTI_*` variables (and Relay's own `RELAY_CONSOLE_*`) through `get`.
    pub fn from_lookup(get: impl Fn(&str) -> Option<String>) -> Settings {
        let mut s = Settings::default();
        if let Some(n) = get("MOULTI_TAB_SIZE").and_then(|v| v.trim().parse().ok()) {
            s.tab_size = n;
        }
        if let Some(n) = get("RELAY_CONSOLE_MAX_LINES").and_then(|v| v.trim().parse::<usize>().ok())
        {
            s.max_lines = n.max(1);
        }
        if let Some(n) = get("RELAY_CONSOLE_MAX_MESSAGE").and_then(|v| v.trim().parse::<u64>().ok())
        {
            s.max_message = n;
        }
        if let Some(n) = get("MOULTI_PASS_CONCURRENCY").and_then(|v| v.trim().parse::<usize>().ok())
        {
            s.pass_concurrency = n.max(1);
        }
        s.allowed_uids = get("MOULTI_ALLOWED_UID")
            .and_then(|v| parse_id_list(&v))
            .unwrap_or_default();
        s.allowed_gids = get("MOULTI_ALLOWED_GID")
            .and_then(|v| parse_id_list(&v))
            .unwrap_or_default();
        s.enforce_collapsed = match get("MOULTI_ENFORCE_COLLAPSIBLE").as_deref() {
            Some("collapse") => Some(true),
            Some("expand") => Some(false),
            _ => None,
        };
        s.run_output = match get("MOULTI_RUN_OUTPUT").as_deref() {
            Some("discard") => RunOutput::Discard,
            Some("ignore") => RunOutput::Ignore,
            _ => RunOutput::Harvest,
        };
        if let Some(policy) = get("MOULTI_QUIT_POLICY") {
            for part in policy.split(';') {
                match part.trim().split_once('=') {
                    Some(("running", "ask")) => s.quit_running = RunningQuit::Ask,
                    Some(("running", "leave")) => s.quit_running = RunningQuit::Leave,
                    Some(("running", "terminate")) => s.quit_running = RunningQuit::Terminate,
                    Some(("default", "ask")) => s.quit_default = DefaultQuit::Ask,
                    Some(("default", "quit")) => s.quit_default = DefaultQuit::Quit,
                    _ => {}
                }
            }
        }
        s.save_path = get("MOULTI_SAVE_PATH")
            .filter(|p| !p.is_empty())
            .map(PathBuf::from);
        s.light = get("MOULTI_MODE").as_deref() == Some("light");
        s
    }

    pub fn from_env() -> Settings {
        Settings::from_lookup(|k| std::env::var(k).ok())
    }
}

/// A comma-separated list of integers; any bad element voids the whole list, as in the reference.
fn parse_id_list(v: &str) -> Option<Vec<u32>> {
    v.split(',').map(|p| p.trim().parse::<u32>().ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allow_lists_are_all_or_nothing() {
        assert_eq!(parse_id_list("1,2"), Some(vec![1, 2]));
        assert_eq!(parse_id_list("1,x"), None);
        assert_eq!(parse_id_list(""), None);
    }

    #[test]
    fn quit_policy() {
        let s = Settings::from_lookup(|k| {
            (k == "MOULTI_QUIT_POLICY").then(|| "running=terminate;default=ask".into())
        });
        assert_eq!(s.quit_running, RunningQuit::Terminate);
        assert_eq!(s.quit_default, DefaultQuit::Ask);
    }
}
