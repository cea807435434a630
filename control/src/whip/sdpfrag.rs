//! What a WHIP/WHEP `PATCH` body (`application/trickle-ice-sdpfrag`, RFC 8840 §9) asks for:
//! trickled candidates, or an ICE restart (credentials other than the session's).
//!
//! Pure parsing; it must not touch sessions (the handler decides what each outcome means).

/// Largest fragment read (bytes): a few hundred candidates.
pub const MAX_SDPFRAG_LEN: usize = 64 * 1024;
/// Most lines in one fragment.
const MAX_LINES: usize = 1024;

/// What a fragment asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FragRequest {
    /// New candidates for the current ICE session (possibly none, e.g. only
    /// `a=end-of-candidates`).
    Trickle {
        /// The `a=candidate:` lines.
        candidates: usize,
    },
    /// New ICE credentials: an ICE restart.
    Restart,
}

/// Why a fragment was not read.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpFragError {
    /// Larger than [`MAX_SDPFRAG_LEN`] or more than the line limit.
    #[error("the fragment is too large")]
    TooLarge,
    /// Not UTF-8 text.
    #[error("the fragment is not text")]
    NotText,
    /// A line that is not `<letter>=<value>`.
    #[error("line {0} is not an SDP line")]
    BadLine(usize),
    /// `a=ice-ufrag` without `a=ice-pwd` or the other way round, or two different ones.
    #[error("the fragment's ICE credentials are incomplete or inconsistent")]
    Credentials,
}

/// Reads `body` for a session whose offer had the ICE username fragment `session_ufrag`.
/// Credentials equal to the session's (RFC 8840 lets a trickle fragment repeat them) are a
/// trickle; others are a restart.
pub fn read(body: &[u8], session_ufrag: &str) -> Result<FragRequest, SdpFragError> {
    if body.len() > MAX_SDPFRAG_LEN {
        return Err(SdpFragError::TooLarge);
    }
    let text = std::str::from_utf8(body).map_err(|_| SdpFragError::NotText)?;
    let mut ufrag: Option<&str> = None;
    let mut pwd: Option<&str> = None;
    let mut candidates = 0;
    for (i, line) in text.lines().enumerate() {
        if i >= MAX_LINES {
            return Err(SdpFragError::TooLarge);
        }
        let line = line.trim_end_matches('\r');
        if line.is_empty() {
            continue;
        }
        let bytes = line.as_bytes();
        if bytes.len() < 2 || !bytes[0].is_ascii_lowercase() || bytes[1] != b'=' {
            return Err(SdpFragError::BadLine(i + 1));
        }
        let Some(attr) = line.strip_prefix("a=") else {
            continue;
        };
        let (name, value) = attr.split_once(':').unwrap_or((attr, ""));
        match name {
            "ice-ufrag" => keep(&mut ufrag, value.trim())?,
            "ice-pwd" => keep(&mut pwd, value.trim())?,
            "candidate" => candidates += 1,
            _ => {}
        }
    }
    match (ufrag, pwd) {
        (Some(u), Some(_)) if u != session_ufrag => Ok(FragRequest::Restart),
        (Some(_), None) | (None, Some(_)) => Err(SdpFragError::Credentials),
        _ => Ok(FragRequest::Trickle { candidates }),
    }
}

/// Keeps the first value of a credential; a different second one is an error.
fn keep<'a>(slot: &mut Option<&'a str>, value: &'a str) -> Result<(), SdpFragError> {
    match slot {
        Some(old) if *old != value => Err(SdpFragError::Credentials),
        _ => {
            *slot = Some(value);
            Ok(())
        }
    }
}

/// The `a=ice-ufrag` of an SDP (the session level's or the first media section's).
pub fn ice_ufrag(sdp: &str) -> Option<&str> {
    sdp.lines()
        .find_map(|l| l.trim_end_matches('\r').strip_prefix("a=ice-ufrag:"))
        .map(str::trim)
}

#[cfg(test)]
mod tests {
    use super::*;

    const TRICKLE: &str = "a=ice-ufrag:EsAw\r\na=ice-pwd:P2uYro0UCOQ4zxjKXaWCBui1\r\n\
        m=audio 9 RTP/AVP 0\r\na=mid:0\r\n\
        a=candidate:1387637174 1 udp 2122260223 192.0.2.1 61764 typ host generation 0 ufrag EsAw network-id 1\r\n\
        a=candidate:3471623853 1 udp 2122194687 198.51.100.2 61765 typ host generation 0 ufrag EsAw network-id 2\r\n\
        a=end-of-candidates\r\n";

    #[test]
    fn candidates_with_the_sessions_credentials_are_a_trickle() {
        assert_eq!(
            read(TRICKLE.as_bytes(), "EsAw"),
            Ok(FragRequest::Trickle { candidates: 2 })
        );
        assert_eq!(
            read(b"a=end-of-candidates\r\n", "EsAw"),
            Ok(FragRequest::Trickle { candidates: 0 })
        );
    }

    #[test]
    fn other_credentials_are_a_restart() {
        let restart = "a=ice-ufrag:ysXw\r\na=ice-pwd:vw5LmwG4y/e6dPP/zAP9Gp5k\r\n\
            a=group:BUNDLE 0 1\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=mid:0\r\n";
        assert_eq!(read(restart.as_bytes(), "EsAw"), Ok(FragRequest::Restart));
    }

    #[test]
    fn broken_fragments_are_errors() {
        assert_eq!(read(b"hello\r\n", "x"), Err(SdpFragError::BadLine(1)));
        assert_eq!(read(&[0xff, 0xfe], "x"), Err(SdpFragError::NotText));
        assert_eq!(
            read(b"a=ice-ufrag:abcd\r\n", "x"),
            Err(SdpFragError::Credentials)
        );
        assert_eq!(
            read(b"a=ice-ufrag:a\r\na=ice-pwd:p\r\na=ice-ufrag:b\r\n", "a"),
            Err(SdpFragError::Credentials)
        );
        let big = "a=candidate:1 1 udp 1 192.0.2.1 1 typ host\r\n".repeat(2000);
        assert_eq!(read(big.as_bytes(), "x"), Err(SdpFragError::TooLarge));
    }

    #[test]
    fn the_ufrag_of_an_offer() {
        let offer = "v=0\r\no=- 1 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\nm=audio 9 UDP/TLS/RTP/SAVPF 111\r\na=ice-ufrag:Ab12\r\na=ice-pwd:x\r\n";
        assert_eq!(ice_ufrag(offer), Some("Ab12"));
        assert_eq!(ice_ufrag("v=0\r\n"), None);
    }
}
