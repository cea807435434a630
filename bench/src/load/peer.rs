//! One load client: its UDP socket behind its impairments ([`Link`]), its [`Connection`]
//! (ICE, DTLS, SRTP), its signalling session and what it does with media: a publisher sends
//! [`Synth`] packets, answers PLI/FIR with a keyframe and NACKs with retransmissions from its
//! [`SentCache`]; a subscriber verifies, counts and times what arrives and sends NACKs and PLIs
//! like a browser ([`Subscriber`]).
//!
//! Owns: per-client state and the per-datagram work. Must not read the clock (`now` comes
//! from the runner) or block: sockets are non-blocking, signalling was done before.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use control::ice::IceCredentials;
use control::sdp::{build_offer, parse_answer, Codec, OfferSpec};
use dataplane::api::CloseReason;
use dataplane::demux::{classify, PacketClass};
use dataplane::dtls::DtlsCertificate;
use dataplane::ice::IceConfig;
use dataplane::rtcp::{RtcpCompound, RtcpPacket};
use dataplane::srtp::{SrtpError, SrtpProfile};
use dataplane::transmit::earliest;
use dataplane::transport::{
    Connection, ConnectionError, ConnectionEvent, LocalParams, Received, RemoteParams,
};

use super::config::{LoadConfig, Verify};
use super::error::LoadError;
use super::histogram::Histogram;
use super::impair::{Admit, ImpairStats};
use super::janus::JanusSignalling;
use super::link::Link;
use super::media::{Synth, Tail, AUDIO_INTERVAL, FPS};
use super::nack::RtxTrack;
use super::receiver::{ReceiveConfig, RepairTotals, Subscriber};
use super::sent_cache::SentCache;
use super::signalling::{self, Role, SignalError, Signalling, TargetKind};
use super::wcs::WcsSignalling;

/// Interval between video frames.
pub const FRAME_INTERVAL: Duration = Duration::from_nanos(1_000_000_000 / FPS as u64);
/// A publisher more than this behind its schedule skips ahead instead of bursting.
const MAX_LAG: Duration = Duration::from_millis(500);

/// Counters shared by all clients of a run.
#[derive(Debug, Default)]
pub struct Counters {
    /// RTP packets sent by publishers.
    pub sent: u64,
    /// Datagrams the kernel refused to send (buffer full).
    pub send_errors: u64,
    /// RTP packets received by subscribers (verified or not, duplicates included).
    pub received: u64,
    /// Received packets whose SRTP authentication was checked and passed.
    pub verified: u64,
    /// Received packets whose SRTP authentication failed.
    pub auth_failures: u64,
    /// RTP and RTCP datagrams from the server's address with an SSRC the subscriber's answer
    /// did not announce ([`Subscriber::is_ours`]): another peer's media or reports sent to a
    /// reused port. Not checked nor counted as received.
    pub foreign: u64,
    /// Received packets SRTP refused as replays: copies of packets already here (duplicate
    /// retransmissions) or older than the replay window.
    pub srtp_replays: u64,
    /// Verified packets without our payload tail.
    pub corrupt: u64,
    /// Keyframe requests (PLI/FIR) publishers received.
    pub keyframe_requests: u64,
    /// Of those, PLIs.
    pub plis_received: u64,
    /// Of those, FIRs.
    pub firs_received: u64,
    /// NACK packets publishers received.
    pub nacks_received: u64,
    /// Plain retransmissions publishers sent in answer (packets still in their cache).
    pub retransmissions_sent: u64,
    /// One-way latency of verified packets, ns, this measuring window.
    pub latency: Histogram,
    /// The same for the current progress second.
    pub latency_tick: Histogram,
}

/// What the runner lends a client for one turn: the payload time origin, the SRTP sampling,
/// two reused buffers (datagrams in, datagrams out) and the run's counters.
pub struct Io<'a> {
    /// The time origin of payload send timestamps.
    pub epoch: Instant,
    /// Which received packets have their SRTP checked.
    pub verify: Verify,
    /// A datagram read, or released from the receive queue.
    pub buf: &'a mut [u8],
    /// A datagram to send, or a plain RTCP packet being built.
    pub out: &'a mut [u8],
    /// The run's counters.
    pub counters: &'a mut Counters,
}

