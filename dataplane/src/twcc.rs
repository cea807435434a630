//! The receiving side of transport-wide congestion control for one peer (a publisher): when
//! each transport-wide sequence number arrived, reported back in RTPFB FMT 15 feedback
//! ([`crate::rtcp::write_twcc`]) about every [`FEEDBACK_INTERVAL`] while packets come, so the
//! sender's own estimator (Chrome's GCC) sees the path's delay trend and loss and keeps its rate
//! under what the path carries.
//!
//! Sans-IO and bounded: the last [`WINDOW`] arrivals in a fixed ring, allocated once; `now` is
//! passed in. Knows nothing of SRTP or sockets; the owner reads the sequence number from the
//! packet's header extension and sends what [`TwccRecorder::write_feedback`] writes.

use std::time::{Duration, Instant};

use crate::rtcp::{write_twcc, RtcpError};
use crate::rtp::SeqExtender;

/// Feedback is sent this long after the first packet it reports (libwebrtc's default).
pub const FEEDBACK_INTERVAL: Duration = Duration::from_millis(100);
/// Arrivals remembered (a power of two); older unreported ones are reported as lost.
pub const WINDOW: usize = 1024;
/// Sequence numbers one feedback message reports at most (keeps it well under the MTU).
pub const MAX_PER_FEEDBACK: usize = 400;

/// Arrival times of one peer's transport-wide sequence numbers, and the feedback due.
#[derive(Debug)]
pub struct TwccRecorder {
    epoch: Option<Instant>,
    seqs: SeqExtender,
    /// By extended sequence number mod `WINDOW`: (extended number + 1, 0 if empty; µs since
    /// `epoch`).
    arrivals: Box<[(u64, i64)]>,
    /// The first extended sequence number not reported yet, and the highest seen.
    next_unreported: Option<u64>,
    highest: u64,
    fb_count: u8,
    next_feedback: Option<Instant>,
    /// Feedback messages written.
    pub sent: u64,
}

impl Default for TwccRecorder {
    fn default() -> Self {
        Self {
            epoch: None,
            seqs: SeqExtender::new(),
            arrivals: vec![(0, 0); WINDOW].into_boxed_slice(),
            next_unreported: None,
            highest: 0,
            fb_count: 0,
            next_feedback: None,
            sent: 0,
        }
    }
}

impl TwccRecorder {
    /// A packet with transport-wide sequence number `seq` arrived at `now`. Returns true if
    /// this armed the feedback timer ([`Self::poll_timeout`] changed).
    pub fn on_packet(&mut self, now: Instant, seq: u16) -> bool {
        let epoch = *self.epoch.get_or_insert(now);
        let ext = self.seqs.extend(seq);
        let us = now.saturating_duration_since(epoch).as_micros() as i64;
        self.arrivals[ext as usize % WINDOW] = (ext + 1, us);
        let next = *self.next_unreported.get_or_insert(ext);
        if ext < next {
            return false; // already reported (as lost): too late to tell
        }
        self.highest = self.highest.max(ext);
        if self.highest - next >= WINDOW as u64 {
            // Fell out of the ring unreported: reported from what is still known.
            self.next_unreported = Some(self.highest + 1 - WINDOW as u64);
        }
        let armed = self.next_feedback.is_none();
        self.next_feedback.get_or_insert(now + FEEDBACK_INTERVAL);
        armed
    }

