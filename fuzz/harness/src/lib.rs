//! What each rtcdn fuzz target does with one input: the parse entry points a hostile network
//! peer or a broken configuration file reaches, and the structured work that follows them in
//! the server (an RTCP compound's feedback fed to a viewer's congestion control, an SDP offer
//! answered, a publisher's packets forwarded to a viewer, ...).
//!
//! Owns only the drivers; every parser and state machine driven here is the production code
//! of `dataplane` and `control`, called through their public API. Shared by the cargo-fuzz
//! targets (`fuzz/fuzz_targets/*.rs`, nightly) and the stable replay test
//! (`tests/replay.rs`), which runs every committed corpus and regression input through
//! [`TARGETS`] so the corpora stay valid and fixed crashes stay fixed. Must not open sockets,
//! spawn threads or read the clock (time is a fixed base instant plus what the input says),
//! and writes no files.
//!
//! A driver panics only when the code under test breaks one of its own promises: a parser
//! panicking, or our own output (a STUN response, an RTCP report, a forwarded RTP packet, an
//! SDP answer) failing to parse.

pub mod records;
pub mod seeds;

mod clock;
mod config;
mod dtls;
mod rtcp;
mod rtp;
mod sdp;
mod stun;
mod wcs;
mod world;

/// One fuzz target: its name (the cargo-fuzz target, and its directories under
/// `fuzz/corpus/` and `fuzz/regressions/`) and what it does with one input.
#[derive(Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub run: fn(&[u8]),
}

/// Every target, in the order the README lists them.
pub const TARGETS: &[Target] = &[
    Target {
        name: "stun",
        run: stun::run,
    },
    Target {
        name: "rtp",
        run: rtp::run,
    },
    Target {
        name: "rtcp",
        run: rtcp::run,
    },
    Target {
        name: "dtls",
        run: dtls::run,
    },
    Target {
        name: "sdp",
        run: sdp::run,
    },
    Target {
        name: "wcs",
        run: wcs::run,
    },
    Target {
        name: "properties",
        run: properties,
    },
    Target {
        name: "loadbalancing",
        run: loadbalancing,
    },
];

/// The target named `name`.
pub fn target(name: &str) -> Option<Target> {
    TARGETS.iter().copied().find(|t| t.name == name)
}

pub use config::{loadbalancing, properties};
pub use dtls::run as dtls;
pub use rtcp::run as rtcp;
pub use rtp::run as rtp;
pub use sdp::run as sdp;
pub use stun::run as stun;
pub use wcs::run as wcs;
