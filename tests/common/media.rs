//! A blocking driver around the sans-IO `dataplane::client::ClientConnection`: one real UDP
//! socket on 127.0.0.1, pumped by the test thread. It plays the browser's part: ICE
//! controlling, DTLS client, SRTP.

use std::net::{SocketAddr, UdpSocket};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use dataplane::client::{ClientConnection, ClientEvent, ClientInput, LocalParams, RemoteParams};
use dataplane::dtls::DtlsCertificate;
use dataplane::srtp::SrtpProfile;

/// One test peer with its own socket.
pub struct MediaPeer {
    pub socket: UdpSocket,
    pub conn: ClientConnection,
    buf: Vec<u8>,
    pub rtp: Vec<BytesMut>,
    pub rtcp: Vec<BytesMut>,
    pub failed: Option<dataplane::api::CloseReason>,
    pub rejected: usize,
}

impl MediaPeer {
    /// Binds a socket and starts ICE toward the server's candidate.
    pub fn new(
        local: &LocalParams,
        remote: &RemoteParams,
        cert: &DtlsCertificate,
        profiles: &[SrtpProfile],
    ) -> Self {
        let socket = UdpSocket::bind("127.0.0.1:0").expect("bind test socket");
        socket.set_nonblocking(true).expect("nonblocking");
        let conn = ClientConnection::new(local, remote, cert, profiles, Instant::now())
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
                        Ok(ClientInput::Rtp(p)) => self.rtp.push(p),
                        Ok(ClientInput::Rtcp(p)) => self.rtcp.push(p),
                        Ok(ClientInput::None) => {}
                        Err(_) => self.rejected += 1,
                    }
                    self.flush();
                }
                Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => break,
                Err(_) => break,
            }
        }
        while let Some(ev) = self.conn.poll_event() {
            if let ClientEvent::Failed(r) = ev {
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
        self.socket
            .send_to(&enc, self.conn.remote())
            .expect("send rtp");
    }

    /// Encrypts and sends a plain RTCP packet to the server.
    pub fn send_rtcp(&mut self, plain: &[u8]) {
        let enc = self.conn.protect_rtcp(plain).expect("protect rtcp");
        self.socket
            .send_to(&enc, self.conn.remote())
            .expect("send rtcp");
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