    /// When feedback is due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_feedback
    }

    /// Writes the feedback due at `now` into `out` (our SSRC `sender_ssrc`, about the peer's
    /// `media_ssrc`) and returns its length; `None` when none is due. Call again while it
    /// returns `Some`: a long stretch goes out in several messages.
    pub fn write_feedback(
        &mut self,
        now: Instant,
        sender_ssrc: u32,
        media_ssrc: u32,
        out: &mut [u8],
    ) -> Option<usize> {
        if self.next_feedback.is_none_or(|t| now < t) {
            return None;
        }
        let from = self.next_unreported?;
        if from > self.highest {
            self.next_feedback = None;
            return None;
        }
        let n = ((self.highest - from + 1) as usize).min(MAX_PER_FEEDBACK);
        let mut arrivals = [None; MAX_PER_FEEDBACK];
        for (k, slot) in arrivals[..n].iter_mut().enumerate() {
            let ext = from + k as u64;
            let (tag, us) = self.arrivals[ext as usize % WINDOW];
            *slot = (tag == ext + 1).then_some(us);
        }
        self.next_unreported = Some(from + n as u64);
        if from + n as u64 > self.highest {
            // Everything reported: the next packet arms the timer again.
            self.next_feedback = None;
        }
        match write_twcc(
            out,
            sender_ssrc,
            media_ssrc,
            self.fb_count,
            from as u16,
            &arrivals[..n],
        ) {
            Ok(len) => {
                self.fb_count = self.fb_count.wrapping_add(1);
                self.sent += 1;
                Some(len)
            }
            // A stretch with no arrival at all (only possible past a ring overflow): nothing
            // to tell the sender about it.
            Err(RtcpError::Malformed) => self.write_feedback(now, sender_ssrc, media_ssrc, out),
            Err(_) => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rtcp::{RtcpCompound, RtcpPacket, TransportCc};

    const MS: Duration = Duration::from_millis(1);

    fn read(buf: &[u8]) -> (u8, Vec<(u16, Option<i64>)>) {
        let Some(Ok(RtcpPacket::Twcc(fb))) = RtcpCompound::iter(buf).next() else {
            panic!("not TWCC");
        };
        let tcc = TransportCc::parse(&fb).unwrap();
        (tcc.fb_count, tcc.packets().collect())
    }

    #[test]
    fn feedback_reports_each_arrival_and_each_loss_once_after_the_interval() {
        let t0 = Instant::now();
        let mut r = TwccRecorder::default();
        let mut buf = [0u8; 1500];
        assert_eq!(r.poll_timeout(), None);
        for (k, seq) in [65_534u16, 65_535, 1, 2].into_iter().enumerate() {
            r.on_packet(t0 + k as u32 * 5 * MS, seq);
        }
        assert_eq!(r.poll_timeout(), Some(t0 + FEEDBACK_INTERVAL));
        assert_eq!(
            r.write_feedback(t0 + 50 * MS, 1, 2, &mut buf),
            None,
            "not yet"
        );
        let n = r
            .write_feedback(t0 + FEEDBACK_INTERVAL, 1, 2, &mut buf)
            .unwrap();
        let (count, packets) = read(&buf[..n]);
        assert_eq!(count, 0);
        let seqs: Vec<u16> = packets.iter().map(|p| p.0).collect();
        assert_eq!(seqs, [65_534, 65_535, 0, 1, 2]);
        assert_eq!(packets[2].1, None, "0 never came");
        // Arrival times keep their spacing (5 ms; 250 µs resolution).
        let at: Vec<i64> = packets.iter().filter_map(|p| p.1).collect();
        assert_eq!(
            at.windows(2).map(|w| w[1] - w[0]).collect::<Vec<_>>(),
            [5000, 5000, 5000]
        );
        // Nothing new: nothing due, no second report of the same packets.
        assert_eq!(r.poll_timeout(), None);
        assert_eq!(r.write_feedback(t0 + 500 * MS, 1, 2, &mut buf), None);
        // 0 arriving now is too late to report; 3 is new.
        r.on_packet(t0 + 600 * MS, 0);
        r.on_packet(t0 + 601 * MS, 3);
        let n = r.write_feedback(t0 + 701 * MS, 1, 2, &mut buf).unwrap();
        let (count, packets) = read(&buf[..n]);
        assert_eq!((count, packets.len(), packets[0].0), (1, 1, 3));
    }

    #[test]
    fn a_long_stretch_goes_out_in_several_messages_and_overflow_is_bounded() {
        let t0 = Instant::now();
        let mut r = TwccRecorder::default();
        let mut buf = [0u8; 1500];
        for seq in 0..3000u16 {
            r.on_packet(t0 + u32::from(seq) * MS / 10, seq);
        }
        let mut reported = Vec::new();
        let now = t0 + Duration::from_secs(1);
        while let Some(n) = r.write_feedback(now, 1, 2, &mut buf) {
            assert!(n <= 1200, "{n} bytes");
            reported.extend(read(&buf[..n]).1);
        }
        // Only the last WINDOW could still be reported, each once, all received.
        assert_eq!(reported.len(), WINDOW);
        assert_eq!(reported[0].0, (3000 - WINDOW) as u16);
        assert!(reported.iter().all(|p| p.1.is_some()));
        assert_eq!(r.sent as usize, WINDOW.div_ceil(MAX_PER_FEEDBACK));
    }
}
