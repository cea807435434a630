//! Synthetic media of the load generator: the publisher's VP8-shaped video frames and
//! Opus-sized audio packets ([`Synth`]), the 21-byte tail every payload ends with
//! ([`Tail`]: kind, counter, send time), and the receiver's per-SSRC sequence accounting
//! ([`SeqStats`]: loss, reordering, duplicates).
//!
//! Owns: the byte layout of what publishers send. Must not touch sockets, SRTP or the clock:
//! times come in as arguments. Packets are written into caller-provided buffers.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Bytes of the RTP header we write: 12 fixed + 16 of one-byte extensions.
pub const HEADER_LEN: usize = 28;
/// Bytes of the tail at the end of every payload.
pub const TAIL_LEN: usize = 21;
/// The tail's trailing magic.
const MAGIC: [u8; 4] = *b"rtld";
/// Extension id of abs-send-time in the publish offer.
const ABS_SEND_TIME_ID: u8 = 2;
/// Extension id of mid in the publish offer.
const MID_ID: u8 = 4;
/// Extension id of the transport-wide sequence number in the offers.
pub const TRANSPORT_SEQ_ID: u8 = 3;
/// Audio payload type of the publish offer (Opus).
pub const AUDIO_PT: u8 = 111;
/// Video payload type of the publish offer (VP8).
pub const VIDEO_PT: u8 = 96;
/// Opus packet duration.
pub const AUDIO_INTERVAL: Duration = Duration::from_millis(20);
/// Opus payload size (about 40 kbit/s).
pub const AUDIO_PAYLOAD: usize = 100;
/// Video frame rate.
pub const FPS: u32 = 30;
/// A keyframe at least this often even without PLI (a browser's worst case GOP).
pub const KEYFRAME_EVERY: u32 = 10 * FPS;

/// Which track a payload belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Opus-sized audio.
    Audio = 1,
    /// VP8-shaped video.
    Video = 2,
}

/// The tail every synthetic payload ends with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tail {
    /// Audio or video.
    pub kind: Kind,
    /// Per-track packet counter of the publisher.
    pub counter: u64,
    /// Send time in ns since the process-wide epoch.
    pub sent_ns: u64,
}

impl Tail {
    /// Reads the tail from the end of a decrypted RTP packet; `None` if it is not ours.
    pub fn parse(packet: &[u8]) -> Option<Tail> {
        let t = packet.get(packet.len().checked_sub(TAIL_LEN)?..)?;
        if t[17..21] != MAGIC {
            return None;
        }
        let kind = match t[0] {
            1 => Kind::Audio,
            2 => Kind::Video,
            _ => return None,
        };
        Some(Tail {
            kind,
            counter: u64::from_be_bytes(t[1..9].try_into().ok()?),
            sent_ns: u64::from_be_bytes(t[9..17].try_into().ok()?),
        })
    }

    fn write(&self, out: &mut [u8]) {
        out[0] = self.kind as u8;
        out[1..9].copy_from_slice(&self.counter.to_be_bytes());
        out[9..17].copy_from_slice(&self.sent_ns.to_be_bytes());
        out[17..21].copy_from_slice(&MAGIC);
    }
}

/// One track's RTP state.
#[derive(Clone, Debug)]
struct Track {
    ssrc: u32,
    seq: u16,
    counter: u64,
}

/// A publisher's packet factory: audio every 20 ms, video frames at [`FPS`] split into
/// packets of at most `packet_size` bytes of plain RTP.
#[derive(Clone, Debug)]
pub struct Synth {
    audio: Track,
    video: Track,
    frame_bytes: usize,
    max_payload: usize,
    frames: u32,
    keyframe_pending: bool,
    /// Keyframes sent.
    pub keyframes: u64,
    /// The next transport-wide sequence number (audio and video share them, as in a browser).
    transport_seq: u16,
}

