//! CPU time of each contender's processes, from /proc (Linux): the Relay nodes, the PostgreSQL
//! server (postmaster, every backend and background worker) and this load generator. On two
//! shared cores, throughput says little about where the time goes; CPU per cycle per process
//! says what to cut.

use std::time::Duration;

/// One `/proc/<pid>/stat` reading: (utime + stime, cutime + cstime, ppid).
fn stat(pid: u32) -> Option<(u64, u64, u32)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) is in parentheses and may hold spaces: count from the last `)`.
    let fields: Vec<&str> = text[text.rfind(')')? + 1..].split_whitespace().collect();
    let num = |i: usize| -> Option<u64> { fields.get(i)?.parse().ok() };
    // After the name: state is field 3, so field N is fields[N - 3].
    let ppid = u32::try_from(num(4 - 3)?).ok()?;
    Some((
        num(14 - 3)? + num(15 - 3)?,
        num(16 - 3)? + num(17 - 3)?,
        ppid,
    ))
}

/// The processes to watch.
#[derive(Clone)]
pub(crate) struct Watched {
    ticks_per_second: f64,
    postmaster: u32,
}

/// CPU used so far, per process group.
#[derive(Clone, Copy, Default)]
pub(crate) struct Reading {
    pub nodes: Duration,
    pub postgres: Duration,
    pub generator: Duration,
}

impl Watched {
    /// `backend` is the pid of any backend of the server (`pg_backend_pid()`); its parent is
    /// the postmaster, whose other children are the rest of the server.
    pub(crate) fn new(backend: u32, ticks_per_second: u32) -> Option<Watched> {
        let (_, _, postmaster) = stat(backend)?;
        Some(Watched {
            ticks_per_second: f64::from(ticks_per_second.max(1)),
            postmaster,
        })
    }

    fn time(&self, ticks: u64) -> Duration {
        Duration::from_secs_f64(ticks as f64 / self.ticks_per_second)
    }

    /// The nodes' own CPU (with their threads), the whole PostgreSQL server's, and this
    /// process's. Backends that ended since the last reading count through the postmaster's
    /// reaped-children time, so a run's connections opened and closed within it are counted.
    pub(crate) fn read(&self, nodes: &[u32]) -> Reading {
        let own = |pid: u32| stat(pid).map_or(0, |(t, _, _)| t);
        let mut postgres = stat(self.postmaster).map_or(0, |(t, c, _)| t + c);
        if let Ok(dir) = std::fs::read_dir("/proc") {
            for entry in dir.flatten() {
                let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse().ok()) else {
                    continue;
                };
                if let Some((t, _, ppid)) = stat(pid) {
                    if ppid == self.postmaster {
                        postgres += t;
                    }
                }
            }
        }
        Reading {
            nodes: self.time(nodes.iter().map(|&p| own(p)).sum()),
            postgres: self.time(postgres),
            generator: self.time(own(std::process::id())),
        }
    }
}

impl Reading {
    /// What was used between `before` and `self`.
    pub(crate) fn since(&self, before: &Reading) -> Reading {
        Reading {
            nodes: self.nodes.saturating_sub(before.nodes),
            postgres: self.postgres.saturating_sub(before.postgres),
            generator: self.generator.saturating_sub(before.generator),
        }
    }

    pub(crate) fn add(&mut self, other: &Reading) {
        self.nodes += other.nodes;
        self.postgres += other.postgres;
        self.generator += other.generator;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_read_with_its_parent() {
        let (_, _, ppid) = stat(std::process::id()).expect("own stat");
        assert_eq!(ppid, std::os::unix::process::parent_id());
    }
}
