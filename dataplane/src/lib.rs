//! rtcdn data plane.
//!
//! Owns the media path: N worker threads, each with its own mio `Poll` and UDP socket. Every
//! protocol (STUN/ICE-lite, DTLS, SRTP, RTP/RTCP) is a sans-IO state machine in its own module
//! that takes `now: Instant` as an argument; only [`worker`] touches sockets, the clock and the
//! poller. The control plane talks to workers only through [`api`] (commands in, events out)
//! and never blocks them.

pub mod api;
pub mod demux;
pub mod dtls;
pub mod ice;
pub mod rtcp;
pub mod rtp;
pub mod srtp;
pub mod stun;