impl Synth {
    /// A source sending `bitrate` bits/s in total (audio included) in RTP packets of at most
    /// `packet_size` bytes.
    pub fn new(audio_ssrc: u32, video_ssrc: u32, bitrate: u64, packet_size: usize) -> Self {
        let audio_bps = ((HEADER_LEN + AUDIO_PAYLOAD) * 8 * 50) as u64;
        let video_bps = bitrate.saturating_sub(audio_bps).max(50_000);
        let max_payload = packet_size.max(HEADER_LEN + 64) - HEADER_LEN;
        Synth {
            audio: Track {
                ssrc: audio_ssrc,
                seq: rand::random(),
                counter: 0,
            },
            video: Track {
                ssrc: video_ssrc,
                seq: rand::random(),
                counter: 0,
            },
            frame_bytes: (video_bps / 8 / u64::from(FPS)) as usize,
            max_payload,
            frames: 0,
            keyframe_pending: true,
            keyframes: 0,
            transport_seq: 0,
        }
    }

    fn next_transport_seq(&mut self) -> u16 {
        let seq = self.transport_seq;
        self.transport_seq = seq.wrapping_add(1);
        seq
    }

    /// The video SSRC (PLIs name it).
    pub fn video_ssrc(&self) -> u32 {
        self.video.ssrc
    }

    /// Makes the next frame a keyframe (a PLI or FIR arrived).
    pub fn request_keyframe(&mut self) {
        self.keyframe_pending = true;
    }

    /// Writes one audio packet into `out` (at least `HEADER_LEN + AUDIO_PAYLOAD` bytes) and
    /// returns its length.
    pub fn audio_packet(&mut self, sent_ns: u64, out: &mut [u8]) -> usize {
        let ts = (sent_ns / 1_000_000 * 48) as u32;
        let len = HEADER_LEN + AUDIO_PAYLOAD;
        let tseq = self.next_transport_seq();
        write_header(
            out,
            AUDIO_PT,
            &mut self.audio,
            ts,
            true,
            sent_ns,
            b'0',
            tseq,
        );
        out[HEADER_LEN..len - TAIL_LEN].fill(0xA5);
        let tail = Tail {
            kind: Kind::Audio,
            counter: self.audio.counter,
            sent_ns,
        };
        tail.write(&mut out[len - TAIL_LEN..len]);
        self.audio.counter += 1;
        len
    }

    /// Writes the packets of one video frame through `emit(packet)`, each built in `scratch`
    /// (at least `packet_size` bytes). Returns whether the frame was a keyframe.
    pub fn video_frame(
        &mut self,
        sent_ns: u64,
        scratch: &mut [u8],
        mut emit: impl FnMut(&[u8]),
    ) -> bool {
        let key = self.keyframe_pending || self.frames.is_multiple_of(KEYFRAME_EVERY);
        self.keyframe_pending = false;
        self.frames = self.frames.wrapping_add(1);
        if key {
            self.keyframes += 1;
        }
        let ts = (sent_ns / 1000 * 9 / 100) as u32;
        let packets = self.frame_bytes.div_ceil(self.max_payload).max(1);
        let per_packet = (self.frame_bytes / packets).clamp(TAIL_LEN + 12, self.max_payload);
        for i in 0..packets {
            let last = i + 1 == packets;
            let tseq = self.next_transport_seq();
            write_header(
                scratch,
                VIDEO_PT,
                &mut self.video,
                ts,
                last,
                sent_ns,
                b'1',
                tseq,
            );
            let len = HEADER_LEN + per_packet;
            let payload = &mut scratch[HEADER_LEN..len];
            payload.fill(0);
            if i == 0 {
                // VP8 payload descriptor: S=1, PID=0; then the frame tag (P bit clear for a
                // keyframe, show_frame set) and, for a keyframe, the start code and 16x16 size.
                payload[0] = 0x10;
                if key {
                    payload[1..11].copy_from_slice(&[0x10, 0, 0, 0x9d, 0x01, 0x2a, 16, 0, 16, 0]);
                } else {
                    payload[1] = 0x11;
                }
            }
            let tail = Tail {
                kind: Kind::Video,
                counter: self.video.counter,
                sent_ns,
            };
            tail.write(&mut payload[per_packet - TAIL_LEN..]);
            self.video.counter += 1;
            emit(&scratch[..len]);
        }
        key
    }
}

