//! The WCS `/?action=stat` page: writing ours (every node serves it) and reading another
//! node's (the origin's poller), plus the CPU load figures it carries.
//!
//! Owns the text format and the CPU arithmetic only. The caller reads `/proc` and passes the
//! text and `now` in; nothing here touches files, sockets or the clock.
//!
//! Format (WCS): section headers `-----Name Stats-----`, the first line always a header, then
//! `key=value` lines. CPU loads are fractions from 0 to 1, like Java's
//! `OperatingSystemMXBean.getSystemCpuLoad()` that WCS reports. rtcdn adds a `-----Node
//! Stats-----` section with `draining=true|false`: a draining node (SIGTERM) still answers,
//! with its load, but an origin's balancer sends it no new viewer.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use super::balancer::NodeStats;

/// The counters a node reports about itself.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct StatPage {
    /// Open websocket connections.
    pub connections: usize,
    /// Published streams (`streams_webrtc_in`).
    pub streams_in: usize,
    /// Players (`streams_webrtc_out`).
    pub players: usize,
    /// Publishers plus players (`calls`).
    pub calls: usize,
    /// CPU cores usable by the process (`availableProcessors`).
    pub available_processors: usize,
    /// Whole-machine CPU load, 0 to 1 (`systemCpuLoad`).
    pub system_cpu_load: f64,
    /// This process's share of all cores, 0 to 1 (`processCpuLoad`).
    pub process_cpu_load: f64,
    /// The node is draining before it stops (`draining`).
    pub draining: bool,
}

impl StatPage {
    /// The page as WCS writes it.
    pub fn render(&self) -> String {
        let mut out = String::with_capacity(512);
        let w = &mut out;
        // Writing into a String cannot fail.
        let _ = writeln!(w, "-----Connection Stats-----");
        let _ = writeln!(w, "connections={}", self.connections);
        let _ = writeln!(w, "connections_websocket={}", self.connections);
        let _ = writeln!(w, "calls={}", self.calls);
        let _ = writeln!(w, "-----Stream Stats-----");
        let _ = writeln!(w, "streams_webrtc_in={}", self.streams_in);
        let _ = writeln!(w, "streams_webrtc_out={}", self.players);
        for kind in ["rtmp", "rtmfp", "rtsp"] {
            let _ = writeln!(w, "streams_{kind}_in=0");
            let _ = writeln!(w, "streams_{kind}_out=0");
        }
        let _ = writeln!(w, "-----System Stats-----");
        let _ = writeln!(w, "availableProcessors={}", self.available_processors);
        let _ = writeln!(w, "systemCpuLoad={:.4}", self.system_cpu_load);
        let _ = writeln!(w, "processCpuLoad={:.4}", self.process_cpu_load);
        let _ = writeln!(w, "-----Node Stats-----");
        let _ = writeln!(w, "draining={}", self.draining);
        out
    }
}

/// Why another node's stat page could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum StatParseError {
    /// The first line is not a `-----...` section header.
    #[error("the first line is not a section header")]
    NoHeader,
    /// `calls=` is missing or not a whole number.
    #[error("no usable calls= line")]
    NoCalls,
}

/// Reads the figures the balancer needs from a stat page. `calls` is required; a missing or
/// unusable `systemCpuLoad` counts as fully loaded (1.0), and a percentage (above 1) is
/// scaled to a fraction. `connections`, `streams_webrtc_in` and `streams_webrtc_out` (shown
/// to operators only) are read when present.
/// `draining` is false unless it says `true` (WCS pages do not have it).
pub fn parse_stat_page(text: &str) -> Result<NodeStats, StatParseError> {
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    if !lines.next().is_some_and(|l| l.starts_with('-')) {
        return Err(StatParseError::NoHeader);
    }
    let mut calls = None;
    let mut cpu = None;
    let (mut connections, mut streams_in, mut streams_out) = (None, None, None);
    let mut draining = false;
    for line in lines {
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let count = || value.trim().parse::<u64>().ok();
        match key.trim() {
            "calls" => calls = count(),
            "connections" => connections = count(),
            "streams_webrtc_in" => streams_in = count(),
            "streams_webrtc_out" => streams_out = count(),
            "systemCpuLoad" => {
                cpu = value
                    .trim()
                    .parse::<f64>()
                    .ok()
                    .filter(|v| v.is_finite() && *v >= 0.0)
                    .map(|v| if v > 1.0 { (v / 100.0).min(1.0) } else { v });
            }
            "draining" => draining = value.trim().eq_ignore_ascii_case("true"),
            _ => {}
        }
    }
    Ok(NodeStats {
        calls: calls.ok_or(StatParseError::NoCalls)?,
        system_cpu_load: cpu.unwrap_or(1.0),
        connections,
        streams_in,
        streams_out,
        draining,
    })
}

