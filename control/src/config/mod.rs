//! Node configuration: `flashphoner.properties` (WCS keys we implement plus our own), with
//! defaults that run a single node on 127.0.0.1 with no file at all.
//!
//! Owns parsing and validation only; it must not start anything, bind sockets or read
//! environment variables. The command line (root crate `cli.rs`) overrides fields after
//! [`Config::load`] and then calls [`Config::validate`] again.
//!
//! The file is a Java properties file (ISO-8859-1, `\uXXXX` escapes, `\` continuation lines,
//! `=`, `:` or whitespace separators, `#`/`!` comments), read with the `java-properties`
//! crate so that line numbers survive for error messages. Keys we do not implement never stop
//! the node: they produce [`ConfigWarning`]s. Bad values of keys we do implement are errors
//! that name `file:line: key`.

mod cidr;
mod error;
mod keys;
mod model;
#[cfg(test)]
mod tests;
pub(crate) mod value;
pub(crate) mod warning;

pub use cidr::IpNet;
pub use error::ConfigError;
pub use model::{
    Config, RelaySecret, VideoCodec, DEFAULT_SHUTDOWN_GRACE_PERIOD, FILE_NAME, MAX_WORKER_THREADS,
};
pub use warning::{ConfigWarning, WarningKind};

use std::borrow::Cow;
use std::fs::File;
use std::io::{self, BufReader, Read};
use std::path::Path;

use java_properties::{LineContent, PropertiesIter};

use crate::cdn::config::StreamDistribution;

/// Why one of the TLS keys alone is refused.
const TLS_PAIR: &str = "tls_certificate and tls_private_key must be set together";

