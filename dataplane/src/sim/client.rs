//! A simulated browser: the project's own client transport ([`Connection`] in the active role:
//! ICE controlling, DTLS client, SRTP) at one address of the simulated network, recording
//! what it receives.
//!
//! Owns the client's transport and its received packets; the network carries its datagrams
//! and passes `now` in.

#![forbid(unsafe_code)]

use std::net::SocketAddr;
use std::time::Instant;

use bytes::BytesMut;

use crate::api::CloseReason;
use crate::ice::CHECK_PRIORITY;
use crate::stun::write_binding_request;
use crate::transport::{Connection, ConnectionEvent, LocalParams, Received, RemoteParams};

/// One simulated client.
pub struct SimClient {
    pub addr: SocketAddr,
    pub conn: Connection,
    /// Its ICE credentials and the server's (what signalling gave it).
    pub local: LocalParams,
    pub remote: RemoteParams,
    /// Decrypted RTP packets, in arrival order.
    pub rtp: Vec<BytesMut>,
    /// When each RTP packet arrived.
    pub rtp_at: Vec<Instant>,
    /// Decrypted RTCP compounds, in arrival order.
    pub rtcp: Vec<BytesMut>,
    /// When each RTCP compound arrived.
    pub rtcp_at: Vec<Instant>,
    /// Datagrams the transport rejected (unauthenticated, replayed, from a stranger).
    pub rejected: usize,
    /// When the transport connected (DTLS done), if it did.
    pub connected_at: Option<Instant>,
    /// Why the transport failed, if it did.
    pub failed: Option<CloseReason>,
}

impl SimClient {
    pub(super) fn new(
        addr: SocketAddr,
        conn: Connection,
        local: LocalParams,
        remote: RemoteParams,
    ) -> Self {
        Self {
            addr,
            conn,
            local,
            remote,
            rtp: Vec::new(),
            rtp_at: Vec::new(),
            rtcp: Vec::new(),
            rtcp_at: Vec::new(),
            rejected: 0,
            connected_at: None,
            failed: None,
        }
    }

    pub(super) fn handle_input(&mut self, now: Instant, from: SocketAddr, buf: &[u8]) {
        match self.conn.handle_input(now, from, buf) {
            Ok(Received::Rtp(p)) => {
                self.rtp.push(p);
                self.rtp_at.push(now);
            }
            Ok(Received::Rtcp(p)) => {
                self.rtcp.push(p);
                self.rtcp_at.push(now);
            }
            Ok(Received::Transport) => {}
            Err(_) => self.rejected += 1,
        }
        self.drain_events(now);
    }

    pub(super) fn handle_timeout(&mut self, now: Instant) {
        self.conn.handle_timeout(now);
        self.drain_events(now);
    }

    fn drain_events(&mut self, now: Instant) {
        while let Some(ev) = self.conn.poll_event() {
            match ev {
                ConnectionEvent::Connected(_) => {
                    self.connected_at.get_or_insert(now);
                }
                ConnectionEvent::Failed(r) => self.failed = Some(r),
                ConnectionEvent::Validated(_)
                | ConnectionEvent::Selected(_)
                | ConnectionEvent::Forgotten(_) => {}
            }
        }
    }

    /// A valid connectivity check with transaction id `txid`, as its ICE agent sends them
    /// (with USE-CANDIDATE when `nominate`): what anyone holding the session's credentials can
    /// send, from any source address.
    pub fn check(&self, txid: [u8; 12], nominate: bool) -> Vec<u8> {
        let username = format!("{}:{}", self.remote.ufrag, self.local.ufrag);
        let mut out = vec![0u8; crate::ice::MAX_TRANSMIT_LEN];
        let len = write_binding_request(
            &mut out,
            &txid,
            username.as_bytes(),
            self.remote.pwd.as_bytes(),
            CHECK_PRIORITY,
            0x1CE,
            nominate,
        )
        .expect("a check fits");
        out.truncate(len);
        out
    }

    /// Whether media can flow.
    pub fn is_connected(&self) -> bool {
        self.conn.is_connected()
    }

    /// The RTP sequence numbers received, in arrival order.
    pub fn sequence_numbers(&self) -> Vec<u16> {
        self.rtp
            .iter()
            .filter(|p| p.len() >= 4)
            .map(|p| u16::from_be_bytes([p[2], p[3]]))
            .collect()
    }
}
