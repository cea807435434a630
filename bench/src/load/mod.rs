//! `rtcdn-load`: a population of real WebRTC clients (ICE, DTLS, SRTP) that publish synthetic
//! media to a server and play it back, measuring throughput, loss, reordering, one-way latency,
//! join rate and the server's CPU and memory.
//!
//! Owns: the load run ([`run`]) and its parts: configuration ([`config`], [`units`]), the
//! signalling seam ([`signalling`], implemented by [`wcs`] and [`janus`]), errors ([`error`]),
//! synthetic media and receive accounting ([`media`], [`receiver`]), clients ([`peer`]), their
//! socket ([`link`]) and network impairment ([`impair`]), browser-like repair of what they
//! receive ([`nack`]) and frame/freeze accounting ([`freeze`]), the event loop ([`runner`]),
//! a publisher's copies of what it sent ([`sent_cache`]), `/proc` readings ([`procstat`]),
//! results ([`report`]) and the chart ([`svg`]); the churn soak ([`churn`]). Must not reach
//! into the server's internals: everything goes through the network and `/proc`, as for any
//! other server.

pub mod churn;
pub mod config;
pub mod error;
pub mod floor;
pub mod freeze;
pub mod histogram;
pub mod impair;
pub mod janus;
pub mod link;
pub mod media;
pub mod nack;
pub mod peer;
pub mod procstat;
pub mod receiver;
pub mod report;
pub mod runner;
pub mod sent_cache;
pub mod signalling;
pub mod svg;
pub mod units;
pub mod wcs;

pub use config::{LoadConfig, Verify};
pub use error::LoadError;
pub use media::epoch;
pub use report::{LoadReport, Sample, StepReport};
pub use signalling::{Signalling, TargetKind};
pub use units::{parse_bitrate, parse_duration};

/// Runs the load described by `cfg`; `progress` prints a refreshed line on stderr once a
/// second.
pub fn run(cfg: &LoadConfig, progress: bool) -> Result<LoadReport, LoadError> {
    cfg.validate().map_err(LoadError::Config)?;
    if cfg.churn.is_some() {
        return Err(LoadError::Config(
            "a churn run reports with churn::run, not run".into(),
        ));
    }
    if cfg.target == TargetKind::Floor {
        return floor::run(cfg, progress);
    }
    runner::Runner::new(cfg, progress)?.run()
}
