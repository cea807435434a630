//! What one peer may make the DTLS crate buffer: the records of a datagram the session still
//! feeds to rtc-dtls, and the ones it drops because the peer's budget is spent.
//!
//! rtc-dtls 0.21 keeps two kinds of input it cannot use yet, per association:
//! - Records of the next epoch (and a ChangeCipherSpec) that arrive before it has the keys to
//!   read them are queued until it has, without a limit: an encrypted Finished that overtook
//!   the ClientKeyExchange is one, but so is anything of epoch 1 anyone spoofing the peer's
//!   address sends before the handshake completes (20,000 such records kept 2.3 MB).
//! - Handshake fragments wait in a reassembly buffer of up to 2 MB; fragments of a message it
//!   has read already (a plaintext ClientHello fragment, say) stay there for the life of the
//!   association, completed or not (20,000 kept 3.8 MB on a connected peer).
//!
//! A genuine peer sends a few of either: each flight at most eight times (the first try and
//! seven resends), a ChangeCipherSpec and an encrypted Finished in its last one. So the
//! session feeds the crate at most [`MAX_EARLY_RECORDS`] records (and [`MAX_EARLY_BYTES`])
//! of a later epoch or ChangeCipherSpec before the handshake completes, and at most
//! [`MAX_HANDSHAKE_BYTES`] of handshake records over the association's life; it drops the
//! rest. That takes nothing from a genuine peer, and an attacker gains nothing either: before
//! completion anyone who can spoof the peer's address ends the handshake with one plaintext
//! alert anyway; after it, dropped handshake records only mean our last flight is not resent
//! once more.
//!
//! Pure bookkeeping over record headers (RFC 6347 §4.1); never looks inside a record.

use bytes::BytesMut;

/// Records of a later epoch or ChangeCipherSpec fed to the crate before the handshake
/// completes.
pub(crate) const MAX_EARLY_RECORDS: u32 = 32;
/// Their bytes (headers included).
pub(crate) const MAX_EARLY_BYTES: usize = 16 * 1024;
/// Bytes of handshake records (headers included, any epoch) fed to the crate over the
/// association's life.
pub(crate) const MAX_HANDSHAKE_BYTES: usize = 64 * 1024;

const HEADER_LEN: usize = 13;
const CHANGE_CIPHER_SPEC: u8 = 20;
const HANDSHAKE: u8 = 22;

/// What one session fed the crate so far.
#[derive(Debug, Default)]
pub(crate) struct InputBudget {
    early_records: u32,
    early_bytes: usize,
    handshake_bytes: usize,
    /// Records dropped because a budget was spent.
    dropped: u64,
}

impl InputBudget {
    /// The records of `datagram` (a well-formed sequence of records) the crate may have, given
    /// whether the handshake `completed`: all of it when nothing is over budget (no copy), the
    /// records within budget otherwise, `None` when none is.
    pub(crate) fn admit(&mut self, datagram: BytesMut, completed: bool) -> Option<BytesMut> {
        let mut keep = Vec::new();
        let mut all = true;
        let mut at = 0;
        while let Some(header) = datagram.get(at..at + HEADER_LEN) {
            let end = at + HEADER_LEN + usize::from(u16::from_be_bytes([header[11], header[12]]));
            let end = end.min(datagram.len());
            if self.take(header, end - at, completed) {
                keep.push(at..end);
            } else {
                all = false;
                self.dropped += 1;
            }
            at = end;
        }
        if all {
            return Some(datagram);
        }
        if keep.is_empty() {
            return None;
        }
        let mut kept = BytesMut::with_capacity(keep.iter().map(|r| r.len()).sum());
        for range in keep {
            kept.extend_from_slice(&datagram[range]);
        }
        Some(kept)
    }

    /// Counts a record of `len` bytes with `header` if it is within budget.
    fn take(&mut self, header: &[u8], len: usize, completed: bool) -> bool {
        let content_type = header[0];
        let epoch = u16::from_be_bytes([header[3], header[4]]);
        let early = !completed && (epoch > 0 || content_type == CHANGE_CIPHER_SPEC);
        let handshake = content_type == HANDSHAKE;
        let early_ok = !early
            || (self.early_records < MAX_EARLY_RECORDS
                && self.early_bytes + len <= MAX_EARLY_BYTES);
        let handshake_ok = !handshake || self.handshake_bytes + len <= MAX_HANDSHAKE_BYTES;
        if !(early_ok && handshake_ok) {
            return false;
        }
        if early {
            self.early_records += 1;
            self.early_bytes += len;
        }
        if handshake {
            self.handshake_bytes += len;
        }
        true
    }

    /// Records dropped so far because a budget was spent.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(content_type: u8, epoch: u16, body_len: usize) -> Vec<u8> {
        let mut r = vec![content_type, 0xFE, 0xFD];
        r.extend_from_slice(&epoch.to_be_bytes());
        r.extend_from_slice(&[0; 6]);
        r.extend_from_slice(&(body_len as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(0xAB, body_len));
        r
    }

    fn datagram(records: &[Vec<u8>]) -> BytesMut {
        BytesMut::from(&records.concat()[..])
    }

    #[test]
    fn early_records_beyond_the_count_are_cut_out_and_the_rest_of_the_datagram_kept() {
        let mut budget = InputBudget::default();
        for _ in 0..MAX_EARLY_RECORDS {
            let d = datagram(&[record(22, 1, 40)]);
            assert_eq!(budget.admit(d.clone(), false), Some(d));
        }
        // A datagram with a plaintext handshake record and one more early record: the
        // handshake record goes on alone.
        let handshake = record(22, 0, 30);
        let d = datagram(&[handshake.clone(), record(22, 1, 40), record(20, 0, 1)]);
        assert_eq!(budget.admit(d, false).as_deref(), Some(&handshake[..]));
        assert_eq!(budget.admit(datagram(&[record(22, 1, 40)]), false), None);
        assert_eq!(budget.dropped(), 3);
        // Once the handshake completed, epoch-1 records are read at once, never queued.
        let d = datagram(&[record(23, 1, 40), record(21, 1, 20)]);
        assert_eq!(budget.admit(d.clone(), true), Some(d));
    }

    #[test]
    fn early_bytes_are_capped_too() {
        let mut budget = InputBudget::default();
        let big = record(23, 1, 8000);
        assert!(budget.admit(BytesMut::from(&big[..]), false).is_some());
        assert!(budget.admit(BytesMut::from(&big[..]), false).is_some());
        assert_eq!(budget.admit(datagram(&[big]), false), None);
        assert!(budget
            .admit(datagram(&[record(22, 1, 40)]), false)
            .is_some());
    }

    #[test]
    fn handshake_bytes_are_capped_over_the_associations_life() {
        let mut budget = InputBudget::default();
        let fragment = record(22, 0, 1024 - HEADER_LEN);
        for _ in 0..MAX_HANDSHAKE_BYTES / 1024 {
            assert!(budget.admit(BytesMut::from(&fragment[..]), true).is_some());
        }
        assert_eq!(budget.admit(datagram(&[fragment]), true), None);
        // Other records still pass.
        let data = datagram(&[record(23, 1, 100)]);
        assert_eq!(budget.admit(data.clone(), true), Some(data));
    }
}
