//! What the bench reads about processes and the machine from `/proc`: a process's CPU time and
//! memory, the machine's cores, memory and CPU model, the open-file limit, and the git commit.

use serde::Serialize;

/// One reading of a process's resource use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcessReading {
    /// User plus system CPU time, in clock ticks.
    pub cpu_ticks: u64,
    /// Resident memory now.
    pub rss_kb: u64,
    /// The highest resident memory so far (the kernel's high-water mark).
    pub peak_rss_kb: u64,
}

impl ProcessReading {
    /// CPU seconds used between `before` and this reading, rounded as the report rounds.
    pub fn cpu_secs_since(&self, before: &ProcessReading) -> f64 {
        super::stats::round(
            self.cpu_ticks.saturating_sub(before.cpu_ticks) as f64 / ticks_per_second(),
        )
    }
}

/// Reads `/proc/<pid>/stat` and `/proc/<pid>/status`; `None` when the process is gone.
pub fn read_process(pid: u32) -> Option<ProcessReading> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    Some(ProcessReading {
        cpu_ticks: cpu_ticks(&stat)?,
        rss_kb: status_kb(&status, "VmRSS:")?,
        peak_rss_kb: status_kb(&status, "VmHWM:")?,
    })
}

/// utime + stime from a stat line. The command name may hold spaces and parentheses, so fields are
/// counted after its closing parenthesis: there, utime and stime are the 12th and 13th.
fn cpu_ticks(stat: &str) -> Option<u64> {
    let after_name = &stat[stat.rfind(')')? + 1..];
    let mut fields = after_name.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    Some(user + system)
}

fn status_kb(status: &str, key: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with(key))?;
    line[key.len()..].split_whitespace().next()?.parse().ok()
}

/// Clock ticks per second, to turn [`ProcessReading::cpu_ticks`] into seconds.
pub fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

/// The machine the run was measured on.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cores: usize,
    pub memory_kb: Option<u64>,
    pub cpu_model: Option<String>,
    pub kernel: Option<String>,
}

pub fn machine() -> Machine {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    Machine {
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        memory_kb: status_kb(&meminfo, "MemTotal:"),
        cpu_model: cpuinfo
            .lines()
            .find(|l| l.starts_with("model name"))
            .and_then(|l| l.split_once(':'))
            .map(|(_, model)| model.trim().to_string()),
        kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
            .ok()
            .map(|r| r.trim().to_string()),
    }
}

/// The commit of the working tree the bench runs in, when it is a git checkout.
pub fn git_commit() -> Option<String> {
    let output = std::process::Command::new("git")
        .args(["rev-parse", "HEAD"])
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    let commit = String::from_utf8(output.stdout).ok()?.trim().to_string();
    (output.status.success() && !commit.is_empty()).then_some(commit)
}

/// The open-file limit after making sure `wanted` descriptors fit: the soft limit is raised towards
/// the hard one when it is lower (child processes inherit it). Returns (soft before, soft after).
pub fn raise_open_files(wanted: u64) -> (u64, u64) {
    use rustix::process::{Resource, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let before = limit.current.unwrap_or(u64::MAX);
    if before >= wanted {
        return (before, before);
    }
    let target = limit.maximum.map_or(wanted, |hard| hard.min(wanted));
    let raised = rustix::process::Rlimit {
        current: Some(target),
        maximum: limit.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => (before, target),
        Err(_) => (before, before),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_time_is_read_after_the_command_name() {
        let stat = "42 (a (b) c) S 1 42 42 0 -1 4194304 100 0 0 0 250 50 0 0 20 0 1 0 5 1000 10";
        assert_eq!(cpu_ticks(stat), Some(300));
        assert_eq!(cpu_ticks("garbage"), None);
    }

    #[test]
    fn this_process_can_be_read() {
        let me = read_process(std::process::id()).expect("own /proc entry");
        assert!(me.rss_kb > 0 && me.peak_rss_kb >= me.rss_kb);
        assert!(ticks_per_second() > 0.0);
        assert!(machine().cores >= 1);
    }
}