/// What a publisher keeps.
pub struct Publisher {
    /// The packet factory.
    pub synth: Synth,
    /// The video packets sent lately, for NACKs.
    sent: SentCache,
    next_audio: Option<Instant>,
    next_frame: Option<Instant>,
}

/// The role-specific part of a client.
pub enum Kind {
    /// Sends media.
    Publisher(Box<Publisher>),
    /// Receives media.
    Subscriber(Box<Subscriber>),
}

/// One client.
pub struct Peer {
    /// The media socket behind the client's impairments.
    pub link: Link,
    /// ICE + DTLS + SRTP.
    pub conn: Connection,
    /// The signalling session (kept open: closing it ends the stream).
    pub signalling: Box<dyn Signalling>,
    /// Publisher or subscriber state.
    pub kind: Kind,
    /// When the join started (before the websocket opened).
    pub join_started: Instant,
    /// When the first RTP arrived (subscribers) or was sent (publishers).
    pub first_media: Option<Instant>,
    /// Why the client stopped, if it did.
    pub failed: Option<String>,
    /// When the server closed the transport on purpose (a DTLS close_notify: it ended the
    /// peer, e.g. the publisher of a viewer's stream stopped; the reason comes by signalling,
    /// which may arrive after it). Also a failure, in `failed`.
    pub closed_by_server: Option<Instant>,
}

/// What every join of a run shares: the run, where the client's media goes (the server it
/// signals with), its client number (its impairment seed), the DTLS certificate and when the
/// join began.
#[derive(Clone, Copy)]
pub struct JoinContext<'a> {
    /// The run.
    pub cfg: &'a LoadConfig,
    /// The server URL the client signals with (its media socket is bound toward it).
    pub server: &'a str,
    /// The client's number in the run.
    pub client: u64,
    /// The clients' DTLS certificate.
    pub cert: &'a DtlsCertificate,
    /// When the join began (before the websocket opened).
    pub join_started: Instant,
}

/// Opens a signalling session of `target` toward `server` (a `ws://host:port` URL for WCS,
/// `http://host:port/janus` for Janus).
pub fn connect(target: TargetKind, server: &str) -> Result<Box<dyn Signalling>, SignalError> {
    match target {
        TargetKind::Wcs => Ok(Box::new(WcsSignalling::connect(server)?)),
        TargetKind::Janus => Ok(Box::new(JanusSignalling::connect(server)?)),
        TargetKind::Floor => Err(SignalError::Unsupported(target)),
    }
}

impl Peer {
    /// Runs signalling for `role` on `stream` at `server` (blocking) and starts ICE, as
    /// client number `client` of the run `cfg` (its impairment seed); a publisher sends
    /// `cfg.bitrate` bits/s in packets of at most `cfg.packet_size` bytes. `join_started` is
    /// when the caller began the join; `now` is asked once signalling is done.
    #[allow(clippy::too_many_arguments)]
    pub fn join(
        cfg: &LoadConfig,
        server: &str,
        role: Role,
        stream: &str,
        client: u64,
        cert: &DtlsCertificate,
        join_started: Instant,
        now: impl Fn() -> Instant,
    ) -> Result<Peer, LoadError> {
        let sig = connect(cfg.target, server)?;
        let ctx = JoinContext {
            cfg,
            server,
            client,
            cert,
            join_started,
        };
        Peer::join_on(sig, &ctx, role, stream, now).map_err(|(e, _)| e)
    }

    /// [`Peer::join`] on a signalling session that is already open (a new stream on the same
    /// websocket, as a page plays again after its stream stopped). On failure the session comes
    /// back with the error, still open unless the failure closed it.
    pub fn join_on(
        mut sig: Box<dyn Signalling>,
        ctx: &JoinContext<'_>,
        role: Role,
        stream: &str,
        now: impl Fn() -> Instant,
    ) -> Result<Peer, (LoadError, Box<dyn Signalling>)> {
        match Self::negotiate(&mut *sig, ctx, role, stream, now) {
            Ok((link, conn, kind)) => Ok(Peer {
                link,
                conn,
                signalling: sig,
                kind,
                join_started: ctx.join_started,
                first_media: None,
                failed: None,
                closed_by_server: None,
            }),
            Err(e) => Err((e, sig)),
        }
    }