impl Config {
    /// Loads `<dir>/flashphoner.properties` over the defaults and validates the result.
    ///
    /// `None` means "no configuration directory": the defaults. A directory without the file
    /// is fine (defaults); a directory that does not exist is an [`ConfigError::Io`] error,
    /// because it was named explicitly. Unimplemented or unknown keys come back as warnings
    /// for the caller to log.
    pub fn load(dir: Option<&Path>) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let Some(dir) = dir else {
            let cfg = Config::default();
            cfg.validate()?;
            return Ok((cfg, Vec::new()));
        };
        let io_err = |source| ConfigError::Io {
            file: dir.to_path_buf(),
            source,
        };
        if !std::fs::metadata(dir).map_err(io_err)?.is_dir() {
            return Err(io_err(io::Error::other("not a directory")));
        }
        let path = dir.join(FILE_NAME);
        let (mut cfg, warnings) = match File::open(&path) {
            Ok(file) => Self::from_properties(&path, BufReader::new(file))?,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let cfg = Config::default();
                cfg.validate()?;
                (cfg, Vec::new())
            }
            Err(source) => return Err(ConfigError::Io { file: path, source }),
        };
        cfg.config_dir = Some(dir.to_path_buf());
        Ok((cfg, warnings))
    }

    /// Applies the properties read from `input` over the defaults and validates the result.
    ///
    /// `file` names the source in errors and warnings; a relative `web_dir` is resolved
    /// against its parent directory, and with `load_balancing_enabled=true` the
    /// `loadbalancing.xml` next to it is read. The bytes may be UTF-8 (a BOM is skipped) or, as Java
    /// reads properties, ISO-8859-1: input that is not valid UTF-8 is read as ISO-8859-1.
    pub fn from_properties(
        file: &Path,
        mut input: impl Read,
    ) -> Result<(Config, Vec<ConfigWarning>), ConfigError> {
        let mut bytes = Vec::new();
        input
            .read_to_end(&mut bytes)
            .map_err(|source| ConfigError::Io {
                file: file.to_path_buf(),
                source,
            })?;
        let text = decode(&bytes);
        let mut cfg = Config::default();
        let mut loader = keys::Loader::new(file);
        // Only valid UTF-8 reaches the crate's decoder: it panics on a truncated sequence
        // or an odd-length UTF-16 file at end of input (java-properties 2.0.0).
        for line in PropertiesIter::new_with_encoding(text.as_bytes(), encoding_rs::UTF_8) {
            let line = line.map_err(|e| error::from_properties_error(file, &e))?;
            let number = line.line_number();
            if let LineContent::KVPair(key, value) = line.consume_content() {
                loader.apply(&mut cfg, number, &key, &value)?;
            }
        }
        loader.finish(cfg)
    }

    /// Cross-field and range checks; run after the file and again after command-line
    /// overrides. Errors are [`ConfigError::Invalid`] naming the offending key.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let invalid = |key: &'static str, value: String, reason: String| {
            Err(ConfigError::Invalid { key, value, reason })
        };
        if self.ip.is_unspecified() || self.ip.is_multicast() {
            return invalid(
                keys::IP,
                self.ip.to_string(),
                "is not an address peers can reach (unspecified or multicast)".into(),
            );
        }
        // `ws.port` and `media_port_from` may be 0: the OS picks free ports (tests, several
        // nodes on one machine).
        match (&self.tls_certificate, &self.tls_private_key) {
            (Some(_), None) => {
                return invalid(keys::TLS_PRIVATE_KEY, String::new(), TLS_PAIR.into())
            }
            (None, Some(k)) => {
                return invalid(
                    keys::TLS_CERTIFICATE,
                    k.display().to_string(),
                    TLS_PAIR.into(),
                )
            }
            _ => {}
        }
        if self.wss_port.is_some_and(|p| p != 0 && p == self.ws_port) {
            return invalid(
                keys::WSS_PORT,
                self.ws_port.to_string(),
                "is ws.port: the TLS listener needs a port of its own".into(),
            );
        }
        if self.media_port_to == 0 {
            return invalid(keys::MEDIA_PORT_TO, "0".into(), keys::NOT_A_PORT.into());
        }
        if self.media_port_from > self.media_port_to {
            return invalid(
                keys::MEDIA_PORT_FROM,
                self.media_port_from.to_string(),
                format!("is above media_port_to ({})", self.media_port_to),
            );
        }
        if let (Some(min), Some(max)) = (self.webrtc_cc_min_bitrate, self.webrtc_cc_max_bitrate) {
            if min > max {
                return invalid(
                    keys::WEBRTC_CC_MIN_BITRATE,
                    min.to_string(),
                    format!("is above webrtc_cc_max_bitrate ({max})"),
                );
            }
        }
        if self.worker_threads == 0 || self.worker_threads > MAX_WORKER_THREADS {
            return invalid(
                keys::WORKER_THREADS,
                self.worker_threads.to_string(),
                keys::BAD_WORKER_THREADS.into(),
            );
        }
        let ports = usize::from(self.media_port_to - self.media_port_from) + 1;
        if self.media_port_from != 0 && ports < self.worker_threads {
            return invalid(
                keys::WORKER_THREADS,
                self.worker_threads.to_string(),
                format!(
                    "needs one media port per worker but media_port_from..media_port_to \
                     ({}-{}) holds only {ports}",
                    self.media_port_from, self.media_port_to
                ),
            );
        }
        let used = usize::from(self.media_port_from)
            ..usize::from(self.media_port_from) + self.worker_threads;
        if self.media_port_from != 0 && used.contains(&usize::from(self.ws_port)) {
            return invalid(
                keys::WS_PORT,
                self.ws_port.to_string(),
                format!(
                    "is also the media port of worker {}",
                    self.ws_port - self.media_port_from
                ),
            );
        }
        if self.video_codecs.is_empty() {
            return invalid(keys::CODECS, String::new(), keys::NO_VIDEO_CODEC.into());
        }
        for (key, d) in [
            (keys::KEEP_ALIVE_INTERVAL, self.keep_alive_interval),
            (keys::ICE_CONSENT_TIMEOUT, self.ice_consent_timeout),
            (keys::DTLS_HANDSHAKE_TIMEOUT, self.dtls_handshake_timeout),
        ] {
            if d.is_zero() {
                return invalid(key, "0".into(), keys::ZERO_MS.into());
            }
        }
        if self.keep_alive_probes == 0 {
            return invalid(keys::KEEP_ALIVE_PROBES, "0".into(), keys::ZERO_COUNT.into());
        }
        let rtp = self
            .load_balancing
            .as_ref()
            .is_some_and(|lb| lb.distribution == StreamDistribution::Rtp);
        if rtp && self.cdn_relay_secret.is_none() {
            return invalid(
                keys::CDN_RELAY_SECRET,
                String::new(),
                "must be set when loadbalancing.xml has stream_distribution=\"rtp\"".into(),
            );
        }
        if let Some(dir) = &self.web_dir {
            if !dir.is_dir() {
                return invalid(
                    keys::WEB_DIR,
                    dir.display().to_string(),
                    "is not a directory".into(),
                );
            }
        }
        Ok(())
    }
}

/// UTF-8 without its BOM when the bytes are valid UTF-8, else ISO-8859-1 (one char per byte).
fn decode(bytes: &[u8]) -> Cow<'_, str> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Cow::Borrowed(text),
        Err(_) => Cow::Owned(bytes.iter().map(|&b| char::from(b)).collect()),
    }
}
