//! The server process as the kernel sees it: CPU time from the scheduler's per-thread run time
//! (`/proc/<pid>/task/*/schedstat`, falling back to utime + stime of `/proc/<pid>/stat`) and
//! resident memory from `/proc/<pid>/status` (VmRSS).
//!
//! Why not utime + stime: with tick-based accounting (`CONFIG_TICK_CPU_ACCOUNTING`, the common
//! distribution setting) and an idle tickless CPU, they are sampled at timer ticks, and a
//! server that wakes for a packet burst and sleeps again before the next tick is never
//! charged: `rtcdn-floor` forwarding 8,500 packets/s on loopback measured 0.00 s that way.
//! The scheduler's run time is measured on every context switch.
//!
//! Owns: reading and parsing those files. Must not touch the server otherwise.

use std::time::Duration;

/// Clock ticks per second of `/proc/<pid>/stat` times (`sysconf(_SC_CLK_TCK)`, 100 on every
/// mainstream Linux architecture).
const CLK_TCK: u64 = 100;

/// Total CPU time of `pid`'s threads: the scheduler's run time summed over
/// `/proc/<pid>/task/*/schedstat`, else user + system time from `/proc/<pid>/stat`; `None` if
/// neither can be read.
pub fn cpu_time(pid: u32) -> Option<Duration> {
    schedstat_cpu(pid).or_else(|| {
        let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat_cpu(&text)
    })
}

/// The run time of every current thread of `pid`, summed (`None` without schedstat).
fn schedstat_cpu(pid: u32) -> Option<Duration> {
    let mut total = Duration::ZERO;
    let mut threads = 0;
    for entry in std::fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        // A thread that exits between the listing and the read has nothing more to add.
        if let Ok(text) = std::fs::read_to_string(path) {
            total += parse_schedstat(&text)?;
            threads += 1;
        }
    }
    (threads > 0).then_some(total)
}

/// The first field of a `schedstat` line: nanoseconds on a CPU.
pub fn parse_schedstat(text: &str) -> Option<Duration> {
    let ns: u64 = text.split_ascii_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

/// Resident set size of `pid` in KiB, or `None`.
pub fn rss_kib(pid: u32) -> Option<u64> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status_rss(&text)
}

/// Total CPU time of all `pids` (e.g. an origin and an edge), `None` if there are none or one
/// cannot be read.
pub fn cpu_time_all(pids: &[u32]) -> Option<Duration> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| cpu_time(p)).sum()
}

/// Resident set size of all `pids` in KiB, `None` if there are none or one cannot be read.
pub fn rss_kib_all(pids: &[u32]) -> Option<u64> {
    if pids.is_empty() {
        return None;
    }
    pids.iter().map(|&p| rss_kib(p)).sum()
}

/// utime + stime from the text of `/proc/<pid>/stat`. The command name (field 2) may hold
/// spaces and parentheses, so fields are counted after its last `)`.
pub fn parse_stat_cpu(text: &str) -> Option<Duration> {
    let rest = &text[text.rfind(')')? + 1..];
    let mut fields = rest.split_ascii_whitespace();
    // After the name: state is field 3, utime field 14, stime field 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    let ticks = utime + stime;
    Some(Duration::from_millis(ticks * 1000 / CLK_TCK))
}

/// VmRSS in KiB from the text of `/proc/<pid>/status`.
pub fn parse_status_rss(text: &str) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_ascii_whitespace().nth(1)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_stat_with_odd_name() {
        let text = "1234 (rt cdn) (x)) S 1 1234 1234 0 -1 4194560 100 0 0 0 250 50 0 0 20 0 3 0";
        assert_eq!(parse_stat_cpu(text), Some(Duration::from_secs(3)));
        assert_eq!(parse_stat_cpu("garbage"), None);
        assert_eq!(parse_stat_cpu("1 (a) S 1 2"), None);
        assert_eq!(parse_stat_cpu(""), None);
    }

    #[test]
    fn parses_schedstat() {
        assert_eq!(
            parse_schedstat("1234567890 55 7\n"),
            Some(Duration::from_nanos(1_234_567_890))
        );
        assert_eq!(parse_schedstat(""), None);
        assert_eq!(parse_schedstat("x 1 2"), None);
    }

    #[test]
    fn counts_every_thread() {
        use std::sync::atomic::{AtomicBool, AtomicI32, Ordering};
        use std::sync::Arc;
        let pid = std::process::id();
        let stop = Arc::new(AtomicBool::new(false));
        let tid = Arc::new(AtomicI32::new(0));
        let spin = {
            let (stop, tid) = (stop.clone(), tid.clone());
            std::thread::spawn(move || {
                // SAFETY: gettid has no preconditions.
                tid.store(unsafe { libc::gettid() }, Ordering::SeqCst);
                while !stop.load(Ordering::Relaxed) {
                    std::hint::spin_loop();
                }
            })
        };
        let spinner = || {
            let id = tid.load(Ordering::SeqCst);
            let text = std::fs::read_to_string(format!("/proc/{pid}/task/{id}/schedstat"));
            text.ok().and_then(|t| parse_schedstat(&t))
        };
        // Bounded wait until the spinner has run a while (it outruns this sleeping thread).
        for _ in 0..400 {
            if spinner().is_some_and(|d| d > Duration::from_millis(20)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        let alone = spinner().expect("the spinner's schedstat");
        let total = cpu_time(pid).unwrap();
        stop.store(true, Ordering::Relaxed);
        spin.join().unwrap();
        assert!(
            total >= alone,
            "process {total:?} < one of its threads {alone:?}"
        );
    }

    #[test]
    fn parses_status_rss() {
        let text = "Name:\trtcdn\nVmPeak:\t  100 kB\nVmRSS:\t   20480 kB\nThreads: 3\n";
        assert_eq!(parse_status_rss(text), Some(20480));
        assert_eq!(parse_status_rss("Name: x\n"), None);
        assert_eq!(parse_status_rss("VmRSS: lots kB\n"), None);
    }

    #[test]
    fn reads_own_process() {
        let pid = std::process::id();
        assert!(cpu_time(pid).is_some());
        assert!(rss_kib(pid).is_some_and(|kib| kib > 0));
        assert_eq!(cpu_time(u32::MAX), None);
        assert_eq!(cpu_time_all(&[]), None);
        assert_eq!(cpu_time_all(&[pid, u32::MAX]), None, "one unreadable pid");
        assert!(cpu_time_all(&[pid, pid]).is_some());
        assert!(rss_kib_all(&[pid, pid]).unwrap() >= rss_kib(pid).unwrap());
    }
}