    /// The media socket, the offer/answer on `sig` and the client's transport and media state.
    fn negotiate(
        sig: &mut dyn Signalling,
        ctx: &JoinContext<'_>,
        role: Role,
        stream: &str,
        now: impl Fn() -> Instant,
    ) -> Result<(Link, Connection, Kind), LoadError> {
        let JoinContext {
            cfg, server, cert, ..
        } = *ctx;
        let (bitrate, packet_size) = (cfg.bitrate, cfg.packet_size);
        let IceCredentials { ufrag, pwd } = IceCredentials::random();
        let (socket, local_candidate) = bind_toward(server)?;
        let (mut spec, kind) = match role {
            Role::Publish => {
                let (audio_ssrc, video_ssrc) = (rand::random(), rand::random());
                let spec = OfferSpec::publish(
                    &ufrag,
                    &pwd,
                    cert.fingerprint(),
                    Codec::vp8(super::media::VIDEO_PT),
                    audio_ssrc,
                    video_ssrc,
                );
                (spec, (audio_ssrc, video_ssrc))
            }
            Role::Play => (OfferSpec::play(&ufrag, &pwd, cert.fingerprint()), (0, 0)),
        };
        spec.candidate = Some(local_candidate);
        let answer_sdp = sig.negotiate(role, stream, &build_offer(&spec))?;
        let answer =
            parse_answer(&answer_sdp).map_err(|e| LoadError::Answer(format!("{stream}: {e}")))?;
        let candidate = *answer
            .candidates
            .first()
            .ok_or_else(|| LoadError::Answer(format!("{stream}: no candidate")))?;
        let remote = RemoteParams {
            ufrag: answer.ufrag,
            pwd: answer.pwd,
            fingerprint: answer.fingerprint,
            candidate,
        };
        let conn = Connection::active(
            &LocalParams { ufrag, pwd },
            &remote,
            cert,
            &SrtpProfile::ALL,
            IceConfig::default(),
            rand::random(),
            now(),
        )
        .map_err(|e| LoadError::Answer(format!("DTLS client: {e}")))?;
        let kind = match role {
            Role::Publish => Kind::Publisher(Box::new(Publisher {
                synth: Synth::new(kind.0, kind.1, bitrate, packet_size),
                sent: SentCache::default(),
                next_audio: None,
                next_frame: None,
            })),
            Role::Play => Kind::Subscriber(Box::new(Subscriber::new(ReceiveConfig {
                video_pt: answer.video.as_ref().map(|v| v.codec.payload_type),
                // RTX as the server answered it (its payload type, and its SSRC if announced).
                rtx: answer.video.as_ref().and_then(|v| {
                    v.rtx.map(|r| RtxTrack {
                        pt: r.payload_type,
                        ssrc: r.ssrc,
                        apt: v.codec.payload_type,
                    })
                }),
                nack: cfg.nack,
                freeze_threshold: cfg.freeze_threshold,
                ssrc: rand::random(),
                announced: [
                    answer.audio.as_ref().and_then(|a| a.ssrc),
                    answer.video.as_ref().and_then(|v| v.ssrc),
                    answer
                        .video
                        .as_ref()
                        .and_then(|v| v.rtx.and_then(|r| r.ssrc)),
                ],
                transport_seq_id: answer.video.as_ref().and_then(|v| {
                    v.codec
                        .extensions
                        .iter()
                        .find(|(_, uri)| uri == dataplane::rtcp::TWCC_URI)
                        .map(|(id, _)| *id)
                }),
            }))),
        };
        let link = Link::new(socket, cfg.impair.for_client(ctx.client));
        Ok((link, conn, kind))
    }

    /// Whether this client is a subscriber.
    pub fn is_subscriber(&self) -> bool {
        matches!(self.kind, Kind::Subscriber(_))
    }

    /// SSRCs a subscriber has received RTP from (2 once audio and video flow).
    pub fn tracks_receiving(&self) -> usize {
        match &self.kind {
            Kind::Subscriber(s) => s.streams.len(),
            Kind::Publisher(_) => 0,
        }
    }

    /// A subscriber's `(RTP packets received, of them verified)` so far; `(0, 0)` for a
    /// publisher.
    pub fn rtp_verified(&self) -> (u64, u64) {
        match &self.kind {
            Kind::Subscriber(s) => (s.received, s.verified),
            Kind::Publisher(_) => (0, 0),
        }
    }

