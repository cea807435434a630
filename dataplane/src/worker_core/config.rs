//! What a worker core is made with ([`CoreConfig`]) and the control-plane commands it takes
//! ([`CoreCommand`]: `api::Command` with the sockets a peer needs opened by the caller).
//!
//! Plain data; the core applies them.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Duration;

use crate::api::{Command, PeerId, PeerSpec, StreamId, WorkerId};
use crate::dtls::DtlsCertificate;
use crate::ice::IceConfig;
use crate::send_queue::SocketId;
use crate::srtp::SrtpProfile;

/// What every core of a data plane shares, plus its own id and seed.
#[derive(Clone)]
pub struct CoreConfig {
    pub id: WorkerId,
    pub ice: IceConfig,
    /// How long a peer's DTLS handshake may take once ICE selected its path; the peer is
    /// closed with `CloseReason::DtlsTimeout` after it.
    pub dtls_timeout: Duration,
    /// DTLS handshakes the core serves at once; beyond it a waiting peer's ClientHellos are
    /// dropped (its ICE still answers, and its DTLS client resends) until one ends.
    pub max_handshakes: usize,
    /// SRTP profiles in order of preference.
    pub srtp_profiles: Vec<SrtpProfile>,
    pub certificate: DtlsCertificate,
    /// Group each destination's runs of datagrams for UDP GSO sends.
    pub gso: bool,
    /// Seeds the core's pseudo-random choices (our RTCP SSRCs, relay legs' ICE tie-breakers,
    /// viewers' first sequence numbers and timestamps).
    pub seed: u64,
    /// How long forwarded video packets stay in the retransmission cache.
    pub retransmit_cache: Duration,
    /// Share of the bytes forwarded to a viewer that retransmissions to it may add.
    pub retransmit_share: f32,
}

impl CoreConfig {
    /// DTLS handshake timeout by default.
    pub const DTLS_TIMEOUT: Duration = crate::transport::DTLS_HANDSHAKE_TIMEOUT;
    /// Handshakes served at once by default.
    pub const MAX_HANDSHAKES: usize = 256;
    /// Retransmission cache length by default.
    pub const RETRANSMIT_CACHE: Duration = Duration::from_millis(1000);
    /// Retransmission share by default.
    pub const RETRANSMIT_SHARE: f32 = 0.5;
}

/// A control-plane command as the core takes it: sockets a peer needs were opened by the
/// caller already.
#[derive(Debug)]
pub enum CoreCommand {
    /// `api::Command::AddPeer`; a `Relay` role needs its own socket `leg` (`None`: the caller
    /// could not open one, and the peer is refused).
    AddPeer {
        spec: Box<PeerSpec>,
        leg: Option<SocketId>,
    },
    /// `api::Command::AddPlainPeer`; a `Relay` role's socket is `leg`.
    AddPlainPeer {
        spec: Box<PeerSpec>,
        remote: SocketAddr,
        leg: Option<SocketId>,
    },
    RemovePeer(PeerId),
    AddFanoutTarget {
        stream: StreamId,
        worker: WorkerId,
    },
    RemoveFanoutTarget {
        stream: StreamId,
        worker: WorkerId,
    },
}

impl TryFrom<Command> for CoreCommand {
    /// A command that needs its relay leg's socket opened first (`AddPeer`, `AddPlainPeer`),
    /// or `Shutdown`, which is the I/O shell's.
    type Error = Command;

    fn try_from(cmd: Command) -> Result<Self, Command> {
        match cmd {
            Command::RemovePeer(id) => Ok(CoreCommand::RemovePeer(id)),
            Command::AddFanoutTarget { stream, worker } => {
                Ok(CoreCommand::AddFanoutTarget { stream, worker })
            }
            Command::RemoveFanoutTarget { stream, worker } => {
                Ok(CoreCommand::RemoveFanoutTarget { stream, worker })
            }
            other => Err(other),
        }
    }
}