/// Fixed RTP header plus a one-byte extension block: abs-send-time, mid and the
/// transport-wide sequence number `tseq`.
#[allow(clippy::too_many_arguments)]
fn write_header(
    out: &mut [u8],
    pt: u8,
    track: &mut Track,
    ts: u32,
    marker: bool,
    sent_ns: u64,
    mid: u8,
    tseq: u16,
) {
    out[0] = 0x90;
    out[1] = pt | if marker { 0x80 } else { 0 };
    out[2..4].copy_from_slice(&track.seq.to_be_bytes());
    out[4..8].copy_from_slice(&ts.to_be_bytes());
    out[8..12].copy_from_slice(&track.ssrc.to_be_bytes());
    out[12..16].copy_from_slice(&[0xBE, 0xDE, 0, 3]);
    // abs-send-time: 6.18 fixed-point seconds, 24 bits.
    let abs = ((u128::from(sent_ns) << 18) / 1_000_000_000) as u32 & 0x00ff_ffff;
    let abs = abs.to_be_bytes();
    let t = tseq.to_be_bytes();
    out[16..28].copy_from_slice(&[
        ABS_SEND_TIME_ID << 4 | 2,
        abs[1],
        abs[2],
        abs[3],
        MID_ID << 4,
        mid,
        TRANSPORT_SEQ_ID << 4 | 1,
        t[0],
        t[1],
        0,
        0,
        0,
    ]);
    track.seq = track.seq.wrapping_add(1);
}

/// Window of recent sequence numbers remembered (duplicate detection, and what is still
/// missing among them): 4096 packets are 4 s of 10 Mbit/s video in 1200-byte packets, more than
/// a repair takes.
const WINDOW: u64 = 4096;

/// Loss, reordering and duplicate accounting of one received SSRC, by RTP sequence number
/// (extended to 64 bits).
#[derive(Clone, Debug)]
pub struct SeqStats {
    first: Option<u64>,
    max: u64,
    seen: Box<[u64; (WINDOW / 64) as usize]>,
    /// Packets that left the window (`WINDOW` newer ones arrived) without having arrived.
    evicted_lost: u64,
    /// Distinct packets received.
    pub received: u64,
    /// Packets that arrived after a later one.
    pub reordered: u64,
    /// Packets received more than once.
    pub duplicates: u64,
}

impl Default for SeqStats {
    fn default() -> Self {
        SeqStats {
            first: None,
            max: 0,
            seen: Box::new([0; (WINDOW / 64) as usize]),
            evicted_lost: 0,
            received: 0,
            reordered: 0,
            duplicates: 0,
        }
    }
}

impl SeqStats {
    fn bit(&mut self, s: u64) -> (&mut u64, u64) {
        let i = (s % WINDOW) as usize;
        (&mut self.seen[i / 64], 1u64 << (i % 64))
    }

    fn has(&self, s: u64) -> bool {
        let i = (s % WINDOW) as usize;
        self.seen[i / 64] & (1u64 << (i % 64)) != 0
    }

    /// Extends a 16-bit sequence number to the one nearest the highest seen.
    fn extend(&self, seq: u16) -> u64 {
        let Some(_) = self.first else {
            // Start high enough that an early reordered packet does not underflow.
            return (1 << 32) | u64::from(seq);
        };
        let base = (self.max & !0xffff) | u64::from(seq);
        if base + 0x8000 < self.max {
            base + 0x1_0000
        } else if base > self.max + 0x8000 && base >= 0x1_0000 {
            base - 0x1_0000
        } else {
            base
        }
    }

    /// The highest sequence number seen (extended), once one was: a cut for
    /// [`SeqStats::settled_upto`].
    pub fn highest(&self) -> Option<u64> {
        self.first.map(|_| self.max)
    }