    /// Subscriber stream totals: `(expected, received distinct, lost, reordered, duplicates)`.
    pub fn seq_totals(&self) -> [u64; 5] {
        let mut t = [0; 5];
        if let Kind::Subscriber(s) = &self.kind {
            for (_, st) in &s.streams {
                t[0] += st.expected();
                t[1] += st.received;
                t[2] += st.lost();
                t[3] += st.reordered;
                t[4] += st.duplicates;
            }
        }
        t
    }

    /// A subscriber's video cuts now (see [`Subscriber::video_cuts`]; empty for a publisher).
    pub fn video_cuts(&self) -> Vec<(u32, u64)> {
        match &self.kind {
            Kind::Subscriber(s) => s.video_cuts(),
            Kind::Publisher(_) => Vec::new(),
        }
    }

    /// A subscriber's video packets up to `cuts`: `(expected, still missing)`.
    pub fn settled(&self, cuts: &[(u32, u64)]) -> (u64, u64) {
        match &self.kind {
            Kind::Subscriber(s) => s.settled(cuts),
            Kind::Publisher(_) => (0, 0),
        }
    }

    /// A subscriber's repair figures at `now` (zero for a publisher).
    pub fn repair_totals(&self, now: Instant) -> RepairTotals {
        match &self.kind {
            Kind::Subscriber(s) => s.totals(now),
            Kind::Publisher(_) => RepairTotals::default(),
        }
    }

    /// What the impairments did: `(send, receive)`.
    pub fn impair_stats(&self) -> (ImpairStats, ImpairStats) {
        self.link.stats()
    }

    /// Sends the ICE/DTLS datagrams the connection has queued.
    pub fn flush(&mut self, now: Instant, out: &mut [u8], counters: &mut Counters) {
        while let Some(t) = self.conn.poll_transmit(out) {
            if !self.link.send(now, &out[..t.len], t.dst) {
                counters.send_errors += 1;
            }
        }
    }

    /// Runs due timers: the transport's, held datagrams due (sent, or received and handled),
    /// a subscriber's NACKs and PLIs.
    pub fn handle_timeout(&mut self, now: Instant, io: &mut Io<'_>) {
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        self.service(now, io);
        while let Some(ev) = self.conn.poll_event() {
            if let ConnectionEvent::Failed(r) = ev {
                if r == CloseReason::PeerClosed {
                    self.closed_by_server.get_or_insert(now);
                }
                self.failed
                    .get_or_insert_with(|| format!("transport: {r:?}"));
            }
        }
    }

    /// Handles the held received datagrams due at `now`, sends a subscriber's feedback, the
    /// transport's datagrams and the held sends due.
    fn service(&mut self, now: Instant, io: &mut Io<'_>) {
        while let Some(r) = self.link.pop_received(now, io.buf) {
            let (epoch, verify, at) = (io.epoch, io.verify, (now, r.since));
            self.datagram(epoch, at, r.addr, &io.buf[..r.len], verify, io.counters);
        }
        let counters = &mut *io.counters;
        if let (Kind::Subscriber(sub), true) = (&mut self.kind, self.conn.is_connected()) {
            let (conn, link) = (&mut self.conn, &mut self.link);
            sub.poll_feedback(now, io.out, |plain| {
                match (conn.protect_rtcp(plain), conn.remote()) {
                    (Ok(enc), Some(dst)) => {
                        if !link.send(now, &enc, dst) {
                            counters.send_errors += 1;
                        }
                    }
                    _ => counters.send_errors += 1,
                }
            });
        }
        self.flush(now, io.out, counters);
        counters.send_errors += self.link.release_sends(now, io.out);
    }

    /// When this client next needs the runner: a transport timer, a held datagram, a
    /// subscriber's feedback or a publisher's next packet.
    pub fn next_due(&self) -> Option<Instant> {
        let t = earliest(self.conn.poll_timeout(), self.link.next_release());
        match &self.kind {
            Kind::Publisher(p) if self.conn.is_connected() => {
                earliest(t, earliest(p.next_audio, p.next_frame))
            }
            Kind::Subscriber(s) => earliest(t, s.poll_timeout()),
            Kind::Publisher(_) => t,
        }
    }

