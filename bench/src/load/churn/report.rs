//! The results of a churn run ([`ChurnReport`], written as JSON), the leak verdict
//! ([`leftovers`]: what the servers still hold once every client left and the settle time
//! passed, against the baseline before any client came), the memory growth ([`rss_growth`])
//! and the printed summary.
//!
//! Owns: the schema, the verdict rules and their text. Must not touch sockets or the clock.

use std::fmt::Write as _;

use super::super::config::LoadConfig;
use super::super::report::Percentiles;
use super::watch::{Phase, Sample, ServerReading, Watched};

/// Descriptors a server may hold at the end beyond its baseline without it being a leak. An
/// origin polls each edge's stat page once a second over a fresh TCP connection (open on both
/// ends for about a millisecond), and an HTTP client (a dashboard, this load generator's own
/// sampling of the other server) may be connected at the instant of the reading; with the
/// minimum over the final readings that is at most one such socket per side, two with margin.
pub const FD_SLACK: usize = 2;

/// RSS growth from the first minute to the end of the churn that counts as a leak, percent.
pub const RSS_GROWTH_LIMIT_PCT: f64 = 5.0;

/// When the RSS growth is measured from: one minute into the run.
pub const RSS_FROM_S: f64 = 60.0;

/// Counts of what the clients did.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct ClientTotals {
    /// Joins started (each a new websocket).
    pub joins_started: u64,
    /// Joins that reached media (audio and video from a keyframe not required: the first RTP).
    pub joins_playing: u64,
    /// Joins that failed (refused, no media in time, transport failure, stream not back).
    pub joins_failed: u64,
    /// Joins that found their stream missing (a restart under way) and waited for it.
    pub joins_waited: u64,
    /// Time from a join's start to its first RTP, ms.
    pub join_ms: Percentiles,
    /// Viewers told STOPPED because their publisher left (restarts).
    pub stopped_by_publisher: u64,
    /// Of them, viewers that played the new stream again on their websocket.
    pub replays_playing: u64,
    /// Re-plays that failed.
    pub replays_failed: u64,
    /// Time from the STOPPED to the first RTP of the new stream, ms.
    pub replay_gap_ms: Percentiles,
    /// Viewers that failed after playing (transport failure, a FAILED status, a closed session).
    pub viewers_failed: u64,
    /// Leaves with `stopStream` and a websocket close.
    pub leaves_clean: u64,
    /// Of them, leaves whose stop the server did not confirm.
    pub leaves_unconfirmed: u64,
    /// Leaves without a word: UDP socket dropped, websocket left open and unanswered.
    pub leaves_vanished: u64,
    /// Leaves skipped because no viewer was playing at that moment.
    pub leaves_skipped: u64,
    /// Vanished viewers' websockets the server closed (keep-alive expiry).
    pub vanished_closed_by_server: u64,
    /// Vanished viewers' websockets still open at the end (closed by us after the readings).
    pub vanished_left_open: u64,
    /// Longest time from vanishing to the server's close, s.
    pub vanished_close_max_s: f64,
    /// Publisher restarts done (unpublish, publish again).
    pub restarts: u64,
    /// Of them, through a new websocket.
    pub restarts_reconnecting: u64,
    /// Restarts that failed (retried at the next turn).
    pub restarts_failed: u64,
    /// Publishers that failed while publishing (restarted).
    pub publishers_failed: u64,
    /// Most viewers at once (in the event loop).
    pub peak_viewers: usize,
    /// RTP packets publishers sent.
    pub packets_sent: u64,
    /// RTP packets viewers received.
    pub packets_received: u64,
    /// Received packets whose SRTP authentication failed.
    pub auth_failures: u64,
    /// RTP datagrams with an SSRC the viewer's answer did not announce: another (departed)
    /// peer's media still sent to the port a new viewer's socket got.
    pub foreign_packets: u64,
}

