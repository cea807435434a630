//! One load client: its UDP socket, its [`Connection`] (ICE, DTLS, SRTP), its
//! signalling session and what it does with media: a publisher sends [`Synth`] packets and
//! answers PLI/FIR with a keyframe; a subscriber verifies, counts and times what arrives.
//!
//! Owns: per-client state and the per-datagram work. Must not read the clock (`now` comes
//! from the runner) or block: sockets are non-blocking, signalling was done before.

use std::io::ErrorKind;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use control::ice::IceCredentials;
use control::sdp::{build_offer, parse_answer, Codec, OfferSpec};
use dataplane::demux::{classify, PacketClass};
use dataplane::dtls::DtlsCertificate;
use dataplane::ice::IceConfig;
use dataplane::rtcp::{RtcpCompound, RtcpPacket};
use dataplane::srtp::SrtpProfile;
use dataplane::transport::{
    Connection, ConnectionError, ConnectionEvent, LocalParams, Received, RemoteParams,
};

use super::config::Verify;
use super::error::LoadError;
use super::histogram::Histogram;
use super::janus::JanusSignalling;
use super::media::{SeqStats, Synth, Tail, AUDIO_INTERVAL, FPS};
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
    /// Verified packets without our payload tail.
    pub corrupt: u64,
    /// Keyframe requests (PLI/FIR) publishers received.
    pub keyframe_requests: u64,
    /// One-way latency of verified packets, ns, this measuring window.
    pub latency: Histogram,
    /// The same for the current progress second.
    pub latency_tick: Histogram,
}

/// What a publisher keeps.
pub struct Publisher {
    /// The packet factory.
    pub synth: Synth,
    next_audio: Option<Instant>,
    next_frame: Option<Instant>,
}

/// What a subscriber keeps.
#[derive(Default)]
pub struct Subscriber {
    /// Per-SSRC sequence accounting.
    pub streams: Vec<(u32, SeqStats)>,
    /// RTP packets received (counted from the clear header), for the sampling of [`Verify`].
    pub received: u64,
    /// Received RTP packets whose SRTP authentication was checked and passed.
    pub verified: u64,
}

/// The role-specific part of a client.
pub enum Kind {
    /// Sends media.
    Publisher(Box<Publisher>),
    /// Receives media.
    Subscriber(Subscriber),
}

/// One client.
pub struct Peer {
    /// The media socket (mio-registered by the runner).
    pub socket: mio::net::UdpSocket,
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
}

/// Opens a signalling session of `target` toward `server` (a `ws://host:port` URL for WCS,
/// `http://host:port/janus` for Janus).
fn connect(target: TargetKind, server: &str) -> Result<Box<dyn Signalling>, SignalError> {
    match target {
        TargetKind::Wcs => Ok(Box::new(WcsSignalling::connect(server)?)),
        TargetKind::Janus => Ok(Box::new(JanusSignalling::connect(server)?)),
        TargetKind::Floor => Err(SignalError::Unsupported(target)),
    }
}

