//! What a subscriber does with the RTP it receives ([`Subscriber`]): per-SSRC sequence
//! accounting ([`SeqStats`]) and, for video, what a browser does: a [`NackGenerator`] per video
//! SSRC asking for what is missing, retransmissions (same SSRC and sequence number) and RTX
//! packets (unwrapped with [`unwrap_rtx`]) filling gaps, a PLI when a packet is given up, and
//! frame completion and freezes ([`FrameTracker`]). Its figures come out as [`RepairTotals`].
//!
//! Owns: the subscriber's receive state. Must not touch sockets, SRTP or the clock: packets
//! come in plain (or as clear headers), RTCP feedback goes out plain through a callback.

use std::time::{Duration, Instant};

use dataplane::rtcp::{write_nack, write_pli, write_receiver_report, ReceiverStats};
use dataplane::twcc::TwccRecorder;

use super::freeze::FrameTracker;
use super::media::SeqStats;
use super::nack::{unwrap_rtx, Arrival, NackConfig, NackGenerator, RtxTrack, MAX_PAIRS};

/// Two PLIs of one subscriber at least this far apart.
pub const PLI_INTERVAL: Duration = Duration::from_millis(300);

/// How a subscriber repairs and judges its video.
#[derive(Clone, Copy, Debug)]
pub struct ReceiveConfig {
    /// The answer's video payload type (`None`: no video negotiated).
    pub video_pt: Option<u8>,
    /// The negotiated RTX stream of the video, if any.
    pub rtx: Option<RtxTrack>,
    /// NACK timing (`max_retries` 0: no NACKs, a gap is given up at once).
    pub nack: NackConfig,
    /// No complete frame for longer than this is a freeze.
    pub freeze_threshold: Duration,
    /// Our SSRC as the sender of RTCP feedback.
    pub ssrc: u32,
    /// The transport-wide sequence number's extension id, when the answer has it: arrivals
    /// are reported back like a browser does (transport-cc feedback about every 100 ms).
    pub transport_seq_id: Option<u8>,
    /// The SSRCs the answer announced for this subscriber (audio, video, video RTX); all
    /// `None`: not announced, any SSRC is ours.
    pub announced: [Option<u32>; 3],
}

/// One received video SSRC.
#[derive(Debug)]
struct VideoRx {
    ssrc: u32,
    nack: NackGenerator,
    frames: FrameTracker,
    /// A packet was given up: the decoder needs a keyframe.
    pli_wanted: bool,
    /// Reception statistics for the receiver reports (LSR/DLSR let the server measure the
    /// round trip, as a browser's reports do).
    stats: ReceiverStats,
    next_report: Instant,
}

/// A subscriber sends a receiver report this often (a browser's video receiver: about 1 s).
const REPORT_INTERVAL: Duration = Duration::from_secs(1);
/// RTP clock rate of video, for the jitter in the reports.
const VIDEO_CLOCK_RATE: u32 = 90_000;

/// A subscriber's repair figures (sums over its video streams), additive over subscribers.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RepairTotals {
    /// Video packets expected by sequence number (first to highest, per SSRC).
    pub video_expected: u64,
    /// Of those, neither received nor repaired.
    pub residual_lost: u64,
    /// Retransmissions received: RTX packets, and packets with the original SSRC that filled
    /// a gap already NACKed or that were already here.
    pub retransmissions: u64,
    /// Retransmissions that filled a gap.
    pub retransmissions_useful: u64,
    /// Retransmissions of packets already here or given up.
    pub retransmissions_duplicate: u64,
    /// Of the retransmissions, RTX packets.
    pub rtx: u64,
    /// NACK packets sent.
    pub nacks_sent: u64,
    /// Packets requested by them (each request counts).
    pub nack_requests: u64,
    /// Packets given up after the NACK retries or deadline.
    pub nack_given_up: u64,
    /// PLIs sent.
    pub plis_sent: u64,
    /// Video frames completed.
    pub frames: u64,
    /// Freezes (one going on included).
    pub freezes: u64,
    /// Their total duration, ns.
    pub freeze_ns: u64,
    /// Video RTP datagrams (original or RTX) the client's receive impairment dropped.
    pub impaired_video: u64,
}

impl RepairTotals {
    /// Adds `o` field by field.
    pub fn add(&mut self, o: &RepairTotals) {
        let [a, b] = [self.as_array(), o.as_array()];
        *self = RepairTotals::from_array(std::array::from_fn(|i| a[i] + b[i]));
    }

