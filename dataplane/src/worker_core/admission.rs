//! How a peer's transport is made from what signalling negotiated: a WebRTC connection in the
//! passive role (browsers, other nodes' legs, on the worker socket) or the active role (our
//! relay legs, on their own socket), or a plain RTP transport of the `rtp` relay — or the
//! reason the peer is refused.
//!
//! Pure construction: owns nothing, routes nothing; `now` and the seed are passed in.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::api::{CloseReason, PeerRole, PeerSpec};
use crate::dtls::DtlsCertificate;
use crate::ice::IceConfig;
use crate::send_queue::SocketId;
use crate::srtp::SrtpProfile;
use crate::transport::{Connection, LocalParams, PlainTransport, RemoteParams, Transport};

/// How often an origin's plain leg sends its keep-alive, so an edge tells an idle stream from a
/// dead origin (the edge closes after the consent timeout of silence).
pub const PLAIN_KEEPALIVE: Duration = Duration::from_secs(2);

/// What every WebRTC transport of a worker is made with.
pub struct WebRtcSettings<'a> {
    pub certificate: &'a DtlsCertificate,
    pub srtp_profiles: &'a [SrtpProfile],
    pub ice: IceConfig,
    /// How long DTLS may take once ICE selected a path.
    pub dtls_timeout: Duration,
}

/// The WebRTC transport for `spec` and the local socket it uses: a `Relay` role needs its own
/// socket `leg` (without one the peer is refused as an ICE failure), every other role uses the
/// worker socket. `seed` makes the active role's ICE repeatable.
pub fn webrtc(
    settings: &WebRtcSettings<'_>,
    spec: &PeerSpec,
    leg: Option<SocketId>,
    seed: u64,
    now: Instant,
) -> Result<(Transport, SocketId), CloseReason> {
    let local = LocalParams {
        ufrag: spec.local_ufrag.clone(),
        pwd: spec.local_pwd.clone(),
    };
    let fail = |e: crate::dtls::DtlsError| e.close_reason().unwrap_or(CloseReason::DtlsError);
    match (spec.role, leg) {
        (PeerRole::Relay { remote, .. }, Some(leg)) => {
            let remote = RemoteParams {
                ufrag: spec.remote_ufrag.clone(),
                pwd: spec.remote_pwd.clone(),
                fingerprint: spec.remote_fingerprint.clone(),
                candidate: remote,
            };
            let c = Connection::active(
                &local,
                &remote,
                settings.certificate,
                settings.srtp_profiles,
                settings.ice,
                seed,
                now,
            )
            .map_err(fail)?;
            Ok((
                Transport::WebRtc(c.with_dtls_timeout(settings.dtls_timeout)),
                leg,
            ))
        }
        // The caller could not open the leg's socket.
        (PeerRole::Relay { .. }, None) => Err(CloseReason::IceTimeout),
        _ => {
            let c = Connection::passive(
                &local,
                (&spec.remote_ufrag, &spec.remote_pwd),
                spec.remote_fingerprint.clone(),
                settings.certificate,
                settings.srtp_profiles,
                settings.ice,
                seed,
                now,
            )
            .map_err(fail)?;
            let c = c.with_dtls_timeout(settings.dtls_timeout);
            Ok((Transport::WebRtc(c), SocketId::WORKER))
        }
    }
}

/// The plain transport for `spec` (see `api::Command::AddPlainPeer`), its local socket and the
/// addresses to route to it, or why it is refused. `remote_routed`: `remote` already belongs
/// to a peer of this worker; `idle` closes a receiving end that hears nothing that long.
pub fn plain(
    spec: &PeerSpec,
    remote: SocketAddr,
    leg: Option<SocketId>,
    remote_routed: bool,
    idle: Duration,
    now: Instant,
) -> Result<(Transport, SocketId, Vec<SocketAddr>), &'static str> {
    match (spec.role, leg) {
        (PeerRole::Publisher { .. }, None) => {
            if remote_routed {
                return Err("source address already routed on this worker");
            }
            let transport = Transport::Plain(PlainTransport::receiver(remote, idle, now));
            Ok((transport, SocketId::WORKER, vec![remote]))
        }
        (PeerRole::Relay { .. }, Some(leg)) => {
            let ssrc = spec.tracks.iter().find_map(|t| t.ssrc).unwrap_or(1);
            let plain = PlainTransport::sender(remote, PLAIN_KEEPALIVE, ssrc, now);
            Ok((Transport::Plain(plain), leg, Vec::new()))
        }
        (PeerRole::Publisher { .. }, Some(_)) => Err("a plain publisher uses the worker socket"),
        (PeerRole::Relay { .. }, None) => Err("a plain relay leg needs its socket"),
        (PeerRole::Subscriber { .. }, _) => Err("a player cannot be plain"),
    }
}
