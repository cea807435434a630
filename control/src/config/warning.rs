//! Warnings of configuration loading: what was ignored or overridden while the node still
//! starts. A leaf: both `flashphoner.properties` ([`super`]) and `loadbalancing.xml`
//! (`crate::cdn::config`) report through it, so it must not import either of them.

use std::fmt;
use std::path::PathBuf;

/// Something in the file that was ignored or overridden; the node still starts.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigWarning {
    /// The file.
    pub file: PathBuf,
    /// 1-based line.
    pub line: usize,
    /// The key as written.
    pub key: String,
    /// What happened.
    pub kind: WarningKind,
}

/// The kinds of [`ConfigWarning`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum WarningKind {
    /// A WCS setting that rtcdn recognises but does not implement (yet).
    NotImplemented,
    /// Neither one of our keys nor a WCS setting we know of (a typo?).
    Unknown,
    /// The key was already set on `previous_line`; this later value wins.
    Duplicate {
        /// Where the overridden value was.
        previous_line: usize,
    },
    /// An implemented key with an empty value: the default is kept.
    EmptyValue,
    /// A name in `codecs` that is neither a codec rtcdn forwards nor a WCS codec name we know.
    UnknownCodec(String),
    /// `codecs` does not list `opus`: rtcdn forwards Opus audio regardless.
    NoOpus,
    /// A value of a recognised key that rtcdn does not implement; the default behaviour is kept.
    UnsupportedValue(String),
}

impl fmt::Display for WarningKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::NotImplemented => f.write_str("WCS setting not implemented by rtcdn; ignored"),
            Self::Unknown => f.write_str("unknown setting; ignored"),
            Self::Duplicate { previous_line } => {
                write!(f, "also set on line {previous_line}; this later value wins")
            }
            Self::EmptyValue => f.write_str("empty value; the default is kept"),
            Self::UnknownCodec(name) => write!(f, "codec {name:?} is not known; ignored"),
            Self::NoOpus => f.write_str("opus is not listed; rtcdn forwards Opus audio regardless"),
            Self::UnsupportedValue(value) => {
                write!(f, "value {value:?} is not implemented; the default is used")
            }
        }
    }
}

impl fmt::Display for ConfigWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}: {}: {}",
            self.file.display(),
            self.line,
            self.key,
            self.kind
        )
    }
}