    /// The change since `before` (field by field, never below zero).
    pub fn since(&self, before: &RepairTotals) -> RepairTotals {
        let [a, b] = [self.as_array(), before.as_array()];
        RepairTotals::from_array(std::array::from_fn(|i| a[i].saturating_sub(b[i])))
    }

    fn as_array(&self) -> [u64; 14] {
        [
            self.video_expected,
            self.residual_lost,
            self.retransmissions,
            self.retransmissions_useful,
            self.retransmissions_duplicate,
            self.rtx,
            self.nacks_sent,
            self.nack_requests,
            self.nack_given_up,
            self.plis_sent,
            self.frames,
            self.freezes,
            self.freeze_ns,
            self.impaired_video,
        ]
    }

    fn from_array(a: [u64; 14]) -> RepairTotals {
        RepairTotals {
            video_expected: a[0],
            residual_lost: a[1],
            retransmissions: a[2],
            retransmissions_useful: a[3],
            retransmissions_duplicate: a[4],
            rtx: a[5],
            nacks_sent: a[6],
            nack_requests: a[7],
            nack_given_up: a[8],
            plis_sent: a[9],
            frames: a[10],
            freezes: a[11],
            freeze_ns: a[12],
            impaired_video: a[13],
        }
    }
}

/// What a subscriber keeps.
#[derive(Debug)]
pub struct Subscriber {
    cfg: ReceiveConfig,
    /// Per-SSRC sequence accounting (RTX packets count on their original SSRC).
    pub streams: Vec<(u32, SeqStats)>,
    /// RTP packets received (counted from the clear header; RTX excluded), for the sampling
    /// of `Verify`.
    pub received: u64,
    /// Of those, the ones whose SRTP authentication was checked and passed.
    pub verified: u64,
    video: Vec<VideoRx>,
    last_pli: Option<Instant>,
    counts: RepairTotals,
    transport: Option<(u8, TwccRecorder)>,
}

/// The fields of a clear RTP header the accounting needs.
#[derive(Clone, Copy, Debug)]
struct Header {
    pt: u8,
    marker: bool,
    seq: u16,
    ts: u32,
    ssrc: u32,
}

/// The transport-wide sequence number in one-byte extension `id` of a packet's clear header
/// (read by hand like [`header`]: the packet may still be encrypted, and `RtpHeader::parse`
/// checks padding, which an encrypted packet's tail cannot satisfy).
fn transport_seq(rtp: &[u8], id: u8) -> Option<u16> {
    if rtp.first()? & 0x10 == 0 {
        return None;
    }
    let csrcs = usize::from(rtp[0] & 0x0F) * 4;
    let at = 12 + csrcs;
    let block = rtp.get(at..at + 4)?;
    if block[..2] != [0xBE, 0xDE] {
        return None;
    }
    let end = at + 4 + usize::from(u16::from_be_bytes([block[2], block[3]])) * 4;
    let mut i = at + 4;
    while i < end.min(rtp.len()) {
        let b = rtp[i];
        if b == 0 {
            i += 1;
            continue;
        }
        let (eid, len) = (b >> 4, usize::from(b & 0x0F) + 1);
        if eid == id && len == 2 {
            let d = rtp.get(i + 1..i + 3)?;
            return Some(u16::from_be_bytes([d[0], d[1]]));
        }
        i += 1 + len;
    }
    None
}

fn header(rtp: &[u8]) -> Option<Header> {
    let h = rtp.get(..12)?;
    Some(Header {
        pt: h[1] & 0x7f,
        marker: h[1] & 0x80 != 0,
        seq: u16::from_be_bytes([h[2], h[3]]),
        ts: u32::from_be_bytes([h[4], h[5], h[6], h[7]]),
        ssrc: u32::from_be_bytes([h[8], h[9], h[10], h[11]]),
    })
}

impl Subscriber {
    /// A subscriber with nothing received yet.
    pub fn new(cfg: ReceiveConfig) -> Self {
        Subscriber {
            cfg,
            streams: Vec::new(),
            received: 0,
            verified: 0,
            video: Vec::new(),
            last_pli: None,
            counts: RepairTotals::default(),
            transport: cfg.transport_seq_id.map(|id| (id, TwccRecorder::default())),
        }
    }

    /// Whether the RTP datagram (clear header) is of the negotiated RTX stream: its OSN is
    /// encrypted, so it must be decrypted before [`Subscriber::on_rtx`].
    pub fn is_rtx(&self, rtp: &[u8]) -> bool {
        match (self.cfg.rtx, header(rtp)) {
            (Some(rtx), Some(h)) => h.pt == rtx.pt && rtx.ssrc.is_none_or(|s| s == h.ssrc),
            _ => false,
        }
    }

