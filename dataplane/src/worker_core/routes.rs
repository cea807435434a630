//! The worker core's routing tables: which peer (a slab key) a datagram or a command is for,
//! by peer id, by source address (ICE-validated addresses only: the few each peer's agent
//! remembers, removed when it forgets them), by our ICE ufrag (a passive peer's first check
//! from a new address) and by local socket (a relay leg's own socket). Every lookup is one
//! hash map probe.
//!
//! Owns the maps only; knows nothing about transports or streams.

#![forbid(unsafe_code)]

use std::collections::HashMap;
use std::net::SocketAddr;

use crate::api::PeerId;
use crate::send_queue::SocketId;
use crate::stun::{local_ufrag, StunMessage};

/// Peer keys by id, address, ufrag and socket.
#[derive(Default)]
pub struct Routes {
    by_id: HashMap<PeerId, usize>,
    by_addr: HashMap<SocketAddr, usize>,
    by_ufrag: HashMap<String, usize>,
    by_socket: HashMap<SocketId, usize>,
}

impl Routes {
    pub fn by_id(&self, id: PeerId) -> Option<usize> {
        self.by_id.get(&id).copied()
    }

    pub fn by_addr(&self, addr: SocketAddr) -> Option<usize> {
        self.by_addr.get(&addr).copied()
    }

    pub fn by_socket(&self, socket: SocketId) -> Option<usize> {
        self.by_socket.get(&socket).copied()
    }

    /// Whether a peer uses `ufrag` as its local ICE ufrag.
    pub fn has_ufrag(&self, ufrag: &str) -> bool {
        self.by_ufrag.contains_key(ufrag)
    }

    /// The peer a STUN check from a new address is meant for, by our ICE ufrag (the first
    /// half of its USERNAME).
    pub fn first_check(&self, buf: &[u8]) -> Option<usize> {
        let msg = StunMessage::parse(buf).ok()?;
        let ufrag = local_ufrag(msg.username()?)?;
        let ufrag = std::str::from_utf8(ufrag).ok()?;
        self.by_ufrag.get(ufrag).copied()
    }

    pub fn insert_id(&mut self, id: PeerId, key: usize) {
        self.by_id.insert(id, key);
    }

    pub fn insert_addr(&mut self, addr: SocketAddr, key: usize) {
        self.by_addr.insert(addr, key);
    }

    /// Removes the route of `addr` if it leads to peer `key`.
    pub fn remove_addr(&mut self, addr: SocketAddr, key: usize) {
        if self.by_addr.get(&addr) == Some(&key) {
            self.by_addr.remove(&addr);
        }
    }

    /// Addresses routed to any peer.
    pub fn addr_count(&self) -> usize {
        self.by_addr.len()
    }

    pub fn insert_ufrag(&mut self, ufrag: String, key: usize) {
        self.by_ufrag.insert(ufrag, key);
    }

    pub fn insert_socket(&mut self, socket: SocketId, key: usize) {
        self.by_socket.insert(socket, key);
    }

    /// Removes every route to peer `key` (those of other peers under the same names stay).
    pub fn remove(
        &mut self,
        key: usize,
        id: PeerId,
        ufrag: &str,
        addrs: impl IntoIterator<Item = SocketAddr>,
        socket: SocketId,
    ) {
        if self.by_id.get(&id) == Some(&key) {
            self.by_id.remove(&id);
        }
        if self.by_ufrag.get(ufrag) == Some(&key) {
            self.by_ufrag.remove(ufrag);
        }
        for a in addrs {
            self.remove_addr(a, key);
        }
        if self.by_socket.get(&socket) == Some(&key) {
            self.by_socket.remove(&socket);
        }
    }
}
