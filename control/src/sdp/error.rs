//! The typed errors of SDP parsing and answering, their WCS `info` text, and the input limits.
//! A leaf: imports nothing from its siblings.

/// Largest SDP accepted, in bytes (a browser's offer is a few KiB; one with many m-sections,
/// codecs and simulcast layers some tens). The websocket message limit is larger, so a larger
/// offer fails its own stream only.
pub const MAX_SDP_LEN: usize = 256 * 1024;
/// Longest line accepted, in bytes (without the line ending).
pub const MAX_LINE_LEN: usize = 4 * 1024;
/// Most m-sections accepted in one SDP.
pub const MAX_SECTIONS: usize = 32;
/// Per m-section, the most lines of each repeatable attribute that are read (`a=rtcp-fb`,
/// `a=fmtp`, `a=ssrc`, `a=ssrc-group`, `a=extmap`, `a=candidate`, `a=rtpmap`); later ones are
/// ignored, so the work per offer stays linear in its size (a browser sends far fewer).
pub const MAX_REPEATED_LINES: usize = 256;
/// Longest `a=fmtp` parameter list of one payload type, in bytes: one line longer is refused,
/// and parameters of duplicate lines are merged only up to it (browsers send well under 200),
/// so the `a=fmtp` line of an answer stays far below [`MAX_LINE_LEN`].
pub const MAX_FMTP_LEN: usize = 1024;

/// Why an SDP could not be parsed or answered.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum SdpError {
    /// No audio or video m-section.
    #[error("no audio or video media section")]
    NoMedia,
    /// No `a=fingerprint` at session or media level.
    #[error("no DTLS fingerprint")]
    NoFingerprint,
    /// Only fingerprints with a hash other than sha-256.
    #[error("unsupported fingerprint hash (sha-256 required)")]
    UnsupportedFingerprint,
    /// No `a=ice-ufrag` / `a=ice-pwd`.
    #[error("no ICE credentials")]
    NoIceCredentials,
    /// Neither audio nor video could be accepted.
    #[error("no common codecs")]
    NoCommonCodecs,
    /// More than one m-section would be accepted but the offer has no BUNDLE group.
    #[error("BUNDLE required")]
    NotBundled,
    /// The SDP is larger than [`MAX_SDP_LEN`].
    #[error("SDP too large")]
    TooLarge,
    /// More than [`MAX_SECTIONS`] m-sections.
    #[error("too many media sections")]
    TooManySections,
    /// A line longer than [`MAX_LINE_LEN`].
    #[error("line {line} too long")]
    LineTooLong {
        /// 1-based line number.
        line: usize,
    },
    /// A line we need could not be understood.
    #[error("line {line}: {reason}")]
    Malformed {
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl SdpError {
    /// A [`SdpError::Malformed`] for 1-based input line `line`.
    pub(super) fn malformed(line: usize, reason: &'static str) -> Self {
        SdpError::Malformed { line, reason }
    }

    /// The WCS `info` text for a stream that failed with this error.
    pub fn wcs_info(&self) -> String {
        match self {
            SdpError::NoCommonCodecs => "No common codecs".to_owned(),
            other => format!("Invalid SDP: {other}"),
        }
    }
}
