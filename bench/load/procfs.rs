//! Readings of the server process and the network namespace from /proc.

use std::fs;

/// User + system CPU time of a process (all its threads), in seconds.
pub fn cpu_seconds(pid: u32) -> Option<f64> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = &stat[stat.rfind(')')? + 2..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // utime and stime are fields 14 and 15 of the whole line, 12 and 13 here.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    let ticks = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .unwrap_or(100) as f64;
    Some((utime + stime) as f64 / ticks)
}

/// Resident set size in KiB.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
}

/// Scheduler statistics summed over a process's threads
/// (`/proc/<pid>/task/*/schedstat`): (nanoseconds waited on a run queue,
/// times run on a CPU). A thread that ends between two readings takes its
/// share with it; the servers start theirs before the window.
pub fn run_queue(pid: u32) -> Option<(u64, u64)> {
    let mut waited = 0;
    let mut slices = 0;
    for task in fs::read_dir(format!("/proc/{pid}/task")).ok()?.flatten() {
        let Ok(stat) = fs::read_to_string(task.path().join("schedstat")) else {
            continue;
        };
        let mut fields = stat.split_whitespace().skip(1).map(|f| f.parse::<u64>());
        if let (Some(Ok(w)), Some(Ok(s))) = (fields.next(), fields.next()) {
            waited += w;
            slices += s;
        }
    }
    Some((waited, slices))
}

/// UDP counters of this network namespace: (InErrors, RcvbufErrors).
pub fn udp_errors() -> Option<(u64, u64)> {
    let snmp = fs::read_to_string("/proc/net/snmp").ok()?;
    let mut udp = snmp.lines().filter(|l| l.starts_with("Udp:"));
    let names: Vec<&str> = udp.next()?.split_whitespace().collect();
    let values: Vec<&str> = udp.next()?.split_whitespace().collect();
    let get = |name: &str| -> Option<u64> {
        let i = names.iter().position(|n| *n == name)?;
        values.get(i)?.parse().ok()
    };
    Some((get("InErrors")?, get("RcvbufErrors")?))
}

/// CPU seconds (user + system) this generator process used so far.
pub fn own_cpu_seconds() -> f64 {
    use nix::sys::resource::{UsageWho, getrusage};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let t = |tv: nix::sys::time::TimeVal| tv.tv_sec() as f64 + tv.tv_usec() as f64 / 1e6;
            t(u.user_time()) + t(u.system_time())
        }
        Err(_) => 0.0,
    }
}

/// A snapshot at one edge of the measurement window.
#[derive(Debug, Clone, Copy, Default)]
pub struct Reading {
    pub server_cpu: f64,
    pub server_rss_kib: u64,
    /// Nanoseconds the server's threads were runnable but waited for a CPU.
    pub server_run_wait_ns: u64,
    /// Times the server's threads were put on a CPU.
    pub server_timeslices: u64,
    pub udp_in_errors: u64,
    pub udp_rcvbuf_errors: u64,
    pub own_cpu: f64,
}

pub fn read(pid: u32) -> Reading {
    let (udp_in_errors, udp_rcvbuf_errors) = udp_errors().unwrap_or_default();
    let (server_run_wait_ns, server_timeslices) = run_queue(pid).unwrap_or_default();
    Reading {
        server_cpu: cpu_seconds(pid).unwrap_or(0.0),
        server_rss_kib: rss_kib(pid).unwrap_or(0),
        server_run_wait_ns,
        server_timeslices,
        udp_in_errors,
        udp_rcvbuf_errors,
        own_cpu: own_cpu_seconds(),
    }
}

/// Sets the nice value of every thread of this process (threads started
/// later inherit it from the one that starts them). Linux applies
/// `setpriority(PRIO_PROCESS)` to one thread, named by its id.
pub fn renice_own_threads(nice: i32) -> Result<(), String> {
    let tasks = fs::read_dir("/proc/self/task").map_err(|e| format!("/proc/self/task: {e}"))?;
    for task in tasks.flatten() {
        let tid = task.file_name().to_string_lossy().parse::<i32>().ok();
        let Some(pid) = tid.and_then(rustix::process::Pid::from_raw) else {
            continue;
        };
        rustix::process::setpriority_process(Some(pid), nice)
            .map_err(|e| format!("setpriority of thread {tid:?}: {e}"))?;
    }
    Ok(())
}
