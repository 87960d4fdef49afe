//! `relay run`: the child's environment, its output pipe and its lifetime.

use crate::console::RUN_OUTPUT_ID;
use crate::instance::Senders;
use crate::server::{spawn_reader, Event};
use crate::settings::RunOutput;
use crate::ConsoleError;
use std::process::Stdio;
use tokio::sync::watch;

/// Variables `relay run` adds for the child (the same as `moulti run`, minus the Ansible
/// integration, which needs the Python package's callback plugin).
pub fn run_environment(
    socket_printable: &str,
    get: &dyn Fn(&str) -> Option<String>,
) -> Vec<(String, String)> {
    let mut env = vec![
        ("MOULTI_RUN".to_string(), "moulti".to_string()),
        (
            "MOULTI_SOCKET_PATH".to_string(),
            socket_printable.to_string(),
        ),
        (
            "MOULTI_INSTANCE_PID".to_string(),
            std::process::id().to_string(),
        ),
    ];
    if get("SSH_ASKPASS").is_none() {
        env.push(("SSH_ASKPASS".into(), "moulti-askpass".into()));
        env.push(("SSH_ASKPASS_REQUIRE".into(), "force".into()));
    }
    if get("SUDO_ASKPASS").is_none() {
        if let Some(path) = which("moulti-askpass", get) {
            env.push(("SUDO_ASKPASS".into(), path));
        }
    }
    env
}

fn which(program: &str, get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let path = get("PATH")?;
    path.split(':')
        .filter(|d| !d.is_empty())
        .map(|d| std::path::Path::new(d).join(program))
        .find(|p| p.is_file())
        .map(|p| p.display().to_string())
}

/// A running child: its pid and a flag that turns false when it exits.
pub struct RunningChild {
    pub pid: u32,
    pub running: watch::Receiver<bool>,
}

/// Starts the child once the socket listens: stdin from /dev/null, stdout and stderr into one
/// pipe harvested into the `moulti_run_output` step (or discarded, or inherited).
pub fn spawn_child(
    command: &[String],
    env: &[(String, String)],
    output: RunOutput,
    tab_size: usize,
    senders: &Senders,
) -> Result<RunningChild, ConsoleError> {
    let spawn_err = |source| ConsoleError::Spawn {
        command: command.join(" "),
        source,
    };
    let mut cmd = tokio::process::Command::new(&command[0]);
    cmd.args(&command[1..])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdin(Stdio::null());
    let mut reader = None;
    match output {
        RunOutput::Harvest => {
            let (r, w) = pipe().map_err(spawn_err)?;
            let w2 = w.try_clone().map_err(spawn_err)?;
            cmd.stdout(Stdio::from(w)).stderr(Stdio::from(w2));
            reader = Some(r);
        }
        RunOutput::Discard => {
            cmd.stdout(Stdio::null()).stderr(Stdio::null());
        }
        RunOutput::Ignore => {}
    }
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The parent's copies of the write end are gone with `cmd`; drop it so EOF can happen.
    drop(cmd);
    let pid = child.id().unwrap_or(0);
    if let Some(r) = reader {
        spawn_reader(r, RUN_OUTPUT_ID.to_string(), tab_size, senders.data.clone());
    }
    let (tx, rx) = watch::channel(true);
    let control = senders.control.clone();
    tokio::spawn(async move {
        let status = child.wait().await;
        let _ = tx.send(false);
        let text = match status {
            Ok(s) => format!("run: child process {pid} exited: {s}"),
            Err(e) => format!("run: cannot wait for child process {pid}: {e}"),
        };
        let _ = control.send(Event::Log(text));
    });
    Ok(RunningChild { pid, running: rx })
}

/// A close-on-exec pipe (read end, write end).
fn pipe() -> std::io::Result<(std::os::fd::OwnedFd, std::os::fd::OwnedFd)> {
    let (read, write) = std::io::pipe()?;
    Ok((read.into(), write.into()))
}

/// Sends SIGTERM to the child.
pub fn terminate(pid: u32) {
    if let Some(pid) = rustix::process::Pid::from_raw(pid as i32) {
        let _ = rustix::process::kill_process(pid, rustix::process::Signal::TERM);
    }
}