/// One server's memory over the run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct RssGrowth {
    /// `node`, `origin` or `edge`.
    pub role: String,
    /// The first sample at or after [`RSS_FROM_S`], KiB.
    pub at_1min_kib: Option<u64>,
    /// The last sample of the churn phase, KiB.
    pub churn_end_kib: Option<u64>,
    /// `(churn_end - at_1min) / at_1min`, percent.
    pub growth_pct: Option<f64>,
    /// The highest sample, KiB.
    pub peak_kib: Option<u64>,
    /// The final reading, after everyone left and the settle time, KiB.
    pub end_kib: Option<u64>,
}

/// One server's peaks over the run.
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize)]
pub struct Peaks {
    /// `node`, `origin` or `edge`.
    pub role: String,
    /// Most peers.
    pub peers: u64,
    /// Most players.
    pub players: u64,
    /// Most streams.
    pub streams: u64,
    /// Most websocket connections.
    pub connections: u64,
    /// Most relay legs.
    pub relay_legs: u64,
    /// Most descriptors.
    pub fds: usize,
    /// Most sockets.
    pub sockets: usize,
}

/// A whole churn run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ChurnReport {
    /// No leak ([`ChurnReport::leaks`] empty), RSS growth under the limit (when measured) and no
    /// client failure.
    pub completed: bool,
    /// No leftover peers, streams, players, connections or relay legs and descriptors back to
    /// the baseline (± [`FD_SLACK`]).
    pub leak_free: bool,
    /// The run.
    pub config: LoadConfig,
    /// The servers watched.
    pub servers: Vec<Watched>,
    /// Seconds of churn (joins, leaves, restarts), of draining (everyone leaves) and of
    /// settling.
    pub churn_s: f64,
    /// See `churn_s`.
    pub drain_s: f64,
    /// See `churn_s`.
    pub settle_s: f64,
    /// What the clients did.
    pub clients: ClientTotals,
    /// Before any client: per server, with the fewest descriptors of the baseline readings.
    pub baseline: Vec<ServerReading>,
    /// After the settle time: per server, the last reading but with the fewest descriptors of
    /// the final readings.
    pub end: Vec<ServerReading>,
    /// Per server.
    pub peaks: Vec<Peaks>,
    /// Per server.
    pub rss: Vec<RssGrowth>,
    /// The sum of all servers' RSS growth from one minute to the end of the churn, percent.
    pub rss_growth_pct: Option<f64>,
    /// Descriptors allowed above the baseline.
    pub fd_slack: usize,
    /// What the servers still hold that they should not (empty: nothing leaked).
    pub leaks: Vec<String>,
    /// The first errors the clients met (at most 20), for diagnosis.
    pub errors: Vec<String>,
    /// Every sample, in time order.
    pub samples: Vec<Sample>,
}

/// What the servers still hold at `end` that a server with no client must not (peers,
/// streams, players, connected peers, websocket connections, relay legs), and descriptors or
/// sockets more than `slack` above `baseline`, one line per finding; a figure that could not be
/// read is a finding too.
pub fn leftovers(baseline: &[ServerReading], end: &[ServerReading], slack: usize) -> Vec<String> {
    let mut found = Vec::new();
    for (i, e) in end.iter().enumerate() {
        let role = &e.role;
        for (name, v) in [
            ("peers", e.peers),
            ("streams", e.streams),
            ("players", e.players),
            ("connected_peers", e.connected_peers),
            ("connections", e.connections),
            ("relay_legs", e.relay_legs),
        ] {
            match v {
                Some(0) => {}
                Some(n) => found.push(format!("{role}: {n} {name} left")),
                None => found.push(format!(
                    "{role}: {name} unreadable ({})",
                    e.error.as_deref().unwrap_or("no value")
                )),
            }
        }
        let base = baseline.get(i);
        for (name, now, then) in [
            ("fds", e.fds, base.and_then(|b| b.fds)),
            ("sockets", e.sockets, base.and_then(|b| b.sockets)),
        ] {
            match (now, then) {
                (Some(now), Some(then)) if now > then + slack => found.push(format!(
                    "{role}: {now} {name} at the end, {then} before the run (slack {slack})"
                )),
                (Some(_), Some(_)) => {}
                _ => found.push(format!("{role}: {name} unreadable (no pid?)")),
            }
        }
    }
    found
}