/// One reading of the CPU tick counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CpuTicks {
    /// All CPUs, all states (the `cpu` line of `/proc/stat`).
    pub total: u64,
    /// All CPUs, idle plus iowait.
    pub idle: u64,
    /// This process, user plus system (`/proc/self/stat` fields 14 and 15).
    pub process: u64,
}

impl CpuTicks {
    /// Parses the texts of `/proc/stat` and `/proc/self/stat`; `None` if either is not in
    /// the Linux format.
    pub fn parse(proc_stat: &str, self_stat: &str) -> Option<CpuTicks> {
        let cpu = proc_stat.lines().find(|l| l.starts_with("cpu "))?;
        let fields: Vec<u64> = cpu
            .split_ascii_whitespace()
            .skip(1)
            .map(str::parse)
            .collect::<Result<_, _>>()
            .ok()?;
        // user nice system idle iowait irq softirq steal [guest guest_nice]; guest time is
        // already counted in user and nice.
        let total: u64 = fields.iter().take(8).sum();
        let idle = fields.get(3)? + fields.get(4).copied().unwrap_or(0);
        // The command name (field 2) is in parentheses and may hold spaces: count fields
        // after its closing parenthesis, where field 3 (state) comes first.
        let after = &self_stat[self_stat.rfind(')')? + 1..];
        let mut rest = after.split_ascii_whitespace().skip(11);
        let utime: u64 = rest.next()?.parse().ok()?;
        let stime: u64 = rest.next()?.parse().ok()?;
        Some(CpuTicks {
            total,
            idle,
            process: utime + stime,
        })
    }
}

/// Turns successive [`CpuTicks`] readings into loads over the last interval.
///
/// Readings closer together than [`CpuSampler::MIN_INTERVAL`] keep the previous result, so a
/// burst of stat requests does not compute loads over a few microseconds.
#[derive(Debug, Default)]
pub struct CpuSampler {
    last: Option<(Instant, CpuTicks)>,
    loads: Option<(f64, f64)>,
}

impl CpuSampler {
    /// The shortest interval a load is computed over.
    pub const MIN_INTERVAL: Duration = Duration::from_millis(250);

    /// Feeds a reading taken at `now`; returns `(systemCpuLoad, processCpuLoad)`, both 0 to
    /// 1 (0 until two readings are far enough apart).
    pub fn sample(&mut self, now: Instant, ticks: CpuTicks) -> (f64, f64) {
        match self.last {
            Some((at, _)) if now.saturating_duration_since(at) < Self::MIN_INTERVAL => {}
            Some((_, prev)) => {
                let total = ticks.total.saturating_sub(prev.total);
                if total > 0 {
                    let idle = ticks.idle.saturating_sub(prev.idle).min(total);
                    let process = ticks.process.saturating_sub(prev.process).min(total);
                    let total = total as f64;
                    self.loads = Some((1.0 - idle as f64 / total, process as f64 / total));
                }
                self.last = Some((now, ticks));
            }
            None => self.last = Some((now, ticks)),
        }
        self.loads.unwrap_or((0.0, 0.0))
    }

    /// The latest `(systemCpuLoad, processCpuLoad)`, `None` until one has been computed.
    pub fn loads(&self) -> Option<(f64, f64)> {
        self.loads
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PROC_STAT: &str =
        "cpu  100 0 50 800 50 0 0 0 0 0\ncpu0 50 0 25 400 25 0 0 0 0 0\nintr 1\n";
    const SELF_STAT: &str =
        "1234 (rt cdn) S 1 1234 1234 0 -1 4194560 100 0 0 0 30 20 0 0 20 0 3 0 1 0 0";

    #[test]
    fn rendered_page_starts_with_a_header_and_parses_back() {
        let page = StatPage {
            connections: 3,
            streams_in: 1,
            players: 4,
            calls: 5,
            available_processors: 8,
            system_cpu_load: 0.25,
            process_cpu_load: 0.125,
            draining: false,
        };
        let text = page.render();
        assert!(text.starts_with("-----Connection Stats-----\n"));
        assert!(text.contains("\n-----System Stats-----\n"));
        for line in [
            "connections=3",
            "connections_websocket=3",
            "calls=5",
            "streams_webrtc_in=1",
            "streams_webrtc_out=4",
            "availableProcessors=8",
            "systemCpuLoad=0.2500",
            "processCpuLoad=0.1250",
            "draining=false",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} in {text}");
        }
        let stats = parse_stat_page(&text).unwrap();
        assert_eq!(stats.calls, 5);
        assert!((stats.system_cpu_load - 0.25).abs() < 1e-9);
        assert_eq!(
            (stats.connections, stats.streams_in, stats.streams_out),
            (Some(3), Some(1), Some(4))
        );
        assert!(!stats.draining);
        let draining = StatPage {
            draining: true,
            ..page
        };
        let text = draining.render();
        assert!(
            text.contains("\n-----Node Stats-----\ndraining=true\n"),
            "{text}"
        );
        assert!(parse_stat_page(&text).unwrap().draining);
    }

