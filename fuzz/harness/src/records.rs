//! How the multi-datagram targets (stun, rtp, rtcp, dtls) split one fuzz input into a
//! sequence of datagrams: records of `[aux: u8][len: u16 big-endian][len bytes]`, the last one
//! cut short by the end of the input. `aux` is the target's per-datagram control byte (time to
//! advance, source address, ...). At most [`MAX_RECORDS`] are read, so one input's work is
//! bounded.

/// Records read from one input at most.
pub const MAX_RECORDS: usize = 64;

/// Iterator over the `(aux, bytes)` records of an input.
#[derive(Clone, Debug)]
pub struct Records<'a> {
    rest: &'a [u8],
    left: usize,
}

/// The records of `data`.
pub fn records(data: &[u8]) -> Records<'_> {
    Records {
        rest: data,
        left: MAX_RECORDS,
    }
}

impl<'a> Iterator for Records<'a> {
    type Item = (u8, &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let (&aux, rest) = self.rest.split_first()?;
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let (len, body) = match rest {
            [hi, lo, body @ ..] => (usize::from(u16::from_be_bytes([*hi, *lo])), body),
            _ => (rest.len(), rest),
        };
        let len = len.min(body.len());
        let (record, next) = body.split_at(len);
        self.rest = next;
        Some((aux, record))
    }
}

/// Encodes `records` the way [`records`] reads them (for seed inputs).
///
/// # Panics
/// If a record is longer than 65535 bytes.
pub fn encode<'a>(records: impl IntoIterator<Item = (u8, &'a [u8])>) -> Vec<u8> {
    let mut out = Vec::new();
    for (aux, bytes) in records {
        let len = u16::try_from(bytes.len()).expect("a record fits 65535 bytes");
        out.push(aux);
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(bytes);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_and_read_back() {
        let data = encode([(1, &b"abc"[..]), (2, &b""[..]), (3, &[0u8; 300][..])]);
        let got: Vec<_> = records(&data).collect();
        assert_eq!(
            got,
            vec![(1, &b"abc"[..]), (2, &b""[..]), (3, &[0u8; 300][..])]
        );
    }

    #[test]
    fn short_tails_and_the_record_limit() {
        assert_eq!(records(&[7]).collect::<Vec<_>>(), vec![(7, &[][..])]);
        assert_eq!(records(&[7, 1]).collect::<Vec<_>>(), vec![(7, &[1][..])]);
        assert_eq!(
            records(&[7, 0, 9, 1, 2]).collect::<Vec<_>>(),
            vec![(7, &[1, 2][..])]
        );
        assert_eq!(records(&[0u8; 3 * 100]).count(), MAX_RECORDS);
    }
}