    /// Whether an RTP or SRTCP datagram names an SSRC of ours in its clear header (RTP's SSRC,
    /// the first RTCP packet's sender): one the answer announced, or any if it announced none.
    /// A datagram from the server's address with another SSRC is media or a report of some
    /// other peer that the server still sends to the address this client's socket now has (a
    /// port an earlier client used, until the server's ICE consent for that client expires).
    pub fn is_ours(&self, datagram: &[u8]) -> bool {
        use dataplane::demux::{classify, PacketClass};
        let at = match classify(datagram) {
            PacketClass::Rtp => 8,
            PacketClass::Rtcp => 4,
            _ => return true,
        };
        let Some(&[a, b, c, d]) = datagram.get(at..at + 4) else {
            return true;
        };
        let announced = &self.cfg.announced;
        let ssrc = u32::from_be_bytes([a, b, c, d]);
        announced.iter().all(Option::is_none) || announced.contains(&Some(ssrc))
    }

    /// Notes a datagram the receive impairment dropped (counted if it was video RTP).
    pub fn on_impaired(&mut self, datagram: &[u8]) {
        if dataplane::demux::classify(datagram) != dataplane::demux::PacketClass::Rtp {
            return;
        }
        if let Some(h) = header(datagram) {
            if Some(h.pt) == self.cfg.video_pt || self.is_rtx(datagram) {
                self.counts.impaired_video += 1;
            }
        }
    }

    /// A decrypted RTX packet (`len` bytes of `buf`), arrived at `now`.
    pub fn on_rtx(&mut self, buf: &mut [u8], now: Instant) {
        let (Some(rtx), Some(media)) = (self.cfg.rtx, self.video.first().map(|v| v.ssrc)) else {
            return;
        };
        let len = buf.len();
        let ssrc = header(buf).map(|h| h.ssrc);
        if let Some(n) = unwrap_rtx(buf, len, rtx, media) {
            // Not announced in the answer: the first RTX packet names it.
            if let Some(rtx) = self.cfg.rtx.as_mut().filter(|r| r.ssrc.is_none()) {
                rtx.ssrc = ssrc;
            }
            self.counts.rtx += 1;
            self.on_rtp(&buf[..n], (now, now), true);
        }
    }

    /// An RTP packet (plain, or only its clear header trusted) handled at `now`, having reached
    /// the client at `arrived`; `retransmission` if it came as RTX.
    pub fn on_rtp(&mut self, rtp: &[u8], (now, arrived): (Instant, Instant), retransmission: bool) {
        let Some(h) = header(rtp) else {
            return;
        };
        if let Some((id, arrivals)) = &mut self.transport {
            if let Some(seq) = transport_seq(rtp, *id) {
                arrivals.on_packet(arrived, seq);
            }
        }
        match self.streams.iter_mut().find(|(s, _)| *s == h.ssrc) {
            Some((_, st)) => st.record(h.seq),
            None => {
                let mut st = SeqStats::default();
                st.record(h.seq);
                self.streams.push((h.ssrc, st));
            }
        }
        if Some(h.pt) != self.cfg.video_pt {
            return;
        }
        let i = match self.video.iter().position(|v| v.ssrc == h.ssrc) {
            Some(i) => i,
            None => {
                self.video.push(VideoRx {
                    ssrc: h.ssrc,
                    nack: NackGenerator::new(self.cfg.nack),
                    frames: FrameTracker::new(self.cfg.freeze_threshold),
                    pli_wanted: false,
                    stats: ReceiverStats::new(h.ssrc, VIDEO_CLOCK_RATE),
                    next_report: now + REPORT_INTERVAL,
                });
                self.video.len() - 1
            }
        };
        let v = &mut self.video[i];
        v.stats.on_packet(h.seq, h.ts, arrived);
        let (nack, frames) = (&mut v.nack, &mut v.frames);
        let mut gave_up = false;
        let arrival = nack.on_packet_arrived(h.seq, now, arrived, |s| {
            gave_up = true;
            frames.give_up(s, now);
        });
        v.pli_wanted |= gave_up;
        let c = &mut self.counts;
        match arrival {
            Arrival::Filled { nacked } if nacked || retransmission => {
                c.retransmissions += 1;
                c.retransmissions_useful += 1;
            }
            Arrival::Old => {
                c.retransmissions += 1;
                c.retransmissions_duplicate += 1;
            }
            Arrival::New if retransmission => {
                // An RTX packet beyond everything seen (its original never came): it fills
                // nothing known yet but is a retransmission all the same.
                c.retransmissions += 1;
                c.retransmissions_useful += 1;
            }
            Arrival::Filled { .. } | Arrival::New => {}
        }
        let ext = v.nack.last_extended();
        v.frames.on_packet(ext, h.ts, h.marker, now);
    }