    #[test]
    fn wcs_pages_parse() {
        let text = "-----Connection Stats-----\r\nconnections=2\r\n-----Call Stats-----\r\n\
                    calls = 17\r\n-----System Stats-----\r\nsystemCpuLoad=42.5\r\narch=amd64\r\n";
        let stats = parse_stat_page(text).unwrap();
        assert_eq!(stats.calls, 17);
        assert!(
            (stats.system_cpu_load - 0.425).abs() < 1e-9,
            "percent scaled"
        );
        assert_eq!(stats.connections, Some(2));
        assert_eq!(stats.streams_in, None, "absent figures stay unknown");
        assert!(!stats.draining, "WCS pages do not drain");
        let no_cpu = parse_stat_page("-----Connection Stats-----\ncalls=1\n").unwrap();
        assert_eq!(no_cpu.system_cpu_load, 1.0);
    }

    #[test]
    fn bad_pages_are_errors() {
        for (text, err) in [
            ("", StatParseError::NoHeader),
            ("calls=1\n", StatParseError::NoHeader),
            ("<html>nope</html>", StatParseError::NoHeader),
            ("-----Stats-----\n", StatParseError::NoCalls),
            ("-----Stats-----\ncalls=-1\n", StatParseError::NoCalls),
            (
                "-----Stats-----\ncalls=x\nsystemCpuLoad=0.1",
                StatParseError::NoCalls,
            ),
            ("-----Stats-----\ncalls\n=\n==\n", StatParseError::NoCalls),
        ] {
            assert_eq!(parse_stat_page(text), Err(err), "{text:?}");
        }
        let nan = parse_stat_page("-----S-----\ncalls=0\nsystemCpuLoad=NaN\n").unwrap();
        assert_eq!(nan.system_cpu_load, 1.0);
    }

    #[test]
    fn cpu_ticks_from_proc_texts() {
        let t = CpuTicks::parse(PROC_STAT, SELF_STAT).unwrap();
        assert_eq!(
            t,
            CpuTicks {
                total: 1000,
                idle: 850,
                process: 50
            }
        );
        assert_eq!(CpuTicks::parse("", SELF_STAT), None);
        assert_eq!(CpuTicks::parse("cpu  1 x 3 4\n", SELF_STAT), None);
        assert_eq!(CpuTicks::parse(PROC_STAT, "1234 (x) S 1"), None);
        assert_eq!(CpuTicks::parse(PROC_STAT, "garbage"), None);
    }

    #[test]
    fn sampler_computes_loads_over_the_interval() {
        let t0 = Instant::now();
        let mut s = CpuSampler::default();
        let ticks = |total, idle, process| CpuTicks {
            total,
            idle,
            process,
        };
        assert_eq!(s.sample(t0, ticks(1000, 800, 10)), (0.0, 0.0));
        assert_eq!(s.loads(), None, "no interval yet");
        let t1 = t0 + Duration::from_secs(1);
        let (system, process) = s.sample(t1, ticks(1400, 1100, 60));
        assert!((system - 0.25).abs() < 1e-9, "{system}");
        assert!((process - 0.125).abs() < 1e-9, "{process}");
        assert_eq!(s.loads(), Some((system, process)));
        // Too soon: the previous loads stay.
        let soon = t1 + Duration::from_millis(10);
        assert_eq!(s.sample(soon, ticks(1401, 1101, 61)), (system, process));
        // Counters that went backwards (or did not move) never give nonsense.
        let t2 = t1 + Duration::from_secs(1);
        let (system, process) = s.sample(t2, ticks(1000, 0, 0));
        assert!((0.0..=1.0).contains(&system) && (0.0..=1.0).contains(&process));
    }

    /// On Linux the real files parse.
    #[cfg(target_os = "linux")]
    #[test]
    fn real_proc_files_parse() {
        let stat = std::fs::read_to_string("/proc/stat").unwrap();
        let me = std::fs::read_to_string("/proc/self/stat").unwrap();
        assert!(CpuTicks::parse(&stat, &me).is_some());
    }
}
