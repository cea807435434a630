//! The server process as the kernel sees it: CPU time from the scheduler's per-thread run time
//! (`/proc/<pid>/task/*/schedstat`, falling back to utime + stime of `/proc/<pid>/stat`),
//! resident memory from `/proc/<pid>/status` (VmRSS), its open file descriptors and sockets
//! (`/proc/<pid>/fd`), and which process listens on a TCP port (`/proc/net/tcp{,6}`, then the
//! socket's inode among the processes' descriptors).
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

/// Open file descriptors of `pid` and, of them, sockets: `(fds, sockets)`, or `None` if
/// `/proc/<pid>/fd` cannot be listed (not our process, or gone) or is empty (a zombie: a
/// running process has at least its standard streams or whatever replaced them).
pub fn fd_counts(pid: u32) -> Option<(usize, usize)> {
    let (mut fds, mut sockets) = (0, 0);
    for entry in std::fs::read_dir(format!("/proc/{pid}/fd")).ok()? {
        let Ok(entry) = entry else { continue };
        fds += 1;
        // A descriptor closed between the listing and the readlink is simply not a socket.
        if std::fs::read_link(entry.path())
            .is_ok_and(|target| target.to_string_lossy().starts_with("socket:"))
        {
            sockets += 1;
        }
    }
    (fds > 0).then_some((fds, sockets))
}

/// The process (among those whose descriptors we may read) that has a TCP socket listening
/// on `port`, any address, IPv4 or IPv6.
pub fn pid_listening_on(port: u16) -> Option<u32> {
    let inodes: Vec<u64> = ["/proc/net/tcp", "/proc/net/tcp6"]
        .iter()
        .filter_map(|path| std::fs::read_to_string(path).ok())
        .flat_map(|text| listening_inodes(&text, port))
        .collect();
    if inodes.is_empty() {
        return None;
    }
    let wanted: Vec<String> = inodes.iter().map(|i| format!("socket:[{i}]")).collect();
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|n| n.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if wanted.iter().any(|w| target.as_os_str() == w.as_str()) {
                    return Some(pid);
                }
            }
        }
    }
    None
}

/// The inodes of the sockets listening (state `0A`) on `port` in the text of `/proc/net/tcp`
/// or `/proc/net/tcp6`.
pub fn listening_inodes(text: &str, port: u16) -> Vec<u64> {
    text.lines()
        .skip(1)
        .filter_map(|line| {
            let f: Vec<&str> = line.split_ascii_whitespace().collect();
            // sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
            let local_port = f.get(1)?.rsplit_once(':')?.1;
            let listening = *f.get(3)? == "0A";
            (listening && u16::from_str_radix(local_port, 16).ok()? == port)
                .then(|| f.get(9)?.parse().ok())
                .flatten()
        })
        .collect()
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
    fn finds_listening_sockets() {
        let text = "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode\n   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000  1000        0 4242 1 0 100 0 0 10 0\n   1: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000  1000        0 4343 1 0 100 0 0 10 0\n   2: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 77 1 0 100 0 0 10 0\n";
        assert_eq!(
            listening_inodes(text, 8080),
            vec![4242],
            "the listener, not the peer"
        );
        assert_eq!(listening_inodes(text, 80), vec![77]);
        assert!(listening_inodes(text, 9).is_empty());
        assert!(listening_inodes("garbage\nx y z\n", 8080).is_empty());
    }

    #[test]
    fn counts_and_finds_own_sockets() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let pid = std::process::id();
        assert_eq!(pid_listening_on(port), Some(pid));
        let (fds, sockets) = fd_counts(pid).unwrap();
        // The listener at least (other tests of this binary open sockets too).
        assert!(
            fds > sockets && sockets >= 1,
            "{fds} fds, {sockets} sockets"
        );
        assert_eq!(fd_counts(u32::MAX), None);
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
