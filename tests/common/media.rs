//! A blocking driver around the sans-IO `dataplane::transport::Connection` in its active role: one real UDP
//! socket on 127.0.0.1, pumped by the test thread. It plays the browser's part: ICE
//! controlling, DTLS client, SRTP.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dataplane::dtls::DtlsCertificate;
use dataplane::ice::IceConfig;
use dataplane::srtp::SrtpProfile;
use dataplane::transport::{Connection, ConnectionEvent, LocalParams, Received, RemoteParams};

use super::WcsClient;
use control::sdp::{build_offer, parse_answer, Answer, OfferSpec};

/// One test peer with its own socket.
pub struct MediaPeer {
    pub socket: UdpSocket,
    pub conn: Connection,
    buf: Vec<u8>,
    pub rtp: Vec<BytesMut>,
    pub rtcp: Vec<BytesMut>,
    pub failed: Option<dataplane::api::CloseReason>,
    pub rejected: usize,
}

impl MediaPeer {
    /// Binds a socket on 127.0.0.1 and starts ICE toward the server's candidate.
    pub fn new(
        local: &LocalParams,
        remote: &RemoteParams,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
    ) -> Self {
        Self::new_at(Ipv4Addr::LOCALHOST.into(), local, remote, cert, profiles)
    }

    /// [`MediaPeer::new`] with its socket on `ip` (e.g. another loopback address).
    pub fn new_at(
        ip: IpAddr,
        local: &LocalParams,
        remote: &RemoteParams,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
    ) -> Self {
        let socket = UdpSocket::bind(SocketAddr::new(ip, 0)).expect("bind test socket");
        socket.set_nonblocking(true).expect("nonblocking");
        let conn = Connection::active(
            local,
            remote,
            cert,
            profiles,
            IceConfig::default(),
            rand::random(),
            Instant::now(),
        )
        .expect("client DTLS session");
        Self {
            socket,
            conn,
            buf: vec![0; 2048],
            rtp: Vec::new(),
            rtcp: Vec::new(),
            failed: None,
            rejected: 0,
        }
    }

    /// Local address of the test socket.
    pub fn local_addr(&self) -> SocketAddr {
        self.socket.local_addr().expect("local addr")
    }

