//! The ICE-lite responder (RFC 8445 §2.5): answers the browser's checks, validates and selects
//! its address, and watches consent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::Instant;

use super::{
    check_integrity, parse_checked, username_is, IceConfig, IceError, IceEvent, IceFailure,
    Transmit, MAX_QUEUED_RESPONSES,
};
use crate::stun::write_binding_success;

/// How many validated remote addresses are remembered (least recently checked evicted first,
/// never the selected one; each eviction is reported as [`IceEvent::Forgotten`]).
pub const MAX_VALIDATED: usize = 4;

#[derive(Clone, Copy, Debug)]
struct Validated {
    addr: SocketAddr,
    last_check: Instant,
}

#[derive(Clone, Copy, Debug)]
enum State {
    /// No valid check yet.
    Checking,
    /// `selected` is in use; `last_check` is its latest valid check.
    Connected {
        selected: SocketAddr,
        last_check: Instant,
    },
    Failed(IceFailure),
}

/// The server side of ICE for one peer: an ICE-lite agent, always controlled.
///
/// A check is valid when it is a Binding request whose FINGERPRINT (if present) is correct,
/// whose USERNAME is `<local ufrag>:<remote ufrag>` and whose MESSAGE-INTEGRITY verifies with
/// the local password. A valid check is answered with a Binding success response (carrying
/// the source as XOR-MAPPED-ADDRESS) and validates its source address (the agent remembers
/// [`MAX_VALIDATED`] of them; the one it evicts for a new one is reported as
/// [`IceEvent::Forgotten`], so its owner can stop routing it). The first valid check
/// selects its address (Chrome nominates aggressively, and media may follow at once); a later
/// check with USE-CANDIDATE from another address switches the selection. Each switch emits
/// [`IceEvent::Selected`].
///
/// Invalid checks are dropped silently with an `Err`, never answered with 400/401: an error
/// response makes the browser give up the pair for good, while silence lets its
/// retransmissions succeed once, e.g., a late `AddPeer` has been applied, and nothing is
/// reflected to spoofed sources.
///
/// Timers: [`IceFailure::Timeout`] when no valid check arrives within
/// [`IceConfig::connect_timeout`] of creation; [`IceFailure::ConsentExpired`] when the
/// selected address sent no valid check for [`IceConfig::consent_timeout`].
///
/// Drain order after every `handle_input`/`handle_timeout`: `poll_transmit`, `poll_event`,
/// then `poll_timeout`.
#[derive(Debug)]
pub struct IceLite {
    cfg: IceConfig,
    local_ufrag: Box<[u8]>,
    local_pwd: Box<[u8]>,
    remote_ufrag: Box<[u8]>,
    created: Instant,
    state: State,
    validated: [Option<Validated>; MAX_VALIDATED],
    responses: VecDeque<(SocketAddr, [u8; 12])>,
    events: VecDeque<IceEvent>,
}

impl IceLite {
    /// A new agent with our credentials (from our answer) and the peer's ufrag (from its
    /// offer). `now` starts the connect timer.
    pub fn new(
        cfg: IceConfig,
        local_ufrag: &str,
        local_pwd: &str,
        remote_ufrag: &str,
        now: Instant,
    ) -> Self {
        Self {
            cfg,
            local_ufrag: local_ufrag.as_bytes().into(),
            local_pwd: local_pwd.as_bytes().into(),
            remote_ufrag: remote_ufrag.as_bytes().into(),
            created: now,
            state: State::Checking,
            validated: [None; MAX_VALIDATED],
            responses: VecDeque::with_capacity(2),
            events: VecDeque::new(),
        }
    }

