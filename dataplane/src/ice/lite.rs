//! The ICE-lite responder (RFC 8445 §2.5): answers the browser's checks, validates and selects
//! its address, makes sure an address wants media before media goes there (RFC 7675 consent:
//! our own check, answered), and watches consent.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{
    check_integrity, parse_checked, username_is, IceConfig, IceError, IceEvent, IceFailure,
    Transmit, CHECK_PRIORITY, MAX_QUEUED_RESPONSES,
};
use crate::rng::SplitMix64;
use crate::stun::{write_binding_success, write_controlled_binding_request, StunClass};

/// How many validated remote addresses are remembered (least recently checked evicted first,
/// never the selected one; each eviction is reported as [`IceEvent::Forgotten`]).
pub const MAX_VALIDATED: usize = 4;

/// Our consent check is sent again this long after the first try, then at doubling
/// intervals...
const PROBE_RTO: Duration = Duration::from_millis(100);
/// ... this many times in all (the last at 3.1 s); unanswered one interval later (6.3 s), it is
/// given up until the peer nominates the address again. One check is on its way at a time,
/// so a peer's agent sends at most this many checks per 6.3 s, to whichever addresses, besides
/// the answers to the checks it receives.
const PROBE_SENDS: u32 = 6;

#[derive(Clone, Copy, Debug)]
struct Validated {
    addr: SocketAddr,
    last_check: Instant,
    /// When the address last showed it wants our traffic: it answered a check of ours, or
    /// the DTLS handshake completed with it.
    consent: Option<Instant>,
}

/// Our check to an address media is to go to, until it answers.
#[derive(Clone, Copy, Debug)]
struct Probe {
    addr: SocketAddr,
    txid: [u8; 12],
    /// Checks sent so far.
    sent: u32,
    /// When to send the next one (or, after the last, to give up).
    next: Instant,
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
/// selects its address (Chrome nominates aggressively); a later check with USE-CANDIDATE from
/// another address switches the selection once that address has consent (below). Each
/// selection emits [`IceEvent::Selected`].
///
/// Consent (RFC 7675): a valid check proves its sender holds the session's credentials, not
/// that its source address is the sender's — anyone holding them can spoof a victim's address
/// and aim the media at it. So media only goes to an address that showed it wants it: it
/// answered a Binding request of ours (USERNAME `<remote ufrag>:<local ufrag>`,
/// ICE-CONTROLLED, MESSAGE-INTEGRITY keyed with the remote password; the success response
/// must carry its transaction id, come from that address and verify with the remote
/// password), or the DTLS handshake completed with it ([`Self::confirm`]). The selected
/// address without consent yet, and an address nominated to switch to, get such a check,
/// resent after 100 ms and then at doubling intervals, six in all, given up after 6.3 s. One
/// check is on its way at a time: a nomination meanwhile is followed when it is done (the
/// latest one wins), so what goes to an address before it answered is capped at six checks
/// per 6.3 s besides the answers to its own checks. The switch happens when the answer
/// arrives (at once to an address with consent from the last consent timeout).
/// [`Self::media_target`] is the selected address once it has consent.
///
/// Invalid checks are dropped silently with an `Err`, never answered with 400/401: an error
/// response makes the browser give up the pair for good, while silence lets its
/// retransmissions succeed once, e.g., a late `AddPeer` has been applied, and nothing is
/// reflected to spoofed sources.
///
/// Timers: [`IceFailure::Timeout`] when no valid check arrives within
/// [`IceConfig::connect_timeout`] of creation; [`IceFailure::ConsentExpired`] when the
/// selected address sent no valid check for [`IceConfig::consent_timeout`]; and the resends
/// of our consent check.
///
/// Drain order after every `handle_input`/`handle_timeout`: `poll_transmit`, `poll_event`,
/// then `poll_timeout`.
#[derive(Debug)]
pub struct IceLite {
    cfg: IceConfig,
    local_ufrag: Box<[u8]>,
    local_pwd: Box<[u8]>,
    remote_ufrag: Box<[u8]>,
    /// Keys our consent checks (empty until [`Self::with_remote_password`]).
    remote_pwd: Box<[u8]>,
    /// Our consent checks' USERNAME: `<remote ufrag>:<local ufrag>`.
    probe_username: Box<[u8]>,
    tiebreaker: u64,
    rng: SplitMix64,
    created: Instant,
    state: State,
    validated: [Option<Validated>; MAX_VALIDATED],
    responses: VecDeque<(SocketAddr, [u8; 12])>,
    /// Our consent check on its way (one at a time; it runs until answered or given up).
    probe: Option<Probe>,
    /// A consent check is to be written by `poll_transmit`.
    probe_due: bool,
    /// Where the latest nomination asks media to go, if not to the selected address: switched
    /// to once it has consent.
    wanted: Option<SocketAddr>,
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
        let probe_username = format!("{remote_ufrag}:{local_ufrag}");
        Self {
            cfg,
            local_ufrag: local_ufrag.as_bytes().into(),
            local_pwd: local_pwd.as_bytes().into(),
            remote_ufrag: remote_ufrag.as_bytes().into(),
            remote_pwd: Box::default(),
            probe_username: probe_username.into_bytes().into_boxed_slice(),
            tiebreaker: 0,
            rng: SplitMix64(0),
            created: now,
            state: State::Checking,
            validated: [None; MAX_VALIDATED],
            responses: VecDeque::with_capacity(2),
            probe: None,
            probe_due: false,
            wanted: None,
            events: VecDeque::new(),
        }
    }

