//! The signalling seam of a load client: what every server API gives it ([`Signalling`]: an
//! SDP answer for an offer, then keep-alive servicing), the roles and targets, the errors, and
//! the server URL helpers. Implementations: [`super::wcs`] and [`super::janus`].
//!
//! A leaf: the implementations and their users build on it, so it must not import any of them.
//! Must not touch media sockets or SRTP.

use std::net::{SocketAddr, ToSocketAddrs};
use std::time::Duration;

/// Bound for connecting and for each reply during setup.
pub const REPLY_TIMEOUT: Duration = Duration::from_secs(10);

/// The `host:port` of a server URL (`scheme://host:port/path`; scheme and path optional).
pub fn authority(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    rest.split('/').next().unwrap_or_default()
}

/// The first address `host_port` resolves to; the error names it.
pub fn resolve(host_port: &str) -> Result<SocketAddr, String> {
    host_port
        .to_socket_addrs()
        .map_err(|e| format!("{host_port}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host_port}: no address"))
}

/// What a client does with a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// Sends media under the stream name.
    Publish,
    /// Receives the stream.
    Play,
}

/// Which server API the load speaks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum TargetKind {
    /// rtcdn or a real WCS: the Flashphoner websocket protocol.
    Wcs,
    /// Janus VideoRoom over HTTP/JSON ([`super::janus`]).
    Janus,
    /// `rtcdn-floor`: no signalling, plain RTP in, AES-GCM sealed datagrams out
    /// ([`super::floor`]).
    Floor,
}

/// Why signalling failed. Setup path only: strings are fine here.
#[derive(Debug, thiserror::Error)]
pub enum SignalError {
    /// Could not open the connection.
    #[error("connect: {0}")]
    Connect(String),
    /// The server sent something we cannot use or nothing in time.
    #[error("protocol: {0}")]
    Protocol(String),
    /// The server refused the publish or play.
    #[error("refused: {0}")]
    Refused(String),
    /// The server closed the session.
    #[error("session closed by the server")]
    Closed,
    /// The server ended our running stream (a FAILED, STOPPED or UNPUBLISHED status after it
    /// ran, e.g. STOPPED "Stopped by publisher stop" when its publisher left).
    #[error("stream ended: {status} {info}")]
    Ended {
        /// The final status.
        status: String,
        /// Why, as the server put it (may be empty).
        info: String,
    },
    /// The target is not implemented yet.
    #[error("target {0:?} is not implemented")]
    Unsupported(TargetKind),
}

/// One client's signalling session.
pub trait Signalling: Send {
    /// Sends `offer_sdp` to publish or play `stream`; blocks until the answer SDP arrives and
    /// the server reports the stream running.
    fn negotiate(
        &mut self,
        role: Role,
        stream: &str,
        offer_sdp: &str,
    ) -> Result<String, SignalError>;

    /// Reads whatever arrived without blocking and answers keep-alives. `Err` when the server
    /// ended the session or the stream.
    fn service(&mut self) -> Result<(), SignalError>;

    /// Ends the session politely.
    fn close(&mut self);

    /// Ends our stream politely (WCS: `stopStream` of a player, `unPublishStream` of a
    /// publisher) and waits, bounded by [`REPLY_TIMEOUT`], until the server confirms; the
    /// session stays open for another [`Signalling::negotiate`]. The default cannot.
    fn stop_stream(&mut self) -> Result<(), SignalError> {
        Err(SignalError::Protocol(
            "stopping a stream is not implemented for this target".into(),
        ))
    }

    /// Whether `stream` can be played at this server now (WCS `availableStream`). The
    /// default cannot tell and says yes: the negotiate will.
    fn is_available(&mut self, _stream: &str) -> Result<bool, SignalError> {
        Ok(true)
    }

    /// For a client that vanished without a word: reads and discards whatever arrived, never
    /// answering (no pongs), and tells whether the server has closed the session. The default
    /// cannot tell and says closed (the caller then drops the session).
    fn poll_closed_silently(&mut self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorities_and_addresses_of_server_urls() {
        assert_eq!(authority("ws://10.0.0.1:8080"), "10.0.0.1:8080");
        assert_eq!(authority("http://h:8088/janus/1"), "h:8088");
        assert_eq!(authority("udp://127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(authority("127.0.0.1:9000"), "127.0.0.1:9000");
        assert_eq!(
            resolve("127.0.0.1:9000"),
            Ok("127.0.0.1:9000".parse().unwrap())
        );
        let err = resolve("no-port").unwrap_err();
        assert!(err.starts_with("no-port:"), "{err}");
    }
}
