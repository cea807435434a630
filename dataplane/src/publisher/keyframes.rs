//! Keyframe requests to one publisher: merged to at most one per interval, and repeated until
//! a keyframe arrives, since a lost PLI (or one sent before the publisher's SRTP is up) would
//! otherwise leave every waiting viewer without a picture.
//!
//! Sans-IO: decides when a request is due; the caller writes and sends it.

use std::time::{Duration, Instant};

/// Keyframe requests to one publisher are sent at most this often (requests in between are
/// merged into one sent when the interval ends), and an unanswered request is repeated after it.
pub const KEYFRAME_REQUEST_INTERVAL: Duration = Duration::from_secs(1);

/// An unanswered request is repeated at most this many times (then the next viewer's request,
/// or a player's own PLI, starts again): a publisher that sends no video is not asked forever.
pub const KEYFRAME_REQUEST_RETRIES: u8 = 10;

/// Merges and repeats the keyframe requests to one publisher.
#[derive(Debug, Default)]
pub struct KeyframeRequester {
    last_sent: Option<Instant>,
    /// A request came inside the interval: send one when it ends.
    pending: bool,
    /// Repeats of an unanswered request still allowed (0: not waiting for a keyframe).
    retries_left: u8,
    fir_seq: u8,
}

impl KeyframeRequester {
    /// Records a request; returns true if a PLI should be sent now.
    pub fn request(&mut self, now: Instant) -> bool {
        match self.last_sent {
            Some(t) if now < t + KEYFRAME_REQUEST_INTERVAL => {
                self.pending = true;
                false
            }
            _ => {
                self.sent(now);
                true
            }
        }
    }

    /// A keyframe arrived from the publisher: every request made so far is answered.
    pub fn keyframe_received(&mut self) {
        self.pending = false;
        self.retries_left = 0;
    }

    /// When a merged request, or the repeat of an unanswered one, becomes due.
    pub fn poll_timeout(&self) -> Option<Instant> {
        let waiting = self.pending || self.retries_left > 0;
        match (waiting, self.last_sent) {
            (true, Some(t)) => Some(t + KEYFRAME_REQUEST_INTERVAL),
            _ => None,
        }
    }

    /// Returns true if a request is due at `now` (and marks it sent).
    pub fn handle_timeout(&mut self, now: Instant) -> bool {
        match self.poll_timeout() {
            Some(t) if now >= t => {
                let retries_left = self.retries_left;
                let merged = self.pending;
                self.sent(now);
                if !merged {
                    // A repeat: it does not renew the allowance.
                    self.retries_left = retries_left - 1;
                }
                true
            }
            _ => false,
        }
    }

    /// The next FIR sequence number.
    pub fn next_fir_seq(&mut self) -> u8 {
        self.fir_seq = self.fir_seq.wrapping_add(1);
        self.fir_seq
    }

    fn sent(&mut self, now: Instant) {
        self.last_sent = Some(now);
        self.pending = false;
        self.retries_left = KEYFRAME_REQUEST_RETRIES;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MS: Duration = Duration::from_millis(1);

    #[test]
    fn requests_inside_an_interval_are_merged_into_one_when_it_ends() {
        let t0 = Instant::now();
        let mut k = KeyframeRequester::default();
        assert!(k.request(t0));
        assert!(!k.request(t0 + 100 * MS));
        assert!(!k.request(t0 + 200 * MS));
        assert_eq!(k.poll_timeout(), Some(t0 + KEYFRAME_REQUEST_INTERVAL));
        assert!(!k.handle_timeout(t0 + 999 * MS));
        assert!(k.handle_timeout(t0 + KEYFRAME_REQUEST_INTERVAL));
        k.keyframe_received();
        assert_eq!(k.poll_timeout(), None);
        // The next request inside the new interval waits again.
        assert!(!k.request(t0 + 1500 * MS));
        assert!(k.request(t0 + 2001 * MS));
    }

    #[test]
    fn a_keyframe_answers_the_request_and_the_merged_ones() {
        let t0 = Instant::now();
        let mut k = KeyframeRequester::default();
        assert!(k.request(t0));
        assert!(!k.request(t0 + 100 * MS));
        k.keyframe_received();
        assert_eq!(k.poll_timeout(), None);
        assert!(!k.handle_timeout(t0 + 5 * KEYFRAME_REQUEST_INTERVAL));
    }

    #[test]
    fn an_unanswered_request_is_repeated_each_interval_then_given_up() {
        let t0 = Instant::now();
        let mut k = KeyframeRequester::default();
        assert!(k.request(t0));
        let mut now = t0;
        let mut repeats = 0;
        while let Some(due) = k.poll_timeout() {
            assert_eq!(due, now + KEYFRAME_REQUEST_INTERVAL);
            assert!(!k.handle_timeout(due - MS));
            assert!(k.handle_timeout(due));
            now = due;
            repeats += 1;
            assert!(repeats <= KEYFRAME_REQUEST_RETRIES, "never gives up");
        }
        assert_eq!(repeats, KEYFRAME_REQUEST_RETRIES);
        // A new request starts again.
        assert!(k.request(now + KEYFRAME_REQUEST_INTERVAL));
        assert!(k.poll_timeout().is_some());
    }

    #[test]
    fn a_merged_request_renews_the_repeats() {
        let t0 = Instant::now();
        let mut k = KeyframeRequester::default();
        assert!(k.request(t0));
        // Nine repeats unanswered, then a viewer asks again inside the interval.
        let mut now = t0;
        for _ in 0..KEYFRAME_REQUEST_RETRIES - 1 {
            now += KEYFRAME_REQUEST_INTERVAL;
            assert!(k.handle_timeout(now));
        }
        assert!(!k.request(now + 10 * MS));
        now += KEYFRAME_REQUEST_INTERVAL;
        assert!(k.handle_timeout(now), "the merged request");
        let mut more = 0;
        while let Some(due) = k.poll_timeout() {
            assert!(k.handle_timeout(due));
            more += 1;
        }
        assert_eq!(more, KEYFRAME_REQUEST_RETRIES);
    }
}
