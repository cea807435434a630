//! The contract between the control plane and the data-plane workers.
//!
//! Control sends [`Command`]s to a worker through its [`WorkerHandle`] (a bounded-latency
//! channel plus a `mio::Waker`); workers report [`Event`]s through an [`EventSink`] that control
//! implements. Nothing here blocks a worker: the sink must be a non-blocking send.
//!
//! Identifiers are allocated by control and are unique for the life of the process.

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;

/// One WebRTC peer connection (a publisher, a subscriber, or later a relay leg).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct PeerId(pub u64);

/// One published stream (a name on this node while it is published).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StreamId(pub u64);

/// Index of a worker thread, `0..worker_threads`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct WorkerId(pub usize);

impl fmt::Display for PeerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "peer#{}", self.0)
    }
}

impl fmt::Display for StreamId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "stream#{}", self.0)
    }
}

/// Audio or video: the two m-sections a WCS stream has.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    Audio,
    Video,
}

/// A certificate fingerprint from `a=fingerprint:<algorithm> <hex:hex:...>`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fingerprint {
    /// Lower-case hash name, e.g. `sha-256`.
    pub algorithm: String,
    /// The raw digest bytes.
    pub digest: Vec<u8>,
}

/// One negotiated m-section, as seen on the wire of *this* peer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TrackSpec {
    pub kind: MediaKind,
    /// Codec name as in `a=rtpmap` (`opus`, `H264`, `VP8`, `VP9`, `AV1`).
    pub codec: String,
    /// The media payload type this peer uses for the chosen codec.
    pub payload_type: u8,
    /// RTP clock rate of the codec (48000 for Opus, 90000 for video).
    pub clock_rate: u32,
    /// Publisher: the SSRC announced in the offer (`None`: learn it from the first packet with
    /// `payload_type`). Subscriber: the SSRC we send with (announced in our answer).
    pub ssrc: Option<u32>,
    /// Negotiated RTP header extensions of this peer: `(id, uri)`.
    pub extensions: Vec<(u8, String)>,
    /// Generic NACK (`a=rtcp-fb:<pt> nack`, RFC 4585) negotiated for the codec: a publisher
    /// is sent NACKs for what we lose from it; a subscriber's NACKs are answered from the
    /// retransmission cache.
    pub nack: bool,
    /// RTX (RFC 4588) negotiated for the codec (`a=rtpmap:<pt> rtx/<rate>` with
    /// `apt=<payload_type>`): retransmissions travel in their own payload type and SSRC.
    pub rtx: Option<RtxSpec>,
    /// A publisher's video: REMB (`a=rtcp-fb:<pt> goog-remb`) negotiated, for a publisher
    /// without transport-wide congestion control — the node estimates its uplink from the
    /// abs-send-time extension (which must be among `extensions`) and reports it in REMB.
    pub remb: bool,
    /// Simulcast (RFC 8853): the encodings of a video track, at most [`MAX_LAYERS`], in the
    /// order the offer listed them (`a=simulcast` rids, or the SSRCs of `a=ssrc-group:SIM`).
    /// Empty: one encoding, described by `ssrc`/`rtx`. A publisher's layers are told apart by
    /// SSRC (announced, or learnt from the RTP stream id header extension, which must then be
    /// among `extensions`); a relay leg sends every layer of its stream, layer `i` under
    /// `layers[i]`'s SSRCs. A viewer has none: it is sent one layer under `ssrc`.
    pub layers: Vec<LayerSpec>,
}

/// Simulcast layers a video track may have; more in an offer are refused by the answer.
pub const MAX_LAYERS: usize = 3;

/// The header extension with the sender's 24-bit send time (REMB's delay measurements).
pub const ABS_SEND_TIME_URI: &str = "http://www.webrtc.org/experiments/rtp-hdrext/abs-send-time";

/// The header extension carrying the RTP stream id (RFC 8852) of simulcast layers.
pub const RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:rtp-stream-id";
/// The header extension carrying the RTP stream id an RTX packet repairs (RFC 8852).
pub const REPAIRED_RID_URI: &str = "urn:ietf:params:rtp-hdrext:sdes:repaired-rtp-stream-id";

/// One simulcast encoding of a video track.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LayerSpec {
    /// The `a=rid` id (RFC 8851); empty for a layer from an SSRC group.
    pub rid: String,
    /// Publisher: the SSRC from the SSRC group (`None`: learn it from packets carrying `rid`).
    /// Relay leg: the SSRC we send the layer with.
    pub ssrc: Option<u32>,
    /// The layer's RTX SSRC (publisher: from `a=ssrc-group:FID`, or learnt from packets
    /// carrying the repaired stream id; relay leg: ours), when RTX was negotiated.
    pub rtx_ssrc: Option<u32>,
}

