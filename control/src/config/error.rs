//! Errors of configuration loading (warnings are [`super::warning`]). Every message names where
//! the problem is (`file:line: key`) so an operator can fix it without reading code.

use std::io;
use std::path::{Path, PathBuf};

/// Why the configuration cannot be used. The node must not start with it.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The configuration directory or file could not be read.
    #[error("{}: {source}", file.display())]
    Io {
        /// The directory or file that failed.
        file: PathBuf,
        /// The underlying error.
        source: io::Error,
    },
    /// The file is not a valid properties file (e.g. a broken `\u` escape).
    #[error("{}:{}: {reason}", file.display(), line.map_or_else(|| "?".to_string(), |l| l.to_string()))]
    Syntax {
        /// The file.
        file: PathBuf,
        /// 1-based line, when the parser knows it.
        line: Option<usize>,
        /// What the parser reported.
        reason: String,
    },
    /// A key we implement has a value we cannot use.
    #[error("{}:{line}: {key}: {value:?} {reason}", file.display())]
    BadValue {
        /// The file.
        file: PathBuf,
        /// 1-based line of the key (the first line of a continued value).
        line: usize,
        /// The key as written.
        key: String,
        /// The value as written (after unescaping, trimmed).
        value: String,
        /// What is wrong, phrased to follow the quoted value ("is not a port number").
        reason: String,
    },
    /// `loadbalancing.xml` cannot be used.
    #[error(transparent)]
    LoadBalancing(#[from] crate::cdn::config::LbConfigError),
    /// A field is out of range or inconsistent with another one; from [`super::Config::validate`]
    /// when the value did not come from a file line (defaults or command line).
    #[error("{key}: {value:?} {reason}")]
    Invalid {
        /// The properties key of the field.
        key: &'static str,
        /// The field's value.
        value: String,
        /// What is wrong, phrased to follow the quoted value.
        reason: String,
    },
}

/// Converts a `java-properties` error: I/O errors stay I/O errors, the rest are syntax errors.
pub(super) fn from_properties_error(
    file: &Path,
    e: &java_properties::PropertiesError,
) -> ConfigError {
    use std::error::Error as _;
    let text = e.to_string();
    // The crate appends " (line_number = N)"; we print the line our own way.
    let reason = text
        .split(" (line_number")
        .next()
        .unwrap_or(&text)
        .to_string();
    match e.source().and_then(|s| s.downcast_ref::<io::Error>()) {
        Some(io) if e.line_number().is_none() => ConfigError::Io {
            file: file.to_path_buf(),
            source: io::Error::new(io.kind(), reason),
        },
        _ => ConfigError::Syntax {
            file: file.to_path_buf(),
            line: e.line_number(),
            reason,
        },
    }
}
