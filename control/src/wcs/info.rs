//! The WCS `info` strings we send with a stream status (the exact texts the Web SDK and its
//! demo pages know, see `STREAM_STATUS_INFO` in wcs-protocol.md §4.7), and the choice of one
//! for each reason a worker closes a peer.
//!
//! Owns the wording only: the data plane reports a [`CloseReason`] and never a WCS string; the
//! hub decides when each status is sent.

use dataplane::api::CloseReason;

/// Players of a stream whose publisher went away.
pub const PUBLISHER_STOPPED: &str = "Stopped by publisher stop";
/// A stream ended through the REST API's `/stream/terminate`.
pub const REST_TERMINATED: &str = "Stopped by rest /terminate";
/// No stream of that name is published here.
pub const STREAM_NOT_FOUND: &str = "Stream not found";
/// Another publisher holds the name.
pub const NAME_IN_USE: &str = "Stream name is already in use";
/// A publish or play on a connection whose session is not established (with REST hooks, a
/// `connection` the backend allowed must come first).
pub const SESSION_NOT_READY: &str = "Session not ready";
/// A failure of ours with no more specific WCS text (no worker, a command not delivered).
pub const FAILED_BY_ERROR: &str = "Failed by error";
/// The node is draining before it stops (SIGTERM): a new publish or play is refused with it
/// (FAILED), and what is still published or played when the drain ends is stopped with it
/// (UNPUBLISHED, STOPPED). Our own text: none of WCS's fits (its shutdown texts are about RTSP
/// agents and CDN 2.0 origin agents), and the SDK shows `info` as it comes.
pub const SHUTTING_DOWN: &str = "Server is shutting down";
/// A connection refused because its address holds `max_connections_per_ip`.
pub const TOO_MANY_CONNECTIONS: &str = "Too many connections from this address";
/// A publish or play beyond `max_streams_per_connection`.
pub const TOO_MANY_STREAMS: &str = "Too many streams on this connection";
/// A publish or play beyond `max_peers`.
pub const NODE_FULL: &str = "Server is full";
/// WCS's text for a refused publish: a relay with a wrong, missing or unconfigured secret, or
/// a publisher not in `cdn_allowed_ips`.
pub const RESTRICTED_ACCESS: &str = "Restricted access";
/// The REST hook backend cannot be asked and the node fails closed.
pub const BACKEND_UNAVAILABLE: &str = "Authorization backend unavailable";

/// The `info` of the FAILED status sent when a worker closed a stream's peer for `reason`.
pub fn peer_closed(reason: CloseReason) -> &'static str {
    match reason {
        CloseReason::IceTimeout => "Failed by ICE timeout",
        CloseReason::ConsentExpired => "Failed by ICE keep alive",
        // WCS has no text for a handshake that did not finish in time; this is the closest.
        CloseReason::DtlsError | CloseReason::DtlsTimeout => "Failed by DTLS error",
        CloseReason::DtlsFingerprint => "Failed by DTLS fingerprint error",
        CloseReason::PeerClosed => "Stopped by user",
        CloseReason::Refused => FAILED_BY_ERROR,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_close_reason_has_the_sdk_text() {
        let texts = [
            (CloseReason::IceTimeout, "Failed by ICE timeout"),
            (CloseReason::ConsentExpired, "Failed by ICE keep alive"),
            (CloseReason::DtlsError, "Failed by DTLS error"),
            (CloseReason::DtlsTimeout, "Failed by DTLS error"),
            (
                CloseReason::DtlsFingerprint,
                "Failed by DTLS fingerprint error",
            ),
            (CloseReason::PeerClosed, "Stopped by user"),
            (CloseReason::Refused, "Failed by error"),
        ];
        for (reason, text) in texts {
            assert_eq!(peer_closed(reason), text, "{reason:?}");
        }
    }
}
