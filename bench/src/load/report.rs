//! The results of a load run: per-step figures ([`StepReport`]), the once-a-second samples
//! ([`Sample`]), the whole run ([`LoadReport`], written as JSON) and the printed summary.
//!
//! Owns: the result schema and its text rendering. Must not touch sockets or the server.

use std::fmt::Write as _;

use super::config::LoadConfig;
use super::histogram::Histogram;
use super::impair::ImpairStats;

/// Percentiles of a histogram of nanoseconds, in microseconds (joins: milliseconds).
#[derive(Clone, Copy, Debug, Default, serde::Serialize)]
pub struct Percentiles {
    /// Values recorded.
    pub count: u64,
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Maximum.
    pub max: f64,
}

impl Percentiles {
    /// From a histogram of ns, dividing by `unit_ns` (1e3 for µs, 1e6 for ms).
    pub fn of(h: &Histogram, unit_ns: f64) -> Self {
        Percentiles {
            count: h.count(),
            p50: h.quantile(0.50) as f64 / unit_ns,
            p99: h.quantile(0.99) as f64 / unit_ns,
            max: h.max() as f64 / unit_ns,
        }
    }
}

/// The figures of one measuring window at a fixed subscriber count.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct StepReport {
    /// Subscribers asked for in this step.
    pub subscribers: usize,
    /// Subscribers that received media during the window (at least one RTP packet between
    /// its start and its end) and had not failed.
    pub receiving_subscribers: usize,
    /// Measuring time, seconds.
    pub duration_s: f64,
    /// RTP packets the publishers sent in the window.
    pub packets_sent: u64,
    /// RTP packets subscribers received in the window (every copy counts).
    pub packets_received: u64,
    /// Packets whose SRTP authentication was checked (and passed).
    pub packets_verified: u64,
    /// Packets whose SRTP authentication failed.
    pub auth_failures: u64,
    /// Packets SRTP refused as replays (copies of packets already here, e.g. duplicate
    /// retransmissions, or older than the replay window); accounted from their clear header.
    pub srtp_replays: u64,
    /// Verified packets without the load generator's payload tail.
    pub corrupt: u64,
    /// Publisher packets/s.
    pub pps_out: f64,
    /// Subscriber packets/s, all subscribers together.
    pub pps_in: f64,
    /// Packets expected by sequence number in the window.
    pub expected: u64,
    /// Expected but not received.
    pub lost: u64,
    /// `lost / expected` in percent.
    pub loss_pct: f64,
    /// Packets that arrived after a later one.
    pub reordered: u64,
    /// Packets received twice.
    pub duplicates: u64,
    /// Sends the kernel refused (client side).
    pub send_errors: u64,
    /// PLI/FIR the publishers answered with a keyframe.
    pub keyframe_requests: u64,
    /// One-way latency publisher → subscriber, µs.
    pub latency_us: Percentiles,
    /// Joins started in this step.
    pub joins: usize,
    /// Joins that did not reach their first media packet.
    pub failed_joins: usize,
    /// Joins per second: websocket + ICE + DTLS until the first media packet, from the first
    /// join's start to the last join's first packet.
    pub joins_per_s: f64,
    /// Time of one join until its first media packet, ms.
    pub join_ms: Percentiles,
    /// Server CPU time (user + system) in the window, seconds.
    pub server_cpu_s: Option<f64>,
    /// Server CPU in percent of one core.
    pub server_cpu_pct: Option<f64>,
    /// Server CPU µs per packet delivered to subscribers.
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// Server resident memory at the end of the window, KiB.
    pub server_rss_kib: Option<u64>,
    /// Video packets expected by sequence number in the window (the streams subscribers NACK).
    pub video_expected: u64,
    /// Of those, neither received nor repaired (at the window's end).
    pub residual_lost: u64,
    /// `residual_lost / video_expected` in percent: the loss left after repair.
    pub residual_loss_pct: f64,
    /// Retransmissions subscribers received (RTX, and original-SSRC packets that filled a
    /// NACKed gap or were already here).
    pub retransmissions_received: u64,
    /// Of those, the ones that filled a gap.
    pub retransmissions_useful: u64,
    /// Of those, copies of packets already here or given up.
    pub retransmissions_duplicate: u64,
    /// Of the retransmissions, RTX packets.
    pub rtx_received: u64,
    /// NACK packets subscribers sent.
    pub nacks_sent: u64,
    /// Packets those NACKs requested (each request counts).
    pub nack_requests: u64,
    /// Packets subscribers gave up on (NACK retries or deadline exhausted).
    pub nack_given_up: u64,
    /// PLIs subscribers sent (one per loss given up, at most one per 300 ms).
    pub plis_sent: u64,
    /// PLIs publishers received.
    pub plis_received: u64,
    /// FIRs publishers received.
    pub firs_received: u64,
    /// NACK packets publishers received.
    pub nacks_received: u64,
    /// Plain retransmissions publishers sent in answer (requested packets still in their
    /// cache of the last 256 video packets).
    pub retransmissions_sent: u64,
    /// Video frames subscribers completed (every packet up to the marker received).
    pub frames_completed: u64,
    /// Freezes: no complete frame for longer than the threshold (one going on at the window's
    /// end included).
    pub freezes: u64,
    /// Their total duration, ms.
    pub freeze_ms: f64,
    /// Video RTP datagrams the subscribers' receive impairment dropped.
    pub impaired_video: u64,
    /// What the clients' send impairments did.
    pub impair_send: ImpairStats,
    /// What the clients' receive impairments did.
    pub impair_recv: ImpairStats,
}

