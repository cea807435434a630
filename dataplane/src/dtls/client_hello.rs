//! Reads the SRTP profiles a DTLS client offers in its first ClientHello (`use_srtp`,
//! RFC 5764 §4.1.1), before the server's DTLS state exists.
//!
//! rtc-dtls as a server takes the *client's* profile order, and Chrome lists
//! AES128_CM_HMAC_SHA1_80 first; knowing the offer lets the session configure the server with
//! the profile we prefer. This module only looks at plaintext epoch-0 records: it never answers,
//! never decrypts, and a datagram it cannot read is simply not a ClientHello to it.
//! Fragments may arrive in any order and across datagrams; they are reassembled up to
//! [`MAX_CLIENT_HELLO`] bytes.

/// DTLS record header: type, version, epoch, sequence number, length.
pub(crate) const RECORD_HEADER_LEN: usize = 13;
/// DTLS handshake header: type, length, message_seq, fragment_offset, fragment_length.
const HANDSHAKE_HEADER_LEN: usize = 12;
const CONTENT_TYPE_HANDSHAKE: u8 = 22;
const HANDSHAKE_TYPE_CLIENT_HELLO: u8 = 1;
const EXTENSION_USE_SRTP: u16 = 0x000e;
/// Largest ClientHello we reassemble (Chrome's with a post-quantum key share is ~1.5 KB).
pub(crate) const MAX_CLIENT_HELLO: usize = 8 * 1024;
/// Most profiles we remember from one offer.
const MAX_OFFERED: usize = 8;

/// The `use_srtp` profile ids a client offered, in its order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct Offer {
    ids: [u16; MAX_OFFERED],
    len: usize,
}

impl Offer {
    /// The offered profile ids, in the client's order.
    pub(crate) fn ids(&self) -> &[u16] {
        &self.ids[..self.len]
    }

    fn push(&mut self, id: u16) {
        if self.len < MAX_OFFERED {
            self.ids[self.len] = id;
            self.len += 1;
        }
    }
}

/// What one datagram taught the sniffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Sniff {
    /// The datagram carries no fragment of the first ClientHello.
    NotClientHello,
    /// ClientHello fragments seen, but `use_srtp` is not visible yet.
    Pending,
    /// The client's `use_srtp` offer.
    Offered(Offer),
    /// The whole ClientHello was read and it has no (readable) `use_srtp` extension.
    Absent,
}

/// Whether `datagram` is a sequence of complete DTLS records (the framing rtc-dtls accepts).
pub(crate) fn well_formed_records(datagram: &[u8]) -> bool {
    let mut rest = datagram;
    while !rest.is_empty() {
        if rest.len() <= RECORD_HEADER_LEN {
            return false;
        }
        let len = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
        match rest.get(RECORD_HEADER_LEN + len..) {
            Some(next) => rest = next,
            None => return false,
        }
    }
    true
}

/// Reassembles the first ClientHello (message_seq 0) and reads its `use_srtp` extension.
#[derive(Debug, Default)]
pub(crate) struct ClientHelloSniffer {
    /// The message body, sized from the first fragment's length field.
    body: Vec<u8>,
    /// Received byte ranges of `body`, unsorted, possibly overlapping.
    ranges: Vec<(usize, usize)>,
}

impl ClientHelloSniffer {
    /// Takes one datagram's ClientHello fragments into account.
    pub(crate) fn push(&mut self, datagram: &[u8]) -> Sniff {
        if !well_formed_records(datagram) {
            return Sniff::NotClientHello;
        }
        let mut seen = false;
        let mut rest = datagram;
        while rest.len() > RECORD_HEADER_LEN {
            let len = usize::from(u16::from_be_bytes([rest[11], rest[12]]));
            let (record, next) = rest.split_at(RECORD_HEADER_LEN + len);
            rest = next;
            let epoch = u16::from_be_bytes([record[3], record[4]]);
            if record[0] != CONTENT_TYPE_HANDSHAKE || epoch != 0 {
                continue;
            }
            seen |= self.take_handshake_fragments(&record[RECORD_HEADER_LEN..]);
        }
        if !seen {
            return Sniff::NotClientHello;
        }
        self.read_offer()
    }

