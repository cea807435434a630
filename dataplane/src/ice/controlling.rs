//! The controlling ICE agent (the browser's role) for one remote candidate: checks with
//! USE-CANDIDATE until answered, then consent checks; the peer's own checks (a full agent's
//! triggered checks) are answered.

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use super::{
    check_integrity, parse_checked, username_is, IceConfig, IceError, IceEvent, IceFailure,
    Transmit, CHECK_PRIORITY, MAX_QUEUED_RESPONSES,
};
use crate::rng::SplitMix64;
use crate::stun::{write_binding_request, write_binding_success, StunClass, METHOD_BINDING};

/// How many recent transaction ids a response may answer.
const MAX_OUTSTANDING: usize = 8;

#[derive(Clone, Copy, Debug)]
enum State {
    /// Checking every `interval` (doubling up to the maximum); next check at `next_check`.
    Checking {
        next_check: Instant,
        interval: Duration,
    },
    /// Answered; `last_response` is the latest authenticated success response.
    Connected {
        last_response: Instant,
        next_check: Instant,
    },
    Failed(IceFailure),
}

/// The client side of ICE towards one ICE-lite server address (aggressive nomination).
///
/// Sends Binding requests to `remote` with USERNAME `<remote ufrag>:<local ufrag>`,
/// ICE-CONTROLLING, USE-CANDIDATE and MESSAGE-INTEGRITY keyed with the remote password: the
/// first at creation, then after [`IceConfig::check_interval`], doubling up to
/// [`IceConfig::max_check_interval`]. The first success response from `remote` that answers
/// one of the last few checks and verifies with the remote password emits
/// [`IceEvent::Selected`]`(remote)`. From then on a consent check goes out every
/// [`IceConfig::consent_interval`] (randomised 0.8–1.2; they keep USE-CANDIDATE so the server
/// follows a changed source address).
///
/// Failures: [`IceFailure::Timeout`] when not answered within [`IceConfig::connect_timeout`];
/// [`IceFailure::ConsentExpired`] when no answer for [`IceConfig::consent_timeout`] once
/// connected.
///
/// Incoming checks: an ICE-lite peer sends none, but a full controlled agent (libnice in
/// Janus, even in its lite mode) sends triggered checks and holds back media until they are
/// answered. A Binding request from `remote` with USERNAME `<local ufrag>:<remote ufrag>`,
/// MESSAGE-INTEGRITY keyed with the local password and ICE-CONTROLLED (or no role) gets a
/// success response; one claiming ICE-CONTROLLING is a role conflict we do not resolve (we are
/// always the controlling side) and is dropped with [`IceError::RoleConflict`]. Answering
/// does not select anything: only the peer's answer to our own check does.
///
/// Transaction ids and consent jitter come from a generator seeded with the tie-breaker, so a
/// run is repeatable; pass a random tie-breaker.
///
/// Drain order after every `handle_input`/`handle_timeout`: `poll_transmit`, `poll_event`,
/// then `poll_timeout`.
#[derive(Debug)]
pub struct IceControlling {
    cfg: IceConfig,
    /// `<remote ufrag>:<local ufrag>`: our checks' USERNAME (the peer's checks carry the two
    /// ufrags the other way round, see [`Self::ufrags`]).
    username: Box<[u8]>,
    /// Length of the remote ufrag at the start of `username`.
    remote_ufrag_len: usize,
    remote_pwd: Box<[u8]>,
    local_pwd: Box<[u8]>,
    /// Success responses owed to the peer's checks (transaction ids), oldest first.
    responses: VecDeque<[u8; 12]>,
    remote: SocketAddr,
    tiebreaker: u64,
    rng: SplitMix64,
    created: Instant,
    state: State,
    /// Ring of the last checks' transaction ids; `next_slot` is overwritten next.
    outstanding: [Option<[u8; 12]>; MAX_OUTSTANDING],
    next_slot: usize,
    /// A check queued for `poll_transmit`.
    queued_check: Option<[u8; 12]>,
    events: VecDeque<IceEvent>,
}