/// Per server (in the order of the samples' readings), its RSS one minute in, at the end of
/// the churn, at its peak and in `end`; and the growth of the sum over all servers.
pub fn rss_growth(samples: &[Sample], end: &[ServerReading]) -> (Vec<RssGrowth>, Option<f64>) {
    let churn: Vec<&Sample> = samples.iter().filter(|s| s.phase == Phase::Churn).collect();
    let first = churn.iter().find(|s| s.t_s >= RSS_FROM_S);
    let last = churn
        .last()
        .filter(|l| first.is_some_and(|f| l.t_s > f.t_s));
    let rss = |s: Option<&&Sample>, i: usize| s.and_then(|s| s.servers.get(i)?.rss_kib);
    let growth = |a: Option<u64>, b: Option<u64>| match (a, b) {
        (Some(a), Some(b)) if a > 0 => Some(100.0 * (b as f64 - a as f64) / a as f64),
        _ => None,
    };
    let per: Vec<RssGrowth> = end
        .iter()
        .enumerate()
        .map(|(i, e)| {
            let (a, b) = (rss(first, i), rss(last, i));
            RssGrowth {
                role: e.role.clone(),
                at_1min_kib: a,
                churn_end_kib: b,
                growth_pct: growth(a, b),
                peak_kib: samples
                    .iter()
                    .filter_map(|s| s.servers.get(i)?.rss_kib)
                    .max(),
                end_kib: e.rss_kib,
            }
        })
        .collect();
    let sum = |f: fn(&RssGrowth) -> Option<u64>| per.iter().map(f).sum::<Option<u64>>();
    let total = growth(sum(|r| r.at_1min_kib), sum(|r| r.churn_end_kib));
    (per, total)
}

/// Per server, the highest figures of `samples`.
pub fn peaks(samples: &[Sample], servers: &[Watched]) -> Vec<Peaks> {
    servers
        .iter()
        .enumerate()
        .map(|(i, w)| {
            let readings = || samples.iter().filter_map(move |s| s.servers.get(i));
            let max = |f: fn(&ServerReading) -> Option<u64>| readings().filter_map(f).max();
            let maxu = |f: fn(&ServerReading) -> Option<usize>| readings().filter_map(f).max();
            Peaks {
                role: w.role.clone(),
                peers: max(|r| r.peers).unwrap_or(0),
                players: max(|r| r.players).unwrap_or(0),
                streams: max(|r| r.streams).unwrap_or(0),
                connections: max(|r| r.connections).unwrap_or(0),
                relay_legs: max(|r| r.relay_legs).unwrap_or(0),
                fds: maxu(|r| r.fds).unwrap_or(0),
                sockets: maxu(|r| r.sockets).unwrap_or(0),
            }
        })
        .collect()
}

/// The readings of several rounds merged per server: the last round's figures, with the
/// fewest descriptors and sockets any round saw (a transient connection is not held).
pub fn merge_rounds(rounds: &[Vec<ServerReading>]) -> Vec<ServerReading> {
    let Some(last) = rounds.last() else {
        return Vec::new();
    };
    last.iter()
        .enumerate()
        .map(|(i, r)| {
            let all = || rounds.iter().filter_map(move |round| round.get(i));
            ServerReading {
                fds: all().filter_map(|r| r.fds).min(),
                sockets: all().filter_map(|r| r.sockets).min(),
                ..r.clone()
            }
        })
        .collect()
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "-".into(), |v| v.to_string())
}

fn mib(kib: Option<u64>) -> String {
    kib.map_or_else(|| "-".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0))
}