    /// Copies every ClientHello fragment of one record's body; true if any was taken.
    fn take_handshake_fragments(&mut self, mut body: &[u8]) -> bool {
        let mut taken = false;
        while body.len() >= HANDSHAKE_HEADER_LEN {
            let msg_type = body[0];
            let msg_len = be24(&body[1..4]);
            let message_seq = u16::from_be_bytes([body[4], body[5]]);
            let offset = be24(&body[6..9]);
            let frag_len = be24(&body[9..12]);
            let Some(fragment) = body.get(HANDSHAKE_HEADER_LEN..HANDSHAKE_HEADER_LEN + frag_len)
            else {
                return taken;
            };
            body = &body[HANDSHAKE_HEADER_LEN + frag_len..];
            if msg_type != HANDSHAKE_TYPE_CLIENT_HELLO
                || message_seq != 0
                || msg_len > MAX_CLIENT_HELLO
                || offset + frag_len > msg_len
            {
                continue;
            }
            if self.body.is_empty() && self.ranges.is_empty() {
                self.body = vec![0; msg_len];
            }
            if self.body.len() != msg_len {
                continue; // a fragment of some other ClientHello: ignore it
            }
            self.body[offset..offset + frag_len].copy_from_slice(fragment);
            self.ranges.push((offset, offset + frag_len));
            taken = true;
        }
        taken
    }

    /// Length of the reassembled prefix `body[..n]` that has no holes.
    fn contiguous_prefix(&self) -> usize {
        let mut end = 0;
        loop {
            let extended = self
                .ranges
                .iter()
                .filter(|(start, stop)| *start <= end && *stop > end)
                .map(|(_, stop)| *stop)
                .max();
            match extended {
                Some(stop) => end = stop,
                None => return end,
            }
        }
    }

    fn read_offer(&self) -> Sniff {
        let prefix = self.contiguous_prefix();
        let complete = prefix == self.body.len();
        match parse_use_srtp(&self.body[..prefix]) {
            Some(offer) => Sniff::Offered(offer),
            None if complete => Sniff::Absent,
            None => Sniff::Pending,
        }
    }
}

fn be24(b: &[u8]) -> usize {
    (usize::from(b[0]) << 16) | (usize::from(b[1]) << 8) | usize::from(b[2])
}

/// Reads `use_srtp` from a (possibly truncated) ClientHello body; `None` if not visible.
fn parse_use_srtp(body: &[u8]) -> Option<Offer> {
    let mut r = Reader(body);
    r.skip(2 + 32)?; // client_version, random
    let session_id = usize::from(r.u8()?);
    r.skip(session_id)?;
    let cookie = usize::from(r.u8()?);
    r.skip(cookie)?;
    let suites = usize::from(r.u16()?);
    r.skip(suites)?;
    let compression = usize::from(r.u8()?);
    r.skip(compression)?;
    let extensions_len = usize::from(r.u16()?);
    let mut extensions = Reader(r.0.get(..extensions_len).unwrap_or(r.0));
    loop {
        let ext_type = extensions.u16()?;
        let ext_len = usize::from(extensions.u16()?);
        let data = extensions.take(ext_len)?;
        if ext_type == EXTENSION_USE_SRTP {
            let mut data = Reader(data);
            let profiles_len = usize::from(data.u16()?);
            let mut profiles = Reader(data.take(profiles_len)?);
            let mut offer = Offer::default();
            while let Some(id) = profiles.u16() {
                offer.push(id);
            }
            return Some(offer);
        }
    }
}