    /// Handles one datagram classified as STUN, received from `from`.
    ///
    /// On success a response is queued for `from`; on error nothing changes.
    pub fn handle_input(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &[u8],
    ) -> Result<(), IceError> {
        if matches!(self.state, State::Failed(_)) {
            return Err(IceError::Failed);
        }
        let msg = parse_checked(buf)?;
        if !msg.is_binding_request() {
            return Err(IceError::Unexpected);
        }
        let username = msg.username().ok_or(IceError::MissingUsername)?;
        if !username_is(username, &self.local_ufrag, &self.remote_ufrag) {
            return Err(IceError::WrongUsername);
        }
        check_integrity(&msg, &self.local_pwd)?;
        if msg.ice_controlled().is_some() {
            // A lite agent is always controlled; a peer claiming the same role is broken.
            return Err(IceError::RoleConflict);
        }

        if self.responses.len() == MAX_QUEUED_RESPONSES {
            self.responses.pop_front();
        }
        self.responses.push_back((from, msg.transaction_id()));
        self.mark_validated(from, now);

        match self.state {
            State::Checking => self.select(from, now),
            State::Connected { selected, .. } if selected == from => {
                self.state = State::Connected {
                    selected,
                    last_check: now,
                };
            }
            State::Connected { .. } if msg.has_use_candidate() => self.select(from, now),
            State::Connected { .. } | State::Failed(_) => {}
        }
        Ok(())
    }

    fn select(&mut self, addr: SocketAddr, now: Instant) {
        self.state = State::Connected {
            selected: addr,
            last_check: now,
        };
        self.events.push_back(IceEvent::Selected(addr));
    }

    /// Records a valid check from `addr`, evicting the least recently checked address other
    /// than the selected one when the list is full (and reporting it forgotten).
    fn mark_validated(&mut self, addr: SocketAddr, now: Instant) {
        let entry = Validated {
            addr,
            last_check: now,
        };
        if let Some(v) = self.validated.iter_mut().flatten().find(|v| v.addr == addr) {
            v.last_check = now;
            return;
        }
        if let Some(slot) = self.validated.iter_mut().find(|v| v.is_none()) {
            *slot = Some(entry);
            return;
        }
        let selected = self.selected();
        let victim = self
            .validated
            .iter_mut()
            .filter(|v| v.is_some_and(|v| Some(v.addr) != selected))
            .min_by_key(|v| v.map(|v| v.last_check));
        if let Some(slot) = victim {
            if let Some(old) = slot.replace(entry) {
                self.events.push_back(IceEvent::Forgotten(old.addr));
            }
        }
    }

    /// Writes the next queued response into `out` and says where to send it.
    ///
    /// `out` should hold [`super::MAX_TRANSMIT_LEN`] bytes; a response that does not fit is
    /// dropped.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some((dst, txid)) = self.responses.pop_front() {
            if let Ok(len) = write_binding_success(out, &txid, dst, &self.local_pwd) {
                return Some(Transmit { dst, len });
            }
        }
        None
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` once failed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        match self.state {
            State::Checking => Some(self.created + self.cfg.connect_timeout),
            State::Connected { last_check, .. } => Some(last_check + self.cfg.consent_timeout),
            State::Failed(_) => None,
        }
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        let failure = match self.state {
            State::Checking if now >= self.created + self.cfg.connect_timeout => {
                IceFailure::Timeout
            }
            State::Connected { last_check, .. } if now >= last_check + self.cfg.consent_timeout => {
                IceFailure::ConsentExpired
            }
            _ => return,
        };
        self.state = State::Failed(failure);
        self.responses.clear();
        self.events.push_back(IceEvent::Failed(failure));
    }

    /// True when a valid check came from `addr` (among the last few addresses remembered).
    pub fn is_validated(&self, addr: SocketAddr) -> bool {
        self.validated.iter().flatten().any(|v| v.addr == addr)
    }

    /// The selected remote address, while connected.
    pub fn selected(&self) -> Option<SocketAddr> {
        match self.state {
            State::Connected { selected, .. } => Some(selected),
            _ => None,
        }
    }

    /// Why the agent failed, once it has.
    pub fn failure(&self) -> Option<IceFailure> {
        match self.state {
            State::Failed(f) => Some(f),
            _ => None,
        }
    }

    /// Our ufrag (the worker's routing key for checks from unknown addresses).
    pub fn local_ufrag(&self) -> &[u8] {
        &self.local_ufrag
    }
}