    /// Reads every datagram the socket holds, each through the receive impairment.
    pub fn receive(&mut self, now: Instant, io: &mut Io<'_>) {
        while let Some((len, from)) = self.link.read(io.buf) {
            let data = &io.buf[..len];
            match self.link.admit(now, data, from) {
                Admit::Now => {
                    let at = (now, now);
                    self.datagram(io.epoch, at, from, data, io.verify, io.counters);
                }
                Admit::Held => {}
                Admit::Dropped => {
                    if let Kind::Subscriber(sub) = &mut self.kind {
                        sub.on_impaired(data);
                    }
                }
            }
        }
        self.service(now, io);
    }

    /// One datagram from `from` that reached the socket at `arrived` (before `now` if the
    /// receive impairment held it).
    fn datagram(
        &mut self,
        epoch: Instant,
        (now, arrived): (Instant, Instant),
        from: SocketAddr,
        data: &[u8],
        verify: Verify,
        counters: &mut Counters,
    ) {
        if let Kind::Subscriber(sub) = &mut self.kind {
            let class = classify(data);
            let from_server = self.conn.is_connected() && Some(from) == self.conn.remote();
            let media = matches!(class, PacketClass::Rtp | PacketClass::Rtcp);
            if from_server && media && !sub.is_ours(data) {
                counters.foreign += 1;
                return;
            }
            if from_server && class == PacketClass::Rtp {
                if sub.is_rtx(data) {
                    // The original sequence number is encrypted: always decrypt RTX.
                    match self.conn.handle_input(now, from, data) {
                        Ok(Received::Rtp(mut plain)) => {
                            counters.received += 1;
                            counters.verified += 1;
                            sub.on_rtx(&mut plain, now);
                        }
                        Err(ConnectionError::Srtp(SrtpError::Replay)) => counters.srtp_replays += 1,
                        Err(ConnectionError::Srtp(_)) => counters.auth_failures += 1,
                        _ => {}
                    }
                    return;
                }
                let n = sub.received;
                sub.received += 1;
                if !verify.checks(n) {
                    // Counted from the clear header; SRTP not checked for this one.
                    counters.received += 1;
                    self.first_media.get_or_insert(now);
                    sub.on_rtp(data, (now, arrived), false);
                    return;
                }
            }
        }
        match self.conn.handle_input(now, from, data) {
            Ok(Received::Rtp(plain)) => {
                if let Kind::Subscriber(sub) = &mut self.kind {
                    counters.received += 1;
                    counters.verified += 1;
                    sub.verified += 1;
                    self.first_media.get_or_insert(now);
                    sub.on_rtp(&plain, (now, arrived), false);
                    match Tail::parse(&plain) {
                        Some(tail) => {
                            let now_ns = now.saturating_duration_since(epoch).as_nanos() as u64;
                            let lat = now_ns.saturating_sub(tail.sent_ns);
                            counters.latency.record(lat);
                            counters.latency_tick.record(lat);
                        }
                        None => counters.corrupt += 1,
                    }
                }
            }
            Ok(Received::Rtcp(plain)) => {
                if let Kind::Subscriber(sub) = &mut self.kind {
                    for packet in RtcpCompound::iter(&plain).map_while(Result::ok) {
                        if let RtcpPacket::SenderReport(sr) = packet {
                            sub.on_sender_report(sr.sender_ssrc(), sr.ntp(), now);
                        }
                    }
                }
                if let Kind::Publisher(p) = &mut self.kind {
                    let video = p.synth.video_ssrc();
                    for packet in RtcpCompound::iter(&plain).map_while(Result::ok) {
                        let wanted = match packet {
                            RtcpPacket::Pli(pli) => {
                                counters.plis_received += 1;
                                pli.media_ssrc == video
                            }
                            RtcpPacket::Fir(_) => {
                                counters.firs_received += 1;
                                true
                            }
                            RtcpPacket::Nack(nack) => {
                                counters.nacks_received += 1;
                                let lost = nack.lost().filter(|_| nack.media_ssrc == video);
                                for packet in lost.filter_map(|seq| p.sent.get(seq)) {
                                    let (conn, link) = (&mut self.conn, &mut self.link);
                                    if protect_send(conn, link, now, packet, counters) {
                                        counters.retransmissions_sent += 1;
                                    }
                                }
                                false
                            }
                            _ => false,
                        };
                        if wanted {
                            counters.keyframe_requests += 1;
                            p.synth.request_keyframe();
                        }
                    }
                }
            }
            Ok(Received::Transport) => {}
            Err(ConnectionError::Srtp(SrtpError::Replay)) => {
                counters.srtp_replays += 1;
                if let (Kind::Subscriber(sub), PacketClass::Rtp) = (&mut self.kind, classify(data))
                {
                    // A copy of a packet already here: account it from its clear header.
                    counters.received += 1;
                    sub.on_rtp(data, (now, arrived), false);
                }
            }
            Err(ConnectionError::Srtp(_)) => counters.auth_failures += 1,
            // Stray or late transport datagrams: nothing to account.
            Err(_) => {}
        }
    }