    /// A sender report from the server about `ssrc`, with NTP timestamp `ntp`, arrived at `now`.
    pub fn on_sender_report(&mut self, ssrc: u32, ntp: u64, now: Instant) {
        if let Some(v) = self.video.iter_mut().find(|v| v.ssrc == ssrc) {
            v.stats.on_sender_report(ntp, now);
        }
    }

    /// Writes the feedback due at `now` into `scratch` and hands each plain RTCP packet to
    /// `emit`: NACKs of what is missing, a PLI (at most one per [`PLI_INTERVAL`]) when a packet
    /// was given up, a receiver report every [`REPORT_INTERVAL`].
    pub fn poll_feedback(&mut self, now: Instant, scratch: &mut [u8], mut emit: impl FnMut(&[u8])) {
        let mut pairs = [(0u16, 0u16); MAX_PAIRS];
        let me = self.cfg.ssrc;
        for v in &mut self.video {
            let frames = &mut v.frames;
            let mut gave_up = false;
            let polled = v.nack.poll(now, &mut pairs, |s| {
                gave_up = true;
                frames.give_up(s, now);
            });
            v.pli_wanted |= gave_up;
            if polled.pairs > 0 {
                if let Ok(n) = write_nack(scratch, me, v.ssrc, &pairs[..polled.pairs]) {
                    emit(&scratch[..n]);
                }
            }
            let pli_allowed = self.last_pli.is_none_or(|t| now >= t + PLI_INTERVAL);
            if v.pli_wanted && pli_allowed {
                if let Ok(n) = write_pli(scratch, me, v.ssrc) {
                    emit(&scratch[..n]);
                    self.counts.plis_sent += 1;
                    self.last_pli = Some(now);
                }
                v.pli_wanted = false;
            }
            if let Some((_, arrivals)) = &mut self.transport {
                while let Some(n) = arrivals.write_feedback(now, me, v.ssrc, scratch) {
                    emit(&scratch[..n]);
                }
            }
            if now >= v.next_report {
                let block = v.stats.report_block(now);
                if let Ok(n) = write_receiver_report(scratch, me, &[block]) {
                    emit(&scratch[..n]);
                }
                v.next_report = now + REPORT_INTERVAL;
            }
        }
    }