/// A cursor over a byte slice whose reads return `None` past the end.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Option<&'a [u8]> {
        let head = self.0.get(..n)?;
        self.0 = &self.0[n..];
        Some(head)
    }

    fn skip(&mut self, n: usize) -> Option<()> {
        self.take(n).map(|_| ())
    }

    fn u8(&mut self) -> Option<u8> {
        self.take(1).map(|b| b[0])
    }

    fn u16(&mut self) -> Option<u16> {
        self.take(2).map(|b| u16::from_be_bytes([b[0], b[1]]))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A ClientHello body offering `profiles` in `use_srtp`, after a padding extension of
    /// `padding` bytes (to push `use_srtp` towards the end, like Chrome's big key share).
    pub(crate) fn client_hello_body(profiles: &[u16], padding: usize) -> Vec<u8> {
        let mut b = vec![0xfe, 0xfd];
        b.extend_from_slice(&[0x42; 32]);
        b.push(0); // session id
        b.push(0); // cookie
        b.extend_from_slice(&[0x00, 0x02, 0xc0, 0x2b]); // one cipher suite
        b.extend_from_slice(&[0x01, 0x00]); // null compression
        let mut ext = Vec::new();
        ext.extend_from_slice(&0x0015u16.to_be_bytes()); // padding
        ext.extend_from_slice(&(padding as u16).to_be_bytes());
        ext.extend(std::iter::repeat_n(0u8, padding));
        ext.extend_from_slice(&EXTENSION_USE_SRTP.to_be_bytes());
        ext.extend_from_slice(&((2 + 2 * profiles.len() + 1) as u16).to_be_bytes());
        ext.extend_from_slice(&((2 * profiles.len()) as u16).to_be_bytes());
        for p in profiles {
            ext.extend_from_slice(&p.to_be_bytes());
        }
        ext.push(0); // empty MKI
        b.extend_from_slice(&(ext.len() as u16).to_be_bytes());
        b.extend_from_slice(&ext);
        b
    }

    /// One epoch-0 handshake record carrying `body[range]` as a ClientHello fragment.
    pub(crate) fn fragment_record(body: &[u8], range: std::ops::Range<usize>) -> Vec<u8> {
        let frag = &body[range.clone()];
        let mut hs = vec![HANDSHAKE_TYPE_CLIENT_HELLO];
        hs.extend_from_slice(&(body.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&[0, 0]); // message_seq
        hs.extend_from_slice(&(range.start as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(&(frag.len() as u32).to_be_bytes()[1..]);
        hs.extend_from_slice(frag);
        let mut rec = vec![CONTENT_TYPE_HANDSHAKE, 0xfe, 0xff, 0, 0, 0, 0, 0, 0, 0, 0];
        rec.extend_from_slice(&(hs.len() as u16).to_be_bytes());
        rec.extend_from_slice(&hs);
        rec
    }

    const CM: u16 = 0x0001;
    const GCM: u16 = 0x0007;

    fn offered(s: Sniff) -> Vec<u16> {
        match s {
            Sniff::Offered(o) => o.ids().to_vec(),
            other => panic!("expected an offer, got {other:?}"),
        }
    }

    #[test]
    fn reads_the_offer_in_the_clients_order() {
        let body = client_hello_body(&[CM, GCM], 10);
        let mut s = ClientHelloSniffer::default();
        assert_eq!(
            offered(s.push(&fragment_record(&body, 0..body.len()))),
            [CM, GCM]
        );
    }

    #[test]
    fn reassembles_fragments_across_datagrams_in_any_order() {
        let body = client_hello_body(&[CM, GCM], 1200);
        let mid = body.len() / 2;
        let mut s = ClientHelloSniffer::default();
        // The tail first: use_srtp is in it, but the prefix has a hole.
        assert_eq!(
            s.push(&fragment_record(&body, mid..body.len())),
            Sniff::Pending
        );
        assert_eq!(offered(s.push(&fragment_record(&body, 0..mid))), [CM, GCM]);

        // Two records in one datagram, in order.
        let mut s = ClientHelloSniffer::default();
        let mut datagram = fragment_record(&body, 0..mid);
        datagram.extend(fragment_record(&body, mid..body.len()));
        assert_eq!(offered(s.push(&datagram)), [CM, GCM]);
    }

    #[test]
    fn a_complete_hello_without_use_srtp_is_absent() {
        let mut body = client_hello_body(&[], 0);
        // Rewrite the use_srtp type into an unknown extension type.
        let at = body.len() - 5 - 2;
        body[at..at + 2].copy_from_slice(&0x7777u16.to_be_bytes());
        let mut s = ClientHelloSniffer::default();
        assert_eq!(
            s.push(&fragment_record(&body, 0..body.len())),
            Sniff::Absent
        );
    }

    #[test]
    fn other_records_and_garbage_are_not_client_hellos() {
        let mut s = ClientHelloSniffer::default();
        assert_eq!(s.push(&[]), Sniff::NotClientHello);
        assert_eq!(s.push(&[22, 0xfe, 0xfd]), Sniff::NotClientHello);
        let mut alert = vec![21, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
        alert.extend_from_slice(&[2, 40]);
        assert_eq!(s.push(&alert), Sniff::NotClientHello);
        // A fragment claiming to lie past its message's end.
        let body = client_hello_body(&[GCM], 0);
        let mut bad = fragment_record(&body, 0..body.len());
        bad[RECORD_HEADER_LEN + 8] = 0xff; // fragment_offset low byte
        assert_eq!(s.push(&bad), Sniff::NotClientHello);
    }

    #[test]
    fn random_and_truncated_input_never_panics() {
        let body = client_hello_body(&[CM, GCM], 300);
        let record = fragment_record(&body, 0..body.len());
        for len in 0..record.len() {
            let mut s = ClientHelloSniffer::default();
            let _ = s.push(&record[..len]);
        }
        // Truncate the handshake message inside a well-framed record.
        for cut in 0..body.len() {
            let mut s = ClientHelloSniffer::default();
            let mut r = fragment_record(&body, 0..body.len());
            r.truncate(RECORD_HEADER_LEN + HANDSHAKE_HEADER_LEN + cut);
            let len = (r.len() - RECORD_HEADER_LEN) as u16;
            r[11..13].copy_from_slice(&len.to_be_bytes());
            assert_ne!(s.push(&r), Sniff::Absent, "cut at {cut}");
        }
        let mut x = 0x9e37_79b9u32;
        for _ in 0..3000 {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            let mut r = record.clone();
            let at = (x as usize) % r.len();
            r[at] = (x >> 8) as u8;
            let mut s = ClientHelloSniffer::default();
            let _ = s.push(&r);
        }
    }
}
