//! `rtcdn-load`: a population of real WebRTC clients (ICE, DTLS, SRTP) that publish synthetic
//! media to a server and play it back, measuring throughput, loss, reordering, one-way latency,
//! join rate and the server's CPU and memory.
//!
//! Owns: the load run ([`run`]) and its parts: configuration ([`config`]), signalling seam
//! ([`signalling`]), synthetic media and receive accounting ([`media`]), clients ([`peer`]),
//! the event loop ([`runner`]), `/proc` readings ([`procstat`]), results ([`report`]) and the
//! chart ([`svg`]). Must not reach into the server's internals: everything goes through the
//! network and `/proc`, as for any other server.

pub mod config;
pub mod floor;
pub mod histogram;
pub mod janus;
pub mod media;
pub mod peer;
pub mod procstat;
pub mod report;
pub mod runner;
pub mod signalling;
pub mod svg;

use std::sync::OnceLock;
use std::time::Instant;

pub use config::{parse_bitrate, parse_duration, LoadConfig, Verify};
pub use report::{LoadReport, Sample, StepReport};
pub use signalling::{Signalling, TargetKind};

/// Why a run could not go on.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The configuration is unusable.
    #[error("configuration: {0}")]
    Config(String),
    /// A socket or poll call failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// Signalling failed.
    #[error("signalling: {0}")]
    Signal(#[from] signalling::SignalError),
    /// The server's answer or our DTLS setup was unusable.
    #[error("answer: {0}")]
    Answer(String),
    /// A publisher could not start: the run cannot measure anything.
    #[error("publisher: {0}")]
    Publisher(String),
}

/// The process-wide time origin of the send timestamps in payloads.
pub fn epoch() -> Instant {
    static EPOCH: OnceLock<Instant> = OnceLock::new();
    *EPOCH.get_or_init(Instant::now)
}

/// Runs the load described by `cfg`; `progress` prints a refreshed line on stderr once a
/// second.
pub fn run(cfg: &LoadConfig, progress: bool) -> Result<LoadReport, LoadError> {
    cfg.validate().map_err(LoadError::Config)?;
    if cfg.target == TargetKind::Floor {
        return floor::run(cfg, progress);
    }
    runner::Runner::new(cfg, progress)?.run()
}