    /// Sends the publisher's packets due at `now`.
    pub fn publish_due(
        &mut self,
        epoch: Instant,
        now: Instant,
        scratch: &mut [u8],
        counters: &mut Counters,
    ) {
        let Kind::Publisher(p) = &mut self.kind else {
            return;
        };
        if !self.conn.is_connected() || self.failed.is_some() {
            return;
        }
        let sent_ns = now.saturating_duration_since(epoch).as_nanos() as u64;
        let next_audio = p.next_audio.get_or_insert(now);
        if now.saturating_duration_since(*next_audio) > MAX_LAG {
            *next_audio = now;
        }
        while *next_audio <= now {
            let len = p.synth.audio_packet(sent_ns, scratch);
            let (conn, link) = (&mut self.conn, &mut self.link);
            if protect_send(conn, link, now, &scratch[..len], counters) {
                counters.sent += 1;
            }
            *next_audio += AUDIO_INTERVAL;
        }
        let next_frame = p.next_frame.get_or_insert(now);
        if now.saturating_duration_since(*next_frame) > MAX_LAG {
            *next_frame = now;
        }
        while *next_frame <= now {
            let (conn, link, cache) = (&mut self.conn, &mut self.link, &mut p.sent);
            let mut frame = [0u8; 1500];
            p.synth.video_frame(sent_ns, &mut frame, |packet| {
                cache.store(packet);
                if protect_send(conn, link, now, packet, counters) {
                    counters.sent += 1;
                }
            });
            *next_frame += FRAME_INTERVAL;
        }
        self.first_media.get_or_insert(now);
    }
}

/// Encrypts `plain` and sends it through the link; true if it was handed to the link (the
/// caller counts it), else a send error is counted.
fn protect_send(
    conn: &mut Connection,
    link: &mut Link,
    now: Instant,
    plain: &[u8],
    counters: &mut Counters,
) -> bool {
    match conn.protect_rtp(plain) {
        Ok(enc) => match conn.remote() {
            Some(dst) => {
                if !link.send(now, &enc, dst) {
                    counters.send_errors += 1;
                }
                true
            }
            None => {
                counters.send_errors += 1;
                false
            }
        },
        Err(_) => {
            counters.send_errors += 1;
            false
        }
    }
}

/// A non-blocking UDP socket for the server at `server` (any `scheme://host:port/...` URL)
/// and our host candidate: the local address the kernel routes toward the server, with the
/// socket's port.
fn bind_toward(server: &str) -> Result<(mio::net::UdpSocket, SocketAddr), LoadError> {
    use socket2::{Domain, Protocol, Socket, Type};
    let remote = signalling::resolve(signalling::authority(server))
        .map_err(|e| LoadError::Config(format!("server {e}")))?;
    let (domain, any): (Domain, SocketAddr) = if remote.is_ipv4() {
        (Domain::IPV4, ([0, 0, 0, 0], 0).into())
    } else {
        (Domain::IPV6, (std::net::Ipv6Addr::UNSPECIFIED, 0).into())
    };
    // The route lookup: a connected socket's local address (no datagram is sent).
    let probe = std::net::UdpSocket::bind(any)?;
    probe.connect(remote)?;
    let local_ip = probe.local_addr()?.ip();
    let socket = Socket::new(domain, Type::DGRAM, Some(Protocol::UDP))?;
    // Best effort: the kernel caps these at net.core.{r,w}mem_max.
    let _ = socket.set_recv_buffer_size(4 << 20);
    let _ = socket.set_send_buffer_size(4 << 20);
    socket.set_nonblocking(true)?;
    socket.bind(&any.into())?;
    let socket: std::net::UdpSocket = socket.into();
    let port = socket.local_addr()?.port();
    Ok((
        mio::net::UdpSocket::from_std(socket),
        SocketAddr::new(local_ip, port),
    ))
}