/// One progress second.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct Sample {
    /// Seconds since the run started.
    pub t_s: f64,
    /// Subscribers joined so far.
    pub subscribers: usize,
    /// Publisher packets/s.
    pub pps_out: f64,
    /// Subscriber packets/s.
    pub pps_in: f64,
    /// Loss in this second, percent.
    pub loss_pct: f64,
    /// Video loss left after repair in this second, percent.
    pub residual_loss_pct: f64,
    /// Latency p50 in this second, µs.
    pub latency_p50_us: f64,
    /// Latency p99 in this second, µs.
    pub latency_p99_us: f64,
    /// Server CPU in this second, percent of one core.
    pub server_cpu_pct: Option<f64>,
}

/// A whole run: the configuration, the last step's figures at the top level, every step and
/// the samples.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadReport {
    /// The run went as asked: every subscriber joined and received media during the last
    /// measuring window, and no client failed or reported an error.
    pub completed: bool,
    /// What was asked for.
    pub config: LoadConfig,
    /// The last step (all subscribers).
    #[serde(flatten)]
    pub totals: StepReport,
    /// Every step (one without `--ramp`).
    pub steps: Vec<StepReport>,
    /// Packets each subscriber received over the whole run, in join order (distinct sequence
    /// numbers of all its streams).
    pub received_per_subscriber: Vec<u64>,
    /// RTP datagrams each subscriber received over the whole run, counted from their clear
    /// header before any SRTP check (duplicates included), in join order.
    pub rtp_per_subscriber: Vec<u64>,
    /// Of those, the packets whose SRTP authentication was checked and passed, per subscriber:
    /// `ceil(rtp / N)` with `Verify::Sample(N)` (every one with `Verify::All`) when every
    /// checked packet is authentic.
    pub verified_per_subscriber: Vec<u64>,
    /// Video packets each subscriber expected over the whole run (by sequence number).
    pub video_expected_per_subscriber: Vec<u64>,
    /// Of those, the ones neither received nor repaired by the end of the run, per subscriber.
    pub residual_lost_per_subscriber: Vec<u64>,
    /// Video RTP datagrams each subscriber's receive impairment dropped over the whole run.
    pub impaired_video_per_subscriber: Vec<u64>,
    /// NACK packets each subscriber sent over the whole run.
    pub nacks_per_subscriber: Vec<u64>,
    /// Retransmissions that filled a gap, per subscriber over the whole run.
    pub repaired_per_subscriber: Vec<u64>,
    /// Freezes of each subscriber over the whole run.
    pub freezes_per_subscriber: Vec<u64>,
    /// Once-a-second samples.
    pub timeseries: Vec<Sample>,
    /// Why clients failed (first few).
    pub errors: Vec<String>,
}