impl IceControlling {
    /// A new agent; its first check is queued at once (drain `poll_transmit`).
    ///
    /// `local_pwd` authenticates the peer's checks. Ufrags are at most 256 characters
    /// (RFC 8839), so the USERNAME always fits a check.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        cfg: IceConfig,
        local_ufrag: &str,
        local_pwd: &str,
        remote_ufrag: &str,
        remote_pwd: &str,
        remote: SocketAddr,
        tiebreaker: u64,
        now: Instant,
    ) -> Self {
        let mut username = Vec::with_capacity(remote_ufrag.len() + 1 + local_ufrag.len());
        username.extend_from_slice(remote_ufrag.as_bytes());
        username.push(b':');
        username.extend_from_slice(local_ufrag.as_bytes());
        let mut agent = Self {
            cfg,
            username: username.into_boxed_slice(),
            remote_pwd: remote_pwd.as_bytes().into(),
            remote_ufrag_len: remote_ufrag.len(),
            local_pwd: local_pwd.as_bytes().into(),
            responses: VecDeque::new(),
            remote,
            tiebreaker,
            rng: SplitMix64(tiebreaker),
            created: now,
            state: State::Checking {
                next_check: now + cfg.check_interval,
                interval: cfg.check_interval,
            },
            outstanding: [None; MAX_OUTSTANDING],
            next_slot: 0,
            queued_check: None,
            events: VecDeque::new(),
        };
        agent.queue_check();
        agent
    }

    fn queue_check(&mut self) {
        let txid = self.rng.transaction_id();
        self.outstanding[self.next_slot] = Some(txid);
        self.next_slot = (self.next_slot + 1) % MAX_OUTSTANDING;
        self.queued_check = Some(txid);
    }

    /// Handles one datagram classified as STUN, received from `from`.
    ///
    /// Only an authenticated success response to a recent check changes state; an
    /// authenticated check from the peer queues a response.
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
        let class = msg.class();
        if msg.is_binding_request() {
            return self.answer_check(from, &msg);
        }
        if msg.method() != METHOD_BINDING
            || !matches!(class, StunClass::SuccessResponse | StunClass::ErrorResponse)
        {
            return Err(IceError::Unexpected);
        }
        let txid = msg.transaction_id();
        if !self.outstanding.contains(&Some(txid)) {
            return Err(IceError::UnknownTransaction);
        }
        if from != self.remote {
            return Err(IceError::UnexpectedSource);
        }
        if class == StunClass::ErrorResponse {
            // A 401 carries no MESSAGE-INTEGRITY: report it, change nothing.
            return Err(IceError::ErrorResponse(msg.error_code().unwrap_or(0)));
        }
        check_integrity(&msg, &self.remote_pwd)?;

        match self.state {
            State::Checking { .. } => {
                let next_check = now + self.rng.jitter(self.cfg.consent_interval);
                self.state = State::Connected {
                    last_response: now,
                    next_check,
                };
                self.events.push_back(IceEvent::Selected(self.remote));
            }
            State::Connected { next_check, .. } => {
                self.state = State::Connected {
                    last_response: now,
                    next_check,
                };
            }
            State::Failed(_) => {}
        }
        Ok(())
    }

    /// `(local ufrag, remote ufrag)`, from our USERNAME.
    fn ufrags(&self) -> (&[u8], &[u8]) {
        let (remote, colon_local) = self.username.split_at(self.remote_ufrag_len);
        (&colon_local[1..], remote)
    }

    /// Queues a response to the peer's check `msg` if it is authentic and from `remote`.
    fn answer_check(
        &mut self,
        from: SocketAddr,
        msg: &crate::stun::StunMessage<'_>,
    ) -> Result<(), IceError> {
        if from != self.remote {
            return Err(IceError::UnexpectedSource);
        }
        let username = msg.username().ok_or(IceError::MissingUsername)?;
        let (local_ufrag, remote_ufrag) = self.ufrags();
        if !username_is(username, local_ufrag, remote_ufrag) {
            return Err(IceError::WrongUsername);
        }
        check_integrity(msg, &self.local_pwd)?;
        if msg.ice_controlling().is_some() {
            return Err(IceError::RoleConflict);
        }
        if self.responses.len() == MAX_QUEUED_RESPONSES {
            self.responses.pop_front();
        }
        self.responses.push_back(msg.transaction_id());
        Ok(())
    }

    /// Writes the next queued response or check into `out` and says where to send it.
    ///
    /// `out` should hold [`super::MAX_TRANSMIT_LEN`] bytes; a datagram that does not fit is
    /// dropped.
    #[must_use]
    pub fn poll_transmit(&mut self, out: &mut [u8]) -> Option<Transmit> {
        while let Some(txid) = self.responses.pop_front() {
            if let Ok(len) = write_binding_success(out, &txid, self.remote, &self.local_pwd) {
                return Some(Transmit {
                    dst: self.remote,
                    len,
                });
            }
        }
        let txid = self.queued_check.take()?;
        let len = write_binding_request(
            out,
            &txid,
            &self.username,
            &self.remote_pwd,
            CHECK_PRIORITY,
            self.tiebreaker,
            true,
        )
        .ok()?;
        Some(Transmit {
            dst: self.remote,
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
        match self.state {
            State::Checking { next_check, .. } => {
                Some(next_check.min(self.created + self.cfg.connect_timeout))
            }
            State::Connected {
                last_response,
                next_check,
            } => Some(next_check.min(last_response + self.cfg.consent_timeout)),
            State::Failed(_) => None,
        }
    }

    /// Fires the timers due at `now`: failure deadlines first, then the next check.
    pub fn handle_timeout(&mut self, now: Instant) {
        match self.state {
            State::Checking { .. } if now >= self.created + self.cfg.connect_timeout => {
                self.fail(IceFailure::Timeout);
            }
            State::Checking {
                next_check,
                interval,
            } if now >= next_check => {
                let interval = (interval * 2).min(self.cfg.max_check_interval);
                self.state = State::Checking {
                    next_check: now + interval,
                    interval,
                };
                self.queue_check();
            }
            State::Connected { last_response, .. }
                if now >= last_response + self.cfg.consent_timeout =>
            {
                self.fail(IceFailure::ConsentExpired);
            }
            State::Connected {
                last_response,
                next_check,
            } if now >= next_check => {
                self.state = State::Connected {
                    last_response,
                    next_check: now + self.rng.jitter(self.cfg.consent_interval),
                };
                self.queue_check();
            }
            _ => {}
        }
    }

    fn fail(&mut self, failure: IceFailure) {
        self.state = State::Failed(failure);
        self.queued_check = None;
        self.responses.clear();
        self.events.push_back(IceEvent::Failed(failure));
    }

    /// The remote address, once a check to it was answered.
    pub fn selected(&self) -> Option<SocketAddr> {
        match self.state {
            State::Connected { .. } => Some(self.remote),
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
}
