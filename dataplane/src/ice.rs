//! ICE for one peer connection: the ICE-lite responder we run as a server ([`IceLite`]) and
//! the controlling agent that connects to it ([`IceControlling`], used by the test client, the
//! load generator and the origin→edge relay).
//!
//! Both are sans-IO state machines sharing one vocabulary. The owner feeds datagrams already
//! classified as STUN to `handle_input`, then drains in this order: `poll_transmit` until
//! `None`, `poll_event` until `None`, and finally reads `poll_timeout` and calls
//! `handle_timeout` when that instant is reached. Any call that mutates (`handle_input`,
//! `handle_timeout`) may queue transmits and events, so drain after each one. Time is always
//! passed in; nothing here reads the clock, touches a socket or allocates per packet (the two
//! small queues reuse their capacity).
//!
//! This module owns credentials checks, address validation, nomination and the consent timers
//! (RFC 8445, RFC 7675). It does not own the wire format (that is [`crate::stun`]) nor the
//! routing of datagrams to peers (the worker).

#![forbid(unsafe_code)]

mod controlling;
mod lite;

#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_consent;

use std::net::SocketAddr;
use std::time::Duration;

use crate::stun::{StunError, StunMessage};
pub use crate::transmit::Transmit;

pub use controlling::IceControlling;
pub use lite::{IceLite, MAX_VALIDATED};

/// Priority our controlling agent puts in its checks: a host candidate of component 1
/// (type preference 126, local preference 65535, RFC 8445 §5.1.2.1).
pub const CHECK_PRIORITY: u32 = (126 << 24) | (65535 << 8) | (256 - 1);

/// A buffer of this size always holds any message either agent writes (a check with the
/// longest USERNAME RFC 5389 allows).
pub const MAX_TRANSMIT_LEN: usize = 600;

/// Upper bound of queued, not yet transmitted responses; the oldest is dropped beyond it (the
/// sender retransmits its check).
const MAX_QUEUED_RESPONSES: usize = 8;

/// Timers and intervals of both agents.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IceConfig {
    /// Fail with [`IceFailure::Timeout`] when not connected this long after creation.
    pub connect_timeout: Duration,
    /// Fail with [`IceFailure::ConsentExpired`] when the selected path was silent this long
    /// (RFC 7675).
    pub consent_timeout: Duration,
    /// Controlling agent: first interval between checks before connecting; it doubles after
    /// each check up to `max_check_interval`.
    pub check_interval: Duration,
    /// Controlling agent: longest interval between checks before connecting.
    pub max_check_interval: Duration,
    /// Controlling agent: mean interval of consent checks once connected; each interval is
    /// randomised to 0.8–1.2 of it (RFC 7675 §5.1).
    pub consent_interval: Duration,
}

impl Default for IceConfig {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_secs(30),
            consent_timeout: Duration::from_secs(30),
            check_interval: Duration::from_millis(50),
            max_check_interval: Duration::from_millis(500),
            consent_interval: Duration::from_secs(2),
        }
    }
}

/// Why an agent gave up. After it, the agent ignores all input.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IceFailure {
    /// Never connected within [`IceConfig::connect_timeout`].
    Timeout,
    /// The selected path went silent for [`IceConfig::consent_timeout`].
    ConsentExpired,
}

/// What an agent reports to its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum IceEvent {
    /// Media goes to (and is accepted from) this address from now on. Emitted again when the
    /// selection switches.
    Selected(SocketAddr),
    /// A validated address is no longer remembered (a newer one took its place): nothing is
    /// accepted from it any more.
    Forgotten(SocketAddr),
    /// The agent failed; no further events follow.
    Failed(IceFailure),
}

/// Why a STUN datagram was rejected. The agent's state is unchanged and nothing is queued.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum IceError {
    /// Not a well-formed STUN message.
    #[error("malformed STUN: {0}")]
    Stun(#[from] StunError),
    /// A FINGERPRINT attribute is present and wrong.
    #[error("bad FINGERPRINT")]
    BadFingerprint,
    /// A well-formed message this agent does not handle (wrong class or method).
    #[error("unexpected STUN message")]
    Unexpected,
    /// A check without USERNAME.
    #[error("missing USERNAME")]
    MissingUsername,
    /// A check whose USERNAME is not `<our ufrag>:<their ufrag>`.
    #[error("wrong USERNAME")]
    WrongUsername,
    /// A check or response without MESSAGE-INTEGRITY.
    #[error("missing MESSAGE-INTEGRITY")]
    MissingIntegrity,
    /// MESSAGE-INTEGRITY does not verify with the expected password.
    #[error("bad MESSAGE-INTEGRITY")]
    BadIntegrity,
    /// The check claims our role (ICE-CONTROLLED towards a lite agent).
    #[error("role conflict")]
    RoleConflict,
    /// A response to no check we sent recently.
    #[error("unknown transaction")]
    UnknownTransaction,
    /// A response from another address than the one the check went to.
    #[error("response from an unexpected address")]
    UnexpectedSource,
    /// An authenticated error response to one of our checks, with its code.
    #[error("error response {0}")]
    ErrorResponse(u16),
    /// The agent has failed and ignores input.
    #[error("ICE agent has failed")]
    Failed,
}

/// Parses `buf` and rejects it when a FINGERPRINT is present and wrong.
fn parse_checked(buf: &[u8]) -> Result<StunMessage<'_>, IceError> {
    let msg = StunMessage::parse(buf)?;
    if msg.has_fingerprint() && !msg.verify_fingerprint() {
        return Err(IceError::BadFingerprint);
    }
    Ok(msg)
}

/// True when `username` is exactly `<first>:<second>`.
fn username_is(username: &[u8], first: &[u8], second: &[u8]) -> bool {
    username.len() == first.len() + 1 + second.len()
        && username.starts_with(first)
        && username[first.len()] == b':'
        && username.ends_with(second)
}

/// Verifies MESSAGE-INTEGRITY of `msg` with `key`.
fn check_integrity(msg: &StunMessage<'_>, key: &[u8]) -> Result<(), IceError> {
    if !msg.has_integrity() {
        return Err(IceError::MissingIntegrity);
    }
    if !msg.verify_integrity(key) {
        return Err(IceError::BadIntegrity);
    }
    Ok(())
}
