//! `--server-cpus`: the bench's own server on some CPUs, the bench itself (callers and stand-ins) on
//! the others. On a small machine the two otherwise share every core, and the server's latency near
//! capacity is as much the callers' load as its own; split, each side's figures are its own.

use rustix::process::Pid;
use rustix::thread::{CpuSet, sched_getaffinity, sched_setaffinity};
use serde::Serialize;

use super::BenchError;

/// Which CPUs each side ran on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CpuSplit {
    pub server: Vec<usize>,
    pub bench: Vec<usize>,
}

/// CPU numbers, as `--server-cpus` gives them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CpuList(pub Vec<usize>);

/// A CPU list as `taskset -c` takes it: `0`, `0,2`, `0-3`.
pub fn parse_cpu_list(list: &str) -> Result<CpuList, String> {
    let mut cpus = Vec::new();
    for part in list.split(',').map(str::trim) {
        let (first, last) = part.split_once('-').unwrap_or((part, part));
        let parse = |s: &str| {
            s.trim()
                .parse::<usize>()
                .map_err(|_| format!("expected CPU numbers like 0 or 0,2 or 0-3, got {list:?}"))
        };
        let (first, last) = (parse(first)?, parse(last)?);
        if first > last || last >= CpuSet::MAX_CPU {
            return Err(format!("bad CPU range {part:?}"));
        }
        cpus.extend(first..=last);
    }
    cpus.sort_unstable();
    cpus.dedup();
    Ok(CpuList(cpus))
}

/// Gives `server` to the server and moves every thread of this process onto the CPUs it may use
/// that are not the server's. Threads started later inherit it from the thread that starts them.
pub fn split(server: &[usize]) -> Result<CpuSplit, BenchError> {
    let allowed = sched_getaffinity(None).map_err(|e| BenchError::Io {
        what: "--server-cpus: reading this process's CPUs".to_string(),
        source: e.into(),
    })?;
    let bench: Vec<usize> = (0..CpuSet::MAX_CPU)
        .filter(|&cpu| allowed.is_set(cpu) && !server.contains(&cpu))
        .collect();
    if bench.is_empty() || !server.iter().all(|&cpu| allowed.is_set(cpu)) {
        return Err(BenchError::Io {
            what: "--server-cpus".to_string(),
            source: std::io::Error::other(
                "must name CPUs this process may use, and leave at least one for the callers",
            ),
        });
    }
    let bench_set = cpu_set(&bench);
    let tasks = std::fs::read_dir("/proc/self/task").map_err(BenchError::io("/proc/self/task"))?;
    for task in tasks.flatten() {
        let tid = task
            .file_name()
            .to_str()
            .and_then(|s| s.parse::<i32>().ok());
        if let Some(pid) = tid.and_then(Pid::from_raw) {
            // A thread that exited since the listing is no matter.
            let _ = sched_setaffinity(Some(pid), &bench_set);
        }
    }
    Ok(CpuSplit {
        server: server.to_vec(),
        bench,
    })
}

pub fn cpu_set(cpus: &[usize]) -> CpuSet {
    let mut set = CpuSet::new();
    for &cpu in cpus {
        set.set(cpu);
    }
    set
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cpu_lists_read_as_taskset_writes_them() {
        let list = |cpus: &[usize]| Ok(CpuList(cpus.to_vec()));
        assert_eq!(parse_cpu_list("0"), list(&[0]));
        assert_eq!(parse_cpu_list("2,0"), list(&[0, 2]));
        assert_eq!(parse_cpu_list("0-2,1"), list(&[0, 1, 2]));
        assert!(parse_cpu_list("").is_err());
        assert!(parse_cpu_list("a").is_err());
        assert!(parse_cpu_list("3-1").is_err());
    }
}