    /// The peer's ICE password (from its offer), which keys our consent checks and its
    /// answers; `seed` makes their transaction ids and tie-breaker (pass a random one).
    /// Without it the peer cannot authenticate our checks: media then only goes to the address
    /// DTLS completed with, and the selection never switches.
    #[must_use]
    pub fn with_remote_password(mut self, remote_pwd: &str, seed: u64) -> Self {
        self.remote_pwd = remote_pwd.as_bytes().into();
        self.rng = SplitMix64(seed);
        self.tiebreaker = self.rng.next_u64();
        self
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
        if msg.class() == StunClass::SuccessResponse {
            return self.handle_answer(now, from, &msg);
        }
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
            State::Checking => {
                self.select(from, now);
                self.start_probe(from, now);
            }
            State::Connected { selected, .. } if selected == from => {
                self.state = State::Connected {
                    selected,
                    last_check: now,
                };
                if msg.has_use_candidate() {
                    // Nominated again: a pending switch is off.
                    self.wanted = None;
                }
                if self.media_target().is_none() {
                    // Our check to it went unanswered so far: try again (if none is out).
                    self.start_probe(from, now);
                }
            }
            State::Connected { .. } if msg.has_use_candidate() => {
                self.wanted = Some(from);
                self.follow(now);
            }
            State::Connected { .. } | State::Failed(_) => {}
        }
        Ok(())
    }

    /// Moves toward the wanted address: switches to it once it has consent, or sends it our
    /// check when none is on its way.
    fn follow(&mut self, now: Instant) {
        let Some(wanted) = self.wanted else {
            return;
        };
        if self.has_consent(wanted, now) {
            self.wanted = None;
            if self.selected() != Some(wanted) {
                self.select(wanted, now);
            }
        } else {
            self.start_probe(wanted, now);
        }
    }

    /// A success response: the answer to our consent check, from the address it went to.
    fn handle_answer(
        &mut self,
        now: Instant,
        from: SocketAddr,
        msg: &crate::stun::StunMessage<'_>,
    ) -> Result<(), IceError> {
        let probe = self.probe.ok_or(IceError::UnknownTransaction)?;
        if msg.transaction_id() != probe.txid {
            return Err(IceError::UnknownTransaction);
        }
        if from != probe.addr {
            return Err(IceError::UnexpectedSource);
        }
        check_integrity(msg, &self.remote_pwd)?;
        self.grant_consent(probe.addr, now);
        Ok(())
    }

    /// The DTLS handshake completed with `addr`: it wants our traffic (it received our
    /// flights and answered them). Gives it consent, as an answered check would.
    pub fn confirm(&mut self, now: Instant, addr: SocketAddr) {
        if self.is_validated(addr) {
            self.grant_consent(addr, now);
        }
    }

    /// `addr` showed it wants our traffic: it may get media, and if it is the wanted address,
    /// the selection switches to it.
    fn grant_consent(&mut self, addr: SocketAddr, now: Instant) {
        if matches!(self.state, State::Failed(_)) {
            return;
        }
        if !self.is_validated(addr) {
            // Evicted while our check was on its way; it answered with the session's key.
            self.mark_validated(addr, now);
        }
        if let Some(v) = self.validated.iter_mut().flatten().find(|v| v.addr == addr) {
            v.consent = Some(now);
        }
        if self.probe.is_some_and(|p| p.addr == addr) {
            self.probe = None;
            self.probe_due = false;
        }
        self.follow(now);
    }

    /// Whether `addr` showed it wants our traffic within the last consent timeout.
    fn has_consent(&self, addr: SocketAddr, now: Instant) -> bool {
        self.validated.iter().flatten().any(|v| {
            v.addr == addr
                && v.consent
                    .is_some_and(|t| now.saturating_duration_since(t) < self.cfg.consent_timeout)
        })
    }

    /// Sends our consent check to `addr`, unless one is on its way (to any address: the
    /// wanted address is followed when it is done).
    fn start_probe(&mut self, addr: SocketAddr, now: Instant) {
        if self.probe.is_some() {
            return;
        }
        self.probe = Some(Probe {
            addr,
            txid: self.rng.transaction_id(),
            sent: 1,
            next: now + PROBE_RTO,
        });
        self.probe_due = true;
    }

    fn select(&mut self, addr: SocketAddr, now: Instant) {
        self.state = State::Connected {
            selected: addr,
            last_check: now,
        };
        self.events.push_back(IceEvent::Selected(addr));
    }

    /// Where media may go: the selected address once it has shown it wants it (an answered
    /// check of ours, or DTLS completed with it).
    pub fn media_target(&self) -> Option<SocketAddr> {
        let selected = self.selected()?;
        self.validated
            .iter()
            .flatten()
            .any(|v| v.addr == selected && v.consent.is_some())
            .then_some(selected)
    }

    /// Records a valid check from `addr`, evicting the least recently checked address other
    /// than the selected one when the list is full (and reporting it forgotten).
    fn mark_validated(&mut self, addr: SocketAddr, now: Instant) {
        let entry = Validated {
            addr,
            last_check: now,
            consent: None,
        };
        if let Some(v) = self.validated.iter_mut().flatten().find(|v| v.addr == addr) {
            v.last_check = now;
            return;
        }
        if let Some(slot) = self.validated.iter_mut().find(|v| v.is_none()) {
            *slot = Some(entry);
            return;
        }
        // Never the selected address, the one our check went to, or the wanted one.
        let keep = [self.selected(), self.probe.map(|p| p.addr), self.wanted];
        let victim = self
            .validated
            .iter_mut()
            .filter(|v| v.is_some_and(|v| !keep.contains(&Some(v.addr))))
            .min_by_key(|v| v.map(|v| v.last_check));
        if let Some(slot) = victim {
            if let Some(old) = slot.replace(entry) {
                self.events.push_back(IceEvent::Forgotten(old.addr));
            }
        }
    }

    /// Writes the next queued response, then our consent check, into `out` and says where to
    /// send it.
    ///
    /// `out` should hold [`super::MAX_TRANSMIT_LEN`] bytes; a message that does not fit is
    /// dropped.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some((dst, txid)) = self.responses.pop_front() {
            if let Ok(len) = write_binding_success(out, &txid, dst, &self.local_pwd) {
                return Some(Transmit { dst, len });
            }
        }
        if !std::mem::take(&mut self.probe_due) {
            return None;
        }
        let probe = self.probe?;
        let len = write_controlled_binding_request(
            out,
            &probe.txid,
            &self.probe_username,
            &self.remote_pwd,
            CHECK_PRIORITY,
            self.tiebreaker,
        )
        .ok()?;
        Some(Transmit {
            dst: probe.addr,
            len,
        })
    }

    /// The next event, if any.
    #[must_use]
    pub fn poll_event(&mut self) -> Option<IceEvent> {
        self.events.pop_front()
    }

    /// When [`handle_timeout`](Self::handle_timeout) must be called next; `None` once failed.
    #[must_use]
    pub fn poll_timeout(&self) -> Option<Instant> {
        let probe = self.probe.map(|p| p.next);
        let state = match self.state {
            State::Checking => self.created + self.cfg.connect_timeout,
            State::Connected { last_check, .. } => last_check + self.cfg.consent_timeout,
            State::Failed(_) => return None,
        };
        Some(probe.map_or(state, |p| p.min(state)))
    }

    /// Fires the timers due at `now`.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(probe) = &mut self.probe {
            if now >= probe.next {
                if probe.sent < PROBE_SENDS {
                    probe.next += PROBE_RTO * (1 << probe.sent);
                    probe.sent += 1;
                    self.probe_due = true;
                } else {
                    // Unanswered: given up until the address is nominated again; a later
                    // nomination of another address is followed now.
                    let given_up = probe.addr;
                    self.probe = None;
                    self.probe_due = false;
                    if self.wanted == Some(given_up) {
                        self.wanted = None;
                    }
                    self.follow(now);
                }
            }
        }
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
        self.probe = None;
        self.probe_due = false;
        self.wanted = None;
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