    /// Moves the window so that `s` (above the highest) is its newest slot, counting the
    /// packets that leave it unreceived.
    fn advance_to(&mut self, s: u64) {
        let first = self.first.unwrap_or(s);
        if s - self.max >= WINDOW {
            // Every slot is reused: the whole window leaves, and so do the numbers jumped over
            // that are already older than the new window.
            let held = self.max - self.max.saturating_sub(WINDOW - 1).max(first) + 1;
            let got: u64 = self.seen.iter().map(|w| u64::from(w.count_ones())).sum();
            self.evicted_lost += held - got + (s - WINDOW).saturating_sub(self.max);
            self.seen.fill(0);
        } else {
            for x in self.max + 1..=s {
                let leaving = x.checked_sub(WINDOW).filter(|&l| l >= first);
                if leaving.is_some() && !self.has(x) {
                    self.evicted_lost += 1;
                }
                let (w, b) = self.bit(x);
                *w &= !b;
            }
        }
        let (w, b) = self.bit(s);
        *w |= b;
        self.max = s;
    }

    /// Accounts one packet with RTP sequence number `seq`.
    pub fn record(&mut self, seq: u16) {
        let s = self.extend(seq);
        let Some(_) = self.first else {
            self.first = Some(s);
            self.max = s;
            self.received = 1;
            let (w, b) = self.bit(s);
            *w |= b;
            return;
        };
        if s > self.max {
            self.advance_to(s);
            self.received += 1;
        } else if self.max - s >= WINDOW || self.first.is_some_and(|f| s < f) {
            // Too old to tell a duplicate from a very late packet: count it as late.
            self.reordered += 1;
        } else {
            let (w, b) = self.bit(s);
            if *w & b != 0 {
                self.duplicates += 1;
            } else {
                *w |= b;
                self.reordered += 1;
                self.received += 1;
            }
        }
    }

    /// Of the packets from the first to `cut` (a [`SeqStats::highest`] read earlier): how many
    /// were expected and how many have still not arrived. Reading it some time after the cut
    /// leaves repairs under way at the cut time to finish; exact while `cut` is within the
    /// last `WINDOW` packets, and an upper bound of the loss after that.
    pub fn settled_upto(&self, cut: u64) -> (u64, u64) {
        let Some(first) = self.first else {
            return (0, 0);
        };
        if cut < first {
            return (0, 0);
        }
        let cut = cut.min(self.max);
        let in_window = self.max.saturating_sub(WINDOW - 1).max(first);
        let missing = (in_window..=cut).filter(|&s| !self.has(s)).count() as u64;
        (cut - first + 1, self.evicted_lost + missing)
    }

    /// Packets expected from the first to the highest sequence number seen.
    pub fn expected(&self) -> u64 {
        self.first.map_or(0, |f| self.max - f + 1)
    }

    /// Expected but never received (so far).
    pub fn lost(&self) -> u64 {
        self.expected().saturating_sub(self.received)
    }
}