impl LoadReport {
    /// [`LoadReport::completed`] of a run whose last step is `last`: every one of the
    /// `subscribers` asked for received media in its window, no join failed, no error.
    pub fn went_as_asked(subscribers: usize, last: &StepReport, errors: &[String]) -> bool {
        errors.is_empty() && last.failed_joins == 0 && last.receiving_subscribers == subscribers
    }

    /// The human summary printed at the end of a run.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let c = &self.config;
        let _ = writeln!(
            s,
            "rtcdn-load: {} publisher(s) x {} subscriber(s), {:.0} kbps, {} B packets, verify {:?}",
            c.publishers,
            c.subscribers,
            c.bitrate as f64 / 1000.0,
            c.packet_size,
            c.verify
        );
        for st in &self.steps {
            step_lines(&mut s, st);
        }
        if !self.errors.is_empty() {
            let _ = writeln!(s, "  errors: {}", self.errors.join("; "));
        }
        s
    }
}

fn step_lines(s: &mut String, st: &StepReport) {
    let _ = writeln!(
        s,
        "  {} subs ({} receiving) over {:.1}s: out {:.0} pps, in {:.0} pps, loss {:.3}% ({} of {}), \
         reordered {}, dup {}, auth failures {}, srtp replays {}",
        st.subscribers,
        st.receiving_subscribers,
        st.duration_s,
        st.pps_out,
        st.pps_in,
        st.loss_pct,
        st.lost,
        st.expected,
        st.reordered,
        st.duplicates,
        st.auth_failures,
        st.srtp_replays
    );
    let _ = writeln!(
        s,
        "    latency us p50 {:.0} p99 {:.0} max {:.0}; joins {} ({} failed) at {:.1}/s, join ms p50 {:.0} p99 {:.0}",
        st.latency_us.p50,
        st.latency_us.p99,
        st.latency_us.max,
        st.joins,
        st.failed_joins,
        st.joins_per_s,
        st.join_ms.p50,
        st.join_ms.p99
    );
    if st.video_expected > 0 {
        let _ = writeln!(
            s,
            "    repair: residual loss {:.3}% ({} of {} video), nacks {} ({} requests, {} given up), \
             retransmissions {} ({} useful, {} dup, {} rtx), pli sent {} received {}, fir {}, \
             publishers: nacks {} retransmitted {}; frames {}, freezes {} ({:.0} ms)",
            st.residual_loss_pct,
            st.residual_lost,
            st.video_expected,
            st.nacks_sent,
            st.nack_requests,
            st.nack_given_up,
            st.retransmissions_received,
            st.retransmissions_useful,
            st.retransmissions_duplicate,
            st.rtx_received,
            st.plis_sent,
            st.plis_received,
            st.firs_received,
            st.nacks_received,
            st.retransmissions_sent,
            st.frames_completed,
            st.freezes,
            st.freeze_ms
        );
    }
    for (dir, i) in [("send", &st.impair_send), ("recv", &st.impair_recv)] {
        if i.dropped + i.delayed + i.overflow > 0 {
            let _ = writeln!(
                s,
                "    impairment {dir}: {} datagrams, dropped {}, delayed {} (reordered {}), overflow {}",
                i.datagrams, i.dropped, i.delayed, i.reordered, i.overflow
            );
        }
    }
    if let (Some(cpu), Some(pct)) = (st.server_cpu_s, st.server_cpu_pct) {
        let _ = writeln!(
            s,
            "    server cpu {:.2}s ({:.1}% of a core), {} us per forwarded packet, rss {} KiB",
            cpu,
            pct,
            st.cpu_us_per_forwarded_packet
                .map_or("-".to_owned(), |v| format!("{v:.2}")),
            st.server_rss_kib.map_or("-".to_owned(), |v| v.to_string())
        );
    }
}
