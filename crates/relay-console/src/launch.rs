//! Starting an instance: `relay init` and `relay run`.

use crate::instance::{queues, Instance};
use crate::run::{run_environment, spawn_child, terminate};
use crate::server::{bind, resolve_address, serve};
use crate::settings::Settings;
use crate::tui::{self, TuiExit, ViewState};
use crate::ConsoleError;

/// Exit status when the socket cannot be bound, as with the reference.
pub const EXIT_CANNOT_LISTEN: u8 = 100;

/// Runs an instance in this terminal until the user quits; `command` is `relay run`'s child.
/// Returns the process exit status.
pub fn launch(command: Option<Vec<String>>) -> Result<u8, ConsoleError> {
    let get = |k: &str| std::env::var(k).ok();
    let settings = Settings::from_env();
    let address = resolve_address(&get);
    let instance_name = get("MOULTI_INSTANCE")
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "default".into());
    let mut listener = match bind(&address) {
        Ok(l) => l,
        Err(e) => {
            eprintln!("Fatal: {}", relay_wire::error_chain::ErrorChain(&e));
            eprintln!("Tip: if another instance is using this name, start this one under another name, e.g. MOULTI_INSTANCE=$$ relay init");
            return Ok(EXIT_CANNOT_LISTEN);
        }
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(ConsoleError::Terminal)?;
    let (senders, q) = queues();
    let instance = Instance::new(settings.clone(), senders.clone());
    let view = ViewState::new(instance_name, settings.light);
    let exit = runtime.block_on(async {
        let serve_settings = settings.clone();
        let control = senders.control.clone();
        tokio::spawn(async move { serve(&mut listener, serve_settings, control).await });
        let child = match &command {
            Some(cmd) => {
                let env = run_environment(&address.printable(), &get);
                Some(spawn_child(
                    cmd,
                    &env,
                    settings.run_output,
                    settings.tab_size,
                    &senders,
                )?)
            }
            None => None,
        };
        let pid = child.as_ref().map(|c| c.pid);
        let mut running = child.as_ref().map(|c| c.running.clone());
        let exit = tui::run(instance, q, view, child.map(|c| c.running)).await?;
        if let (TuiExit::QuitTerminate, Some(pid)) = (exit, pid) {
            terminate(pid);
            // Give the child a moment to handle SIGTERM before our exit hangs up the terminal.
            if let Some(rx) = running.as_mut() {
                let _ =
                    tokio::time::timeout(std::time::Duration::from_secs(2), rx.wait_for(|r| !*r))
                        .await;
            }
        }
        Ok::<_, ConsoleError>(exit)
    })?;
    let _ = exit;
    // Passes blocked on terminals or pipes must not keep the process alive.
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    Ok(0)
}
