//! CPU time a server process has used, from /proc (Linux). On a machine shared with other
//! work, throughput depends on what else runs; CPU per message does much less.

use std::time::Duration;

/// Reads the total user + system CPU time of a process.
#[derive(Debug, Clone, Copy)]
pub(crate) struct CpuProbe {
    pid: u32,
    ticks_per_second: f64,
}

impl CpuProbe {
    pub(crate) fn new(pid: u32, ticks_per_second: u32) -> CpuProbe {
        CpuProbe {
            pid,
            ticks_per_second: f64::from(ticks_per_second.max(1)),
        }
    }

    /// `None` when the process or /proc is not there.
    pub(crate) fn read(&self) -> Option<Duration> {
        let stat = std::fs::read_to_string(format!("/proc/{}/stat", self.pid)).ok()?;
        let ticks = parse_stat_cpu_ticks(&stat)?;
        Some(Duration::from_secs_f64(
            ticks as f64 / self.ticks_per_second,
        ))
    }
}

/// utime + stime (fields 14 and 15). The command name (field 2) is in parentheses and may hold
/// spaces, so fields are counted from the last `)`.
fn parse_stat_cpu_ticks(stat: &str) -> Option<u64> {
    let after_comm = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_comm.split_whitespace().skip(11);
    let utime: u64 = fields.next()?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_fields_are_counted_after_the_command_name() {
        let stat = "4242 (relay (x) y) S 1 4242 4242 0 -1 4194560 1541 0 0 0 250 75 0 0 20 0 6 0 \
                    1000 123456 789 18446744073709551615";
        assert_eq!(parse_stat_cpu_ticks(stat), Some(325));
        assert_eq!(parse_stat_cpu_ticks("garbage"), None);
    }

    #[test]
    fn own_process_has_used_some_cpu() {
        let probe = CpuProbe::new(std::process::id(), 100);
        let spin = std::time::Instant::now();
        while spin.elapsed() < Duration::from_millis(30) {}
        assert!(probe.read().is_some_and(|d| d > Duration::ZERO));
    }
}