    /// When [`Subscriber::poll_feedback`] next has something to do.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let pli = self.last_pli.map(|t| t + PLI_INTERVAL);
        self.video
            .iter()
            .flat_map(|v| {
                [
                    v.nack.poll_timeout(),
                    pli.filter(|_| v.pli_wanted),
                    Some(v.next_report),
                ]
            })
            .chain(std::iter::once(
                self.transport.as_ref().and_then(|(_, a)| a.poll_timeout()),
            ))
            .flatten()
            .min()
    }

    /// Where each video stream stands now: `(ssrc, highest sequence number)`, the cut that
    /// [`Subscriber::settled`] reads later.
    pub fn video_cuts(&self) -> Vec<(u32, u64)> {
        self.video
            .iter()
            .filter_map(|v| {
                let (_, st) = self.streams.iter().find(|(s, _)| *s == v.ssrc)?;
                Some((v.ssrc, st.highest()?))
            })
            .collect()
    }

    /// Video packets up to `cuts` (from [`Subscriber::video_cuts`]): `(expected, still
    /// missing)`. Streams that started after the cut count nothing.
    pub fn settled(&self, cuts: &[(u32, u64)]) -> (u64, u64) {
        cuts.iter()
            .filter_map(|&(ssrc, cut)| {
                let (_, st) = self.streams.iter().find(|(s, _)| *s == ssrc)?;
                Some(st.settled_upto(cut))
            })
            .fold((0, 0), |(e, l), (e2, l2)| (e + e2, l + l2))
    }

    /// The figures at `now` (freezes going on included).
    pub fn totals(&self, now: Instant) -> RepairTotals {
        let mut t = self.counts;
        for v in &self.video {
            t.nacks_sent += v.nack.stats.nacks;
            t.nack_requests += v.nack.stats.requested;
            t.nack_given_up += v.nack.stats.given_up;
            let f = v.frames.freezes(now);
            t.frames += f.frames;
            t.freezes += f.count;
            t.freeze_ns += f.time.as_nanos() as u64;
            if let Some((_, st)) = self.streams.iter().find(|(s, _)| *s == v.ssrc) {
                t.video_expected += st.expected();
                t.residual_lost += st.lost();
            }
        }
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg() -> ReceiveConfig {
        ReceiveConfig {
            video_pt: Some(96),
            rtx: Some(RtxTrack {
                pt: 97,
                ssrc: Some(0xBBBB),
                apt: 96,
            }),
            nack: NackConfig::default(),
            freeze_threshold: Duration::from_millis(500),
            ssrc: 7,
            transport_seq_id: None,
            announced: [None; 3],
        }
    }

    #[test]
    fn announced_ssrcs_are_ours() {
        let anyone = Subscriber::new(cfg());
        assert!(anyone.is_ours(&rtp(96, 0x1234, 1, false)), "none announced");
        let s = Subscriber::new(ReceiveConfig {
            announced: [Some(0xAAAA), Some(0xCCCC), Some(0xBBBB)],
            ..cfg()
        });
        for ssrc in [0xAAAA, 0xBBBB, 0xCCCC] {
            assert!(s.is_ours(&rtp(96, ssrc, 1, false)), "{ssrc:x}");
        }
        assert!(!s.is_ours(&rtp(96, 0xDDDD, 1, false)), "another peer's");
        // A sender report names its sender in the clear (SRTCP encrypts what follows).
        let sr = |ssrc: u32| {
            let mut p = vec![0x80, 200, 0, 6];
            p.extend_from_slice(&ssrc.to_be_bytes());
            p.extend_from_slice(&[0; 20]);
            p
        };
        assert!(s.is_ours(&sr(0xCCCC)));
        assert!(!s.is_ours(&sr(0xDDDD)), "another peer's report");
        assert!(anyone.is_ours(&sr(0xDDDD)), "none announced");
    }

    fn rtp(pt: u8, ssrc: u32, seq: u16, marker: bool) -> Vec<u8> {
        let mut p = vec![0x80, pt | if marker { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.to_be_bytes());
        p.extend_from_slice(&(u32::from(seq) * 100).to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(b"payload");
        p
    }

    /// A lost packet is NACKed; its plain retransmission and an RTX copy fill gaps; a second
    /// copy is a duplicate; the residual loss is what stays missing.
    #[test]
    fn nack_retransmission_rtx_and_residual() {
        let t0 = Instant::now();
        let mut s = Subscriber::new(cfg());
        for seq in [1u16, 2, 5, 6] {
            s.on_rtp(&rtp(96, 0xAAAA, seq, true), (t0, t0), false);
        }
        s.on_rtp(&rtp(111, 0xCCCC, 1, true), (t0, t0), false); // audio: not repaired
        let mut nacks = Vec::new();
        let mut scratch = [0u8; 1500];
        s.poll_feedback(t0, &mut scratch, |p| nacks.push(p.to_vec()));
        assert_eq!(nacks.len(), 1);
        let lost: Vec<u16> = match dataplane::rtcp::RtcpCompound::iter(&nacks[0]).next() {
            Some(Ok(dataplane::rtcp::RtcpPacket::Nack(n))) => {
                assert_eq!((n.sender_ssrc, n.media_ssrc), (7, 0xAAAA));
                n.lost().collect()
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(lost, vec![3, 4]);
        // 3 comes back as a plain retransmission, 4 as RTX (OSN 4), then 3 again.
        let t1 = t0 + Duration::from_millis(1);
        s.on_rtp(&rtp(96, 0xAAAA, 3, false), (t1, t1), false);
        let mut r = rtp(97, 0xBBBB, 900, false);
        r.splice(12..12, 4u16.to_be_bytes());
        assert!(s.is_rtx(&r));
        s.on_rtx(&mut r, t0);
        s.on_rtp(&rtp(96, 0xAAAA, 3, false), (t0, t0), false);
        let t = s.totals(t0);
        assert_eq!((t.retransmissions, t.retransmissions_useful), (3, 2));
        assert_eq!((t.retransmissions_duplicate, t.rtx), (1, 1));
        assert_eq!((t.video_expected, t.residual_lost), (6, 0));
        assert_eq!((t.nacks_sent, t.nack_requests), (1, 2));
        assert!(
            s.streams.iter().all(|(ssrc, _)| *ssrc != 0xBBBB),
            "RTX counts on the original"
        );
        // 7 lost and never repaired: given up after the deadline, one PLI.
        s.on_rtp(&rtp(96, 0xAAAA, 8, true), (t0, t0), false);
        let mut out = Vec::new();
        let deadline = t0 + Duration::from_secs(1);
        let mut now = t0;
        // Receiver reports go on every second: look until the PLI is due at the latest.
        while let Some(at) = s.poll_timeout().filter(|&at| at <= deadline + PLI_INTERVAL) {
            now = at;
            s.poll_feedback(now, &mut scratch, |p| out.push(p[1]));
        }
        assert_eq!(out.iter().filter(|&&pt| pt == 206).count(), 1, "one PLI");
        assert!(out.contains(&201), "a receiver report: {out:?}");
        let t = s.totals(now);
        assert_eq!((t.residual_lost, t.nack_given_up, t.plis_sent), (1, 1, 1));
        assert_eq!(t.nack_requests, 2 + 10, "ten requests of 7");
    }

    /// Each second a receiver report about the video, naming the last sender report and how
    /// long ago it came (the server measures its round trip to the subscriber from them).
    #[test]
    fn receiver_reports_name_the_last_sender_report() {
        let t0 = Instant::now();
        let mut s = Subscriber::new(cfg());
        s.on_rtp(&rtp(96, 0xAAAA, 1, true), (t0, t0), false);
        s.on_sender_report(
            0xAAAA,
            0x0001_2345_6789_0000,
            t0 + Duration::from_millis(500),
        );
        let mut out = Vec::new();
        let mut scratch = [0u8; 1500];
        s.poll_feedback(t0 + REPORT_INTERVAL, &mut scratch, |p| out.push(p.to_vec()));
        let blocks: Vec<_> = out
            .iter()
            .flat_map(|p| dataplane::rtcp::RtcpCompound::iter(p).map_while(Result::ok))
            .filter_map(|p| match p {
                dataplane::rtcp::RtcpPacket::ReceiverReport(rr) => Some(rr.report_blocks()),
                _ => None,
            })
            .flatten()
            .collect();
        assert_eq!(blocks.len(), 1, "{out:?}");
        assert_eq!((blocks[0].ssrc, blocks[0].last_sr), (0xAAAA, 0x2345_6789));
        assert_eq!(blocks[0].delay_since_last_sr, 65_536 / 2, "held 500 ms");
    }

    /// An RTX SSRC the answer did not announce is learnt from the first RTX packet.
    #[test]
    fn rtx_ssrc_learnt() {
        let mut c = cfg();
        c.rtx = c.rtx.map(|r| RtxTrack { ssrc: None, ..r });
        let mut s = Subscriber::new(c);
        let t0 = Instant::now();
        s.on_rtp(&rtp(96, 0xAAAA, 1, true), (t0, t0), false);
        s.on_rtp(&rtp(96, 0xAAAA, 3, true), (t0, t0), false);
        let mut r = rtp(97, 0xCCCC, 50, false);
        r.splice(12..12, 2u16.to_be_bytes());
        assert!(s.is_rtx(&r));
        s.on_rtx(&mut r, t0);
        assert_eq!(s.totals(t0).rtx, 1);
        assert_eq!(s.totals(t0).residual_lost, 0);
        assert!(!s.is_rtx(&rtp(97, 0xDDDD, 1, false)), "now only 0xCCCC");
    }

    /// Dropped video (original or RTX) is counted; audio and RTCP are not.
    #[test]
    fn impaired_video_counted() {
        let mut s = Subscriber::new(cfg());
        s.on_impaired(&rtp(96, 1, 1, false));
        s.on_impaired(&rtp(97, 0xBBBB, 1, false));
        s.on_impaired(&rtp(111, 2, 1, false));
        s.on_impaired(&[0x80, 200, 0, 1, 0, 0, 0, 0]);
        assert_eq!(s.totals(Instant::now()).impaired_video, 2);
    }

    #[test]
    fn totals_add_and_since() {
        let mut a = RepairTotals {
            nacks_sent: 2,
            freezes: 1,
            ..RepairTotals::default()
        };
        let b = a;
        a.add(&b);
        assert_eq!((a.nacks_sent, a.freezes), (4, 2));
        assert_eq!(b.since(&a).nacks_sent, 0);
        assert_eq!(a.since(&b).freezes, 1);
    }
}