/// Which simulcast layer a viewer is sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LayerChoice {
    /// The best layer its bandwidth estimate carries (the top one without an estimate).
    #[default]
    Auto,
    /// Always the layer with the lowest bitrate.
    Lowest,
    /// The middle layer (of three; the lower of two).
    Middle,
    /// Always the layer with the highest bitrate.
    Highest,
}

/// The retransmission stream (RFC 4588) of one track.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtxSpec {
    /// The RTX payload type (whose `apt=` is the track's payload type).
    pub payload_type: u8,
    /// Publisher: the RTX SSRC from the offer's `a=ssrc-group:FID <media> <rtx>` (`None`:
    /// learn it from the first packet with `payload_type`). Subscriber: the SSRC we send
    /// retransmissions with (announced in our answer's FID group).
    pub ssrc: Option<u32>,
}

/// What a peer does in a stream.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PeerRole {
    /// Sends the media of `stream` to us.
    Publisher { stream: StreamId },
    /// Receives the media of `stream`, whose publisher lives on worker `source`.
    Subscriber { stream: StreamId, source: WorkerId },
    /// Sends the media of `stream` (published on worker `source`) to another rtcdn node, as a
    /// browser would publish it: we are the ICE controlling agent (checks go to `remote`, the
    /// other node's ICE-lite candidate from its answer) and the DTLS client. The peer gets its
    /// own UDP socket so every relay leg is its own 5-tuple. `tracks` are what we send (our
    /// offer's payload types and SSRCs); `local_*` are our offer's ICE credentials and
    /// `remote_*`/`remote_fingerprint` come from the other node's answer.
    Relay {
        stream: StreamId,
        source: WorkerId,
        remote: SocketAddr,
    },
}

/// Everything a worker needs to run one peer connection, from the SDP exchange.
#[derive(Clone, Debug)]
pub struct PeerSpec {
    pub id: PeerId,
    pub role: PeerRole,
    /// Our ICE credentials (from our answer).
    pub local_ufrag: String,
    pub local_pwd: String,
    /// The peer's ICE credentials (from its offer).
    pub remote_ufrag: String,
    pub remote_pwd: String,
    /// The peer's DTLS certificate fingerprint (from its offer); the handshake fails otherwise.
    pub remote_fingerprint: Fingerprint,
    /// The negotiated tracks, at most one per kind.
    pub tracks: Vec<TrackSpec>,
    /// A viewer of a simulcast stream: which layer it is sent (ignored otherwise).
    pub layer_choice: LayerChoice,
}

impl PeerSpec {
    /// The stream this peer publishes or subscribes to.
    pub fn stream(&self) -> StreamId {
        match self.role {
            PeerRole::Publisher { stream }
            | PeerRole::Subscriber { stream, .. }
            | PeerRole::Relay { stream, .. } => stream,
        }
    }

    /// The negotiated track of `kind`, if any.
    pub fn track(&self, kind: MediaKind) -> Option<&TrackSpec> {
        self.tracks.iter().find(|t| t.kind == kind)
    }
}

/// Control plane → worker.
#[derive(Debug)]
pub enum Command {
    /// Start a peer connection on this worker (its answer names this worker's address).
    AddPeer(Box<PeerSpec>),
    /// Start a plain RTP peer of the `stream_distribution="rtp"` relay: no ICE, no DTLS, no
    /// SRTP (the ICE and fingerprint fields of the spec are unused). `PeerConnected` follows at
    /// once. `spec.role` is either
    /// - `Publisher`: an edge's relayed stream. RTP/RTCP is accepted on the worker socket only
    ///   from `remote` (the origin's announced source); silence for the consent timeout closes
    ///   it with [`CloseReason::ConsentExpired`]. `socket` must be `None`.
    /// - `Relay`: an origin's leg. Packets are sent to `remote` (the edge worker's address,
    ///   equal to the role's `remote`) from `socket`, which the control plane bound so it could
    ///   announce the address; only RTCP from `remote` is read back.
    ///
    /// Any other role, a missing leg socket, or a `remote` already routed on this worker
    /// closes the peer at once with [`CloseReason::Refused`].
    AddPlainPeer {
        spec: Box<PeerSpec>,
        remote: SocketAddr,
        socket: Option<std::net::UdpSocket>,
    },
    /// Close a peer connection (unpublish, stop, websocket closed). No event follows.
    RemovePeer(PeerId),
    /// On the publisher's worker: also deliver `stream`'s packets to subscribers on `worker`.
    AddFanoutTarget { stream: StreamId, worker: WorkerId },
    /// On the publisher's worker: `worker` has no subscribers of `stream` left.
    RemoveFanoutTarget { stream: StreamId, worker: WorkerId },
    /// Stop the worker thread.
    Shutdown,
}