/// The process-wide time origin of the send timestamps in payloads.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tail_round_trip_and_rejects() {
        let mut s = Synth::new(1, 2, 1_000_000, 1200);
        let mut buf = [0u8; 1500];
        let n = s.audio_packet(123_456, &mut buf);
        let t = Tail::parse(&buf[..n]).unwrap();
        assert_eq!(t.kind, Kind::Audio);
        assert_eq!(t.sent_ns, 123_456);
        assert_eq!(Tail::parse(&buf[..n - 1]), None);
        assert_eq!(Tail::parse(&buf[..3]), None);
        assert_eq!(Tail::parse(&[]), None);
        let mut bad = buf[..n].to_vec();
        bad[n - TAIL_LEN] = 9;
        assert_eq!(Tail::parse(&bad), None);
    }

    #[test]
    fn video_frames_are_vp8_keyframes_on_request_and_sized() {
        use dataplane::rtp::{is_keyframe, VideoCodecKind};
        let mut s = Synth::new(1, 2, 1_000_000, 1200);
        let mut scratch = [0u8; 1500];
        let mut packets: Vec<Vec<u8>> = Vec::new();
        assert!(s.video_frame(0, &mut scratch, |p| packets.push(p.to_vec())));
        assert!(
            packets.len() >= 3,
            "1 Mbit/s at 30 fps needs several packets"
        );
        assert!(packets.iter().all(|p| p.len() <= 1200));
        assert!(is_keyframe(VideoCodecKind::Vp8, &packets[0][HEADER_LEN..]));
        assert!(!is_keyframe(VideoCodecKind::Vp8, &packets[1][HEADER_LEN..]));
        assert!(packets.last().unwrap()[1] & 0x80 != 0, "marker on last");
        assert!(packets[0][1] & 0x80 == 0);
        let counters: Vec<u64> = packets
            .iter()
            .map(|p| Tail::parse(p).unwrap().counter)
            .collect();
        assert_eq!(counters, (0..packets.len() as u64).collect::<Vec<_>>());

        packets.clear();
        assert!(!s.video_frame(1, &mut scratch, |p| packets.push(p.to_vec())));
        assert!(!is_keyframe(VideoCodecKind::Vp8, &packets[0][HEADER_LEN..]));
        s.request_keyframe();
        packets.clear();
        assert!(s.video_frame(2, &mut scratch, |p| packets.push(p.to_vec())));
        assert!(is_keyframe(VideoCodecKind::Vp8, &packets[0][HEADER_LEN..]));
        assert_eq!(s.keyframes, 2);
    }

    #[test]
    fn seq_stats_loss_reorder_duplicates_wrap() {
        let mut st = SeqStats::default();
        for seq in [65533u16, 65534, 65535, 1, 0, 0, 3] {
            st.record(seq);
        }
        // Expected 65533..=3 across the wrap (7), got 6 distinct: 2 is lost.
        assert_eq!(st.expected(), 7);
        assert_eq!(st.received, 6);
        assert_eq!(st.lost(), 1);
        assert_eq!(st.reordered, 1);
        assert_eq!(st.duplicates, 1);
        // A very late packet is counted as reordered, never as received twice.
        st.record(65000);
        assert_eq!(st.received, 6);
        assert_eq!(st.reordered, 2);
    }

    #[test]
    fn settled_loss_at_the_highest_is_the_loss_whatever_the_pattern() {
        let mut st = SeqStats::default();
        let mut x: u32 = 7;
        let mut seq: u16 = 65000;
        for i in 0..20_000u32 {
            x = x.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            if i == 9_000 {
                // A jump beyond the window.
                seq = seq.wrapping_add(6_000);
            }
            match x >> 28 {
                0 => {}                              // lost
                1 => st.record(seq.wrapping_sub(3)), // late, or a duplicate
                _ => st.record(seq),
            }
            seq = seq.wrapping_add(1);
            if i % 997 == 0 {
                let cut = st.highest().unwrap();
                assert_eq!(st.settled_upto(cut), (st.expected(), st.lost()), "at {i}");
            }
        }
        let cut = st.highest().unwrap();
        assert_eq!(st.settled_upto(cut), (st.expected(), st.lost()));
        assert!(st.lost() > 6_000);
    }

    #[test]
    fn settled_loss_counts_only_up_to_the_cut_and_repairs_after_it() {
        let mut st = SeqStats::default();
        for seq in (0..10u16).filter(|&s| s != 5) {
            st.record(seq);
        }
        let cut = st.highest().unwrap();
        assert_eq!(st.settled_upto(cut), (10, 1));
        // Later packets (one lost) do not count; the repair of 5 after the cut does.
        for seq in (10..20u16).filter(|&s| s != 15) {
            st.record(seq);
        }
        assert_eq!(st.settled_upto(cut), (10, 1));
        st.record(5);
        assert_eq!(st.settled_upto(cut), (10, 0));
        assert_eq!(st.lost(), 1, "15 is still missing, after the cut");
        // A packet that left the window unreceived stays lost, and is counted once.
        let mut st = SeqStats::default();
        for seq in (0..5_000u16).filter(|&s| s != 7) {
            st.record(seq);
        }
        assert_eq!(st.settled_upto(st.highest().unwrap()), (5_000, 1));
        st.record(7);
        assert_eq!((st.lost(), st.reordered), (1, 1), "too late to count");
    }

    #[test]
    fn seq_stats_big_jump_clears_window() {
        let mut st = SeqStats::default();
        st.record(10);
        st.record(10 + 5000);
        assert_eq!(st.lost(), 4999);
        st.record(10 + 4999);
        assert_eq!(st.duplicates, 0);
        assert_eq!(st.lost(), 4998);
    }
}