    /// Sends what is due, reads what arrived, runs timers. Never blocks.
    pub fn pump(&mut self) {
        let now = Instant::now();
        if self.conn.poll_timeout().is_some_and(|t| t <= now) {
            self.conn.handle_timeout(now);
        }
        self.flush();
        loop {
            match self.socket.recv_from(&mut self.buf) {
                Ok((len, from)) => {
                    let now = Instant::now();
                    match self.conn.handle_input(now, from, &self.buf[..len]) {
                        Ok(Received::Rtp(p)) => self.rtp.push(p),
                        Ok(Received::Rtcp(p)) => self.rtcp.push(p),
                        Ok(Received::Transport) => {}
                        Err(_) => self.rejected += 1,
                    }
                    self.flush();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break,
            }
        }
        while let Some(ev) = self.conn.poll_event() {
            if let ConnectionEvent::Failed(r) = ev {
                self.failed = Some(r);
            }
        }
    }

    fn flush(&mut self) {
        let mut out = [0u8; 2048];
        while let Some(t) = self.conn.poll_transmit(&mut out) {
            let _ = self.socket.send_to(&out[..t.len], t.dst);
        }
    }

    /// Encrypts and sends a plain RTP packet to the server.
    pub fn send_rtp(&mut self, plain: &[u8]) {
        let enc = self.conn.protect_rtp(plain).expect("protect rtp");
        self.socket.send_to(&enc, self.server()).expect("send rtp");
    }

    /// Encrypts and sends a plain RTCP packet to the server.
    pub fn send_rtcp(&mut self, plain: &[u8]) {
        let enc = self.conn.protect_rtcp(plain).expect("protect rtcp");
        self.socket.send_to(&enc, self.server()).expect("send rtcp");
    }

    /// The server address media goes to.
    pub fn server(&self) -> SocketAddr {
        self.conn
            .remote()
            .expect("an active connection knows its server")
    }
}

/// Pumps every peer until `done` holds or `timeout` passes; returns whether `done` held.
pub fn pump_until(
    peers: &mut [&mut MediaPeer],
    timeout: Duration,
    mut done: impl FnMut(&[&mut MediaPeer]) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        for p in peers.iter_mut() {
            p.pump();
        }
        if done(peers) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Header-extension id of abs-send-time in [`rtp_packet`].
pub const PUB_ABS_SEND_TIME_ID: u8 = 2;
/// Header-extension id of mid in [`rtp_packet`].
pub const PUB_MID_ID: u8 = 4;

/// A peer that published or played through the WCS protocol and runs real ICE/DTLS/SRTP.
pub struct Joined {
    pub peer: MediaPeer,
    pub answer: Answer,
    pub wcs: WcsClient,
    /// The session ids, to stop or unpublish it.
    pub negotiated: super::Negotiated,
}

/// Publishes (or plays) `name` with `spec`'s offer and starts ICE toward the answer.
pub fn join(
    server: &super::ServerProcess,
    name: &str,
    spec: &OfferSpec,
    cert: &DtlsCertificate,
    publish: bool,
) -> Joined {
    join_from(
        server,
        name,
        spec,
        cert,
        publish,
        Ipv4Addr::LOCALHOST.into(),
    )
}

/// [`join`] from the local address `from` (signalling and media).
pub fn join_from(
    server: &super::ServerProcess,
    name: &str,
    spec: &OfferSpec,
    cert: &DtlsCertificate,
    publish: bool,
    from: IpAddr,
) -> Joined {
    let mut wcs = if from == IpAddr::from(Ipv4Addr::LOCALHOST) {
        WcsClient::connect(&server.ws_url())
    } else {
        WcsClient::connect_from(&server.ws_url(), from)
    };
    wcs.create_session();
    let offer = build_offer(spec);
    let negotiated = if publish {
        wcs.publish(name, &offer)
    } else {
        wcs.play(name, &offer)
    }
    .unwrap_or_else(|info| panic!("publish/play of {name} failed: {info}"));
    let (peer, answer) = peer_for_answer(&negotiated.answer_sdp, spec, cert, from);
    Joined {
        peer,
        answer,
        wcs,
        negotiated,
    }
}

/// A peer on `from` that runs ICE/DTLS toward the server's `answer_sdp` to `spec`'s offer.
pub fn peer_for_answer(
    answer_sdp: &str,
    spec: &OfferSpec,
    cert: &DtlsCertificate,
    from: IpAddr,
) -> (MediaPeer, Answer) {
    let answer = parse_answer(answer_sdp).expect("server answer parses");
    let remote = RemoteParams {
        ufrag: answer.ufrag.clone(),
        pwd: answer.pwd.clone(),
        fingerprint: answer.fingerprint.clone(),
        candidate: *answer.candidates.first().expect("answer has a candidate"),
    };
    let local = LocalParams {
        ufrag: spec.ufrag.clone(),
        pwd: spec.pwd.clone(),
    };
    let peer = MediaPeer::new_at(from, &local, &remote, cert, &SrtpProfile::ALL);
    (peer, answer)
}

/// RTP with a one-byte header extension block (abs-send-time and mid) and `payload`.
pub fn rtp_packet(pt: u8, seq: u16, ts: u32, ssrc: u32, marker: bool, payload: &[u8]) -> Vec<u8> {
    let mut p = vec![0x90, pt | if marker { 0x80 } else { 0 }];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    // 0xBEDE, 2 words: abs-send-time (3 bytes), mid "1" (1 byte), padding to 8 bytes.
    p.extend_from_slice(&[0xBE, 0xDE, 0, 2]);
    p.extend_from_slice(&[PUB_ABS_SEND_TIME_ID << 4 | 2, 0x12, 0x34, 0x56]);
    p.extend_from_slice(&[PUB_MID_ID << 4, b'1', 0, 0]);
    p.extend_from_slice(payload);
    p
}

/// The fields of a plain RTP packet the tests look at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlainRtp {
    pub pt: u8,
    pub seq: u16,
    pub ssrc: u32,
    /// One-byte header extension elements `(id, data)`, padding skipped.
    pub extensions: Vec<(u8, Vec<u8>)>,
    pub payload: Vec<u8>,
}

/// Parses a plain RTP packet (panics on anything else: test input).
pub fn parse_rtp(p: &[u8]) -> PlainRtp {
    assert!(p.len() >= 12 && p[0] >> 6 == 2, "not RTP: {p:02x?}");
    let cc = usize::from(p[0] & 0x0f);
    let mut off = 12 + 4 * cc;
    let mut ext = Vec::new();
    if p[0] & 0x10 != 0 {
        assert_eq!(
            &p[off..off + 2],
            &[0xBE, 0xDE],
            "one-byte extension profile"
        );
        let words = usize::from(u16::from_be_bytes([p[off + 2], p[off + 3]]));
        let block = &p[off + 4..off + 4 + 4 * words];
        let mut i = 0;
        while i < block.len() {
            let b = block[i];
            if b == 0 {
                i += 1;
                continue;
            }
            let (id, len) = (b >> 4, usize::from(b & 0x0f) + 1);
            if id == 15 {
                break;
            }
            ext.push((id, block[i + 1..i + 1 + len].to_vec()));
            i += 1 + len;
        }
        off += 4 + 4 * words;
    }
    PlainRtp {
        pt: p[1] & 0x7f,
        seq: u16::from_be_bytes([p[2], p[3]]),
        ssrc: u32::from_be_bytes([p[8], p[9], p[10], p[11]]),
        extensions: ext,
        payload: p[off..].to_vec(),
    }
}

/// RTCP packets of a compound: (packet type, fmt/count, body words after the header).
pub fn rtcp_packets(p: &[u8]) -> Vec<(u8, u8, Vec<u8>)> {
    let mut out = Vec::new();
    let mut off = 0;
    while off + 4 <= p.len() {
        let len = 4 * (usize::from(u16::from_be_bytes([p[off + 2], p[off + 3]])) + 1);
        if off + len > p.len() {
            break;
        }
        out.push((p[off + 1], p[off] & 0x1f, p[off + 4..off + len].to_vec()));
        off += len;
    }
    out
}

/// `(sequence number, payload)` pairs with each sequence number made relative to the first:
/// the server numbers each subscriber's packets itself (from a random start), so what must
/// match the publisher's is the steps, gaps included, and the payloads.
pub fn relative_seqs(packets: &[(u16, Vec<u8>)]) -> Vec<(u16, Vec<u8>)> {
    let first = packets.first().map_or(0, |p| p.0);
    packets
        .iter()
        .map(|(seq, payload)| (seq.wrapping_sub(first), payload.clone()))
        .collect()
}
