//! Why a load run could not go on ([`LoadError`]). A leaf: every part of the run reports through
//! it, so it must import none of them but the signalling seam's error.

use super::signalling::SignalError;

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
    Signal(#[from] SignalError),
    /// The server's answer or our DTLS setup was unusable.
    #[error("answer: {0}")]
    Answer(String),
    /// A publisher could not start: the run cannot measure anything.
    #[error("publisher: {0}")]
    Publisher(String),
}