/// Why a worker closed a peer connection on its own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseReason {
    /// No valid connectivity check within the ICE timeout after the peer was added.
    IceTimeout,
    /// Connectivity checks stopped for the consent timeout (RFC 7675).
    ConsentExpired,
    /// The DTLS handshake failed.
    DtlsError,
    /// The DTLS handshake did not complete within the handshake timeout after ICE selected a
    /// path (the peer stopped answering, or never started or finished its handshake).
    DtlsTimeout,
    /// The peer's certificate does not match the fingerprint of its offer.
    DtlsFingerprint,
    /// The peer sent a DTLS close_notify.
    PeerClosed,
    /// The worker could not start the peer (a plain peer with an invalid role, socket or an
    /// address already in use).
    Refused,
}

/// Worker → control plane.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Event {
    /// ICE validated a path and the DTLS handshake completed: media can flow.
    PeerConnected { peer: PeerId, remote: SocketAddr },
    /// The worker closed the peer on its own (it is already gone from the worker).
    PeerClosed { peer: PeerId, reason: CloseReason },
    /// A player's bandwidth estimate has stayed under what it is sent (after the path showed
    /// congestion): `sending_bps` is sent, `estimate_bps` is what the path seems to carry.
    /// Repeated at most every few seconds while it lasts.
    BandwidthShort {
        peer: PeerId,
        sending_bps: u64,
        estimate_bps: u64,
    },
    /// A viewer's sending state, about once a second while it is connected: the rate sent to
    /// it (media and retransmissions, bits/s), its bandwidth estimate when it negotiated
    /// transport-wide congestion control, the simulcast layer it is sent (index into the
    /// publisher's `layers`, `None` for a stream without simulcast), and whether its video is
    /// paused because even the lowest layer does not fit.
    ViewerStats {
        peer: PeerId,
        sending_bps: u64,
        /// Of `sending_bps`, the video (media and retransmissions; no probe padding).
        video_bps: u64,
        estimate_bps: Option<u64>,
        layer: Option<u8>,
        video_paused: bool,
    },
    /// A publisher's video as the node receives it (bits/s, retransmissions included),
    /// about once a second while it is connected.
    PublisherStats { peer: PeerId, video_bps: u64 },
}

/// Where workers report events. Implemented by the control plane; `send` must not block.
pub trait EventSink: Send + Sync {
    fn send(&self, event: Event);
}

/// Shared handle to the sink, cloned into every worker.
pub type SharedEventSink = Arc<dyn EventSink>;

/// Error returned when a worker thread is gone (it panicked or was shut down).
#[derive(Debug, thiserror::Error)]
#[error("worker {0:?} is not running")]
pub struct WorkerGone(pub WorkerId);

/// The control plane's handle to one worker: its media address and its command queue.
#[derive(Clone, Debug)]
pub struct WorkerHandle {
    pub id: WorkerId,
    /// The UDP address this worker's socket is bound to (goes into SDP candidates).
    pub addr: SocketAddr,
    commands: crossbeam_channel::Sender<Command>,
    waker: Arc<mio::Waker>,
    stats: Arc<crate::SharedStats>,
}

impl WorkerHandle {
    /// Wraps a command queue and the waker of the worker's `Poll`.
    pub fn new(
        id: WorkerId,
        addr: SocketAddr,
        commands: crossbeam_channel::Sender<Command>,
        waker: Arc<mio::Waker>,
    ) -> Self {
        Self {
            id,
            addr,
            commands,
            waker,
            stats: Arc::default(),
        }
    }

    /// The handle with the counters `stats` that the worker publishes.
    pub fn with_stats(mut self, stats: Arc<crate::SharedStats>) -> Self {
        self.stats = stats;
        self
    }

    /// The worker's counters as last published (all zero for a handle without a worker).
    pub fn stats(&self) -> crate::WorkerStats {
        self.stats.snapshot()
    }

    /// Queues `cmd` and wakes the worker. Never blocks.
    pub fn send(&self, cmd: Command) -> Result<(), WorkerGone> {
        self.commands.send(cmd).map_err(|_| WorkerGone(self.id))?;
        self.waker.wake().map_err(|_| WorkerGone(self.id))
    }
}