impl Peer {
    /// Runs signalling for `role` on `stream` (blocking) and starts ICE; a publisher will
    /// send `bitrate` bits/s in packets of at most `packet_size` bytes. `join_started` is when
    /// the caller began the join; `now` is asked once signalling is done.
    #[allow(clippy::too_many_arguments)]
    pub fn join(
        target: TargetKind,
        server: &str,
        role: Role,
        stream: &str,
        cert: &DtlsCertificate,
        (bitrate, packet_size): (u64, usize),
        join_started: Instant,
        now: impl Fn() -> Instant,
    ) -> Result<Peer, LoadError> {
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
        let mut sig = connect(target, server)?;
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
                next_audio: None,
                next_frame: None,
            })),
            Role::Play => Kind::Subscriber(Subscriber::default()),
        };
        Ok(Peer {
            socket,
            conn,
            signalling: sig,
            kind,
            join_started,
            first_media: None,
            failed: None,
        })
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

    /// Sends the ICE/DTLS datagrams the connection has queued.
    pub fn flush(&mut self, out: &mut [u8], counters: &mut Counters) {
        while let Some(t) = self.conn.poll_transmit(out) {
            send(&self.socket, &out[..t.len], t.dst, counters);
        }
    }

    /// Runs due timers.
    pub fn handle_timeout(&mut self, now: Instant, out: &mut [u8], counters: &mut Counters) {
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        self.flush(out, counters);
        while let Some(ev) = self.conn.poll_event() {
            if let ConnectionEvent::Failed(r) = ev {
                self.failed
                    .get_or_insert_with(|| format!("transport: {r:?}"));
            }
        }
    }

    /// When this client next needs the runner: a transport timer or a publisher's next packet.
    pub fn next_due(&self) -> Option<Instant> {
        let t = self.conn.poll_timeout();
        match &self.kind {
            Kind::Publisher(p) if self.conn.is_connected() => {
                earliest(t, earliest(p.next_audio, p.next_frame))
            }
            _ => t,
        }
    }

    /// Reads every datagram the socket holds.
    pub fn receive(
        &mut self,
        epoch: Instant,
        now: Instant,
        verify: Verify,
        buf: &mut [u8],
        out: &mut [u8],
        counters: &mut Counters,
    ) {
        loop {
            let (len, from) = match self.socket.recv_from(buf) {
                Ok(r) => r,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                // ICMP errors (port unreachable) surface here on Linux; nothing to read.
                Err(_) => break,
            };
            self.datagram(epoch, now, from, &buf[..len], verify, counters);
        }
        self.flush(out, counters);
    }

    fn datagram(
        &mut self,
        epoch: Instant,
        now: Instant,
        from: SocketAddr,
        data: &[u8],
        verify: Verify,
        counters: &mut Counters,
    ) {
        if let Kind::Subscriber(sub) = &mut self.kind {
            if classify(data) == PacketClass::Rtp
                && self.conn.is_connected()
                && Some(from) == self.conn.remote()
            {
                let n = sub.received;
                sub.received += 1;
                if !verify.checks(n) {
                    // Counted from the clear header; SRTP not checked for this one.
                    counters.received += 1;
                    self.first_media.get_or_insert(now);
                    record_seq(sub, data);
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
                    record_seq(sub, &plain);
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
                if let Kind::Publisher(p) = &mut self.kind {
                    let video = p.synth.video_ssrc();
                    for packet in RtcpCompound::iter(&plain).map_while(Result::ok) {
                        let wanted = match packet {
                            RtcpPacket::Pli(pli) => pli.media_ssrc == video,
                            RtcpPacket::Fir(_) => true,
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
            protect_send(&mut self.conn, &self.socket, &scratch[..len], counters);
            *next_audio += AUDIO_INTERVAL;
        }
        let next_frame = p.next_frame.get_or_insert(now);
        if now.saturating_duration_since(*next_frame) > MAX_LAG {
            *next_frame = now;
        }
        while *next_frame <= now {
            let (conn, socket) = (&mut self.conn, &self.socket);
            let mut frame = [0u8; 1500];
            p.synth.video_frame(sent_ns, &mut frame, |packet| {
                protect_send(conn, socket, packet, counters);
            });
            *next_frame += FRAME_INTERVAL;
        }
        self.first_media.get_or_insert(now);
    }
}

fn record_seq(sub: &mut Subscriber, rtp: &[u8]) {
    if rtp.len() < 12 {
        return;
    }
    let seq = u16::from_be_bytes([rtp[2], rtp[3]]);
    let ssrc = u32::from_be_bytes([rtp[8], rtp[9], rtp[10], rtp[11]]);
    match sub.streams.iter_mut().find(|(s, _)| *s == ssrc) {
        Some((_, st)) => st.record(seq),
        None => {
            let mut st = SeqStats::default();
            st.record(seq);
            sub.streams.push((ssrc, st));
        }
    }
}

fn protect_send(
    conn: &mut Connection,
    socket: &mio::net::UdpSocket,
    plain: &[u8],
    counters: &mut Counters,
) {
    match conn.protect_rtp(plain) {
        Ok(enc) => match conn.remote() {
            Some(dst) => {
                counters.sent += 1;
                send(socket, &enc, dst, counters);
            }
            None => counters.send_errors += 1,
        },
        Err(_) => counters.send_errors += 1,
    }
}

fn send(socket: &mio::net::UdpSocket, data: &[u8], to: SocketAddr, counters: &mut Counters) {
    if socket.send_to(data, to).is_err() {
        counters.send_errors += 1;
    }
}

/// The earlier of two optional instants.
pub fn earliest(a: Option<Instant>, b: Option<Instant>) -> Option<Instant> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, None) => a,
        (None, b) => b,
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