impl ChurnReport {
    /// The human-readable summary.
    pub fn summary(&self) -> String {
        let c = &self.clients;
        let mut s = String::new();
        let _ = writeln!(
            s,
            "rtcdn-load churn: {:.0}s churn + {:.0}s drain + {:.0}s settle; {}",
            self.churn_s,
            self.drain_s,
            self.settle_s,
            if self.leak_free {
                "no leak"
            } else {
                "LEAKS FOUND"
            }
        );
        let _ = writeln!(
            s,
            "  joins {} started, {} playing, {} failed ({} waited for their stream), join ms p50 {:.0} p99 {:.0} max {:.0}; peak {} viewers",
            c.joins_started, c.joins_playing, c.joins_failed, c.joins_waited, c.join_ms.p50, c.join_ms.p99, c.join_ms.max, c.peak_viewers
        );
        let _ = writeln!(
            s,
            "  leaves {} clean ({} unconfirmed), {} vanished ({} closed by the server, max {:.1}s; {} left open), {} skipped; viewers failed {}",
            c.leaves_clean, c.leaves_unconfirmed, c.leaves_vanished, c.vanished_closed_by_server, c.vanished_close_max_s, c.vanished_left_open, c.leaves_skipped, c.viewers_failed
        );
        let _ = writeln!(
            s,
            "  publisher restarts {} ({} through a new websocket, {} failed, {} publisher failures); viewers stopped {}, re-played {}, failed {}, gap ms p50 {:.0} p99 {:.0} max {:.0}",
            c.restarts, c.restarts_reconnecting, c.restarts_failed, c.publishers_failed, c.stopped_by_publisher, c.replays_playing, c.replays_failed, c.replay_gap_ms.p50, c.replay_gap_ms.p99, c.replay_gap_ms.max
        );
        let _ = writeln!(
            s,
            "  media: {} packets sent, {} received, {} auth failures, {} of departed peers to reused ports",
            c.packets_sent, c.packets_received, c.auth_failures, c.foreign_packets
        );
        for ((b, e), (p, r)) in self
            .baseline
            .iter()
            .zip(&self.end)
            .zip(self.peaks.iter().zip(&self.rss))
        {
            let _ = writeln!(
                s,
                "  {}: peak peers {} players {} streams {} connections {} relay legs {}; left peers {} streams {} players {} connections {} relay legs {}",
                e.role, p.peers, p.players, p.streams, p.connections, p.relay_legs,
                opt(e.peers), opt(e.streams), opt(e.players), opt(e.connections), opt(e.relay_legs)
            );
            let _ = writeln!(
                s,
                "    fds baseline/peak/end {}/{}/{} (sockets {}/{}/{}); rss 1 min {} churn end {} peak {} end {}, growth {}",
                opt(b.fds), p.fds, opt(e.fds), opt(b.sockets), p.sockets, opt(e.sockets),
                mib(r.at_1min_kib), mib(r.churn_end_kib), mib(r.peak_kib), mib(r.end_kib),
                r.growth_pct.map_or_else(|| "-".into(), |g| format!("{g:+.2}%"))
            );
        }
        if let Some(g) = self.rss_growth_pct {
            let _ = writeln!(
                s,
                "  rss growth from 1 min to the end of the churn, all servers: {g:+.2}% (limit {RSS_GROWTH_LIMIT_PCT}%)"
            );
        }
        for l in &self.leaks {
            let _ = writeln!(s, "  LEAK: {l}");
        }
        for e in self.errors.iter().take(5) {
            let _ = writeln!(s, "  error: {e}");
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reading(role: &str, peers: u64, fds: usize, rss: u64) -> ServerReading {
        ServerReading {
            role: role.into(),
            rss_kib: Some(rss),
            fds: Some(fds),
            sockets: Some(fds / 2),
            peers: Some(peers),
            streams: Some(0),
            players: Some(0),
            connected_peers: Some(0),
            connections: Some(0),
            relay_legs: Some(0),
            error: None,
        }
    }

    fn sample(t_s: f64, phase: Phase, servers: Vec<ServerReading>) -> Sample {
        Sample {
            t_s,
            phase,
            viewers: 0,
            waiting: 0,
            jobs: 0,
            ghosts: 0,
            joins: 0,
            leaves: 0,
            servers,
        }
    }

    #[test]
    fn nothing_left_is_no_leak() {
        let base = vec![reading("origin", 0, 20, 1000), reading("edge", 0, 18, 900)];
        let end = vec![reading("origin", 0, 22, 1500), reading("edge", 0, 18, 900)];
        assert!(leftovers(&base, &end, FD_SLACK).is_empty());
    }

    #[test]
    fn leftovers_are_named() {
        let base = vec![reading("node", 0, 20, 1000)];
        let mut end = vec![reading("node", 3, 30, 1000)];
        end[0].relay_legs = Some(1);
        end[0].connections = None;
        end[0].error = Some("/health: refused".into());
        let found = leftovers(&base, &end, 2);
        let text = found.join("\n");
        assert!(text.contains("node: 3 peers left"), "{text}");
        assert!(text.contains("node: 1 relay_legs left"), "{text}");
        assert!(
            text.contains("connections unreadable (/health: refused)"),
            "{text}"
        );
        assert!(
            text.contains("node: 30 fds at the end, 20 before"),
            "{text}"
        );
        assert!(text.contains("15 sockets at the end, 10 before"), "{text}");
        assert_eq!(found.len(), 5);
        let mut no_pid = reading("node", 0, 20, 1);
        no_pid.fds = None;
        assert_eq!(leftovers(&base, &[no_pid], 2).len(), 1);
    }

    #[test]
    fn rss_growth_from_the_first_minute_to_the_end_of_the_churn() {
        let s = |t, phase, a, b| {
            sample(
                t,
                phase,
                vec![reading("origin", 0, 0, a), reading("edge", 0, 0, b)],
            )
        };
        let samples = vec![
            s(30.0, Phase::Churn, 500, 500),
            s(61.0, Phase::Churn, 1000, 2000),
            s(90.0, Phase::Churn, 1040, 2000),
            s(120.0, Phase::Churn, 1030, 2060),
            s(125.0, Phase::Drain, 5000, 5000),
        ];
        let end = vec![reading("origin", 0, 0, 900), reading("edge", 0, 0, 800)];
        let (per, total) = rss_growth(&samples, &end);
        assert_eq!(per[0].at_1min_kib, Some(1000));
        assert_eq!(per[0].churn_end_kib, Some(1030));
        assert!((per[0].growth_pct.unwrap() - 3.0).abs() < 1e-9);
        assert!((per[1].growth_pct.unwrap() - 3.0).abs() < 1e-9);
        assert_eq!(per[0].peak_kib, Some(5000));
        assert_eq!(per[1].end_kib, Some(800));
        assert!((total.unwrap() - 3.0).abs() < 1e-9);
        // A run shorter than a minute has no such figure.
        let (per, total) = rss_growth(&samples[..1], &end);
        assert_eq!((per[0].growth_pct, total), (None, None));
    }

    #[test]
    fn rounds_keep_the_fewest_descriptors() {
        let a = vec![reading("node", 1, 25, 10)];
        let b = vec![reading("node", 0, 21, 11)];
        let m = merge_rounds(&[a, b]);
        assert_eq!(
            (m[0].peers, m[0].fds, m[0].rss_kib),
            (Some(0), Some(21), Some(11))
        );
        let samples = vec![sample(1.0, Phase::Churn, vec![reading("node", 7, 40, 5)])];
        let w = Watched {
            role: "node".into(),
            addr: "127.0.0.1:1".into(),
            pid: None,
        };
        let p = peaks(&samples, &[w]);
        assert_eq!((p[0].peers, p[0].fds, p[0].sockets), (7, 40, 20));
    }
}
