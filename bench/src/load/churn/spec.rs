//! What a churn run does ([`ChurnSpec`]) and its parser: `--churn
//! joins=20/s,leaves=20/s,publisher-restart=30s,vanish=10%,settle=20s,sample=2s`.
//!
//! Owns: the churn options and their validation. A leaf: must not touch sockets or the clock.

use std::time::Duration;

use super::super::units::parse_duration;

/// Why a churn spec was refused.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ChurnSpecError {
    /// An item is not `key=value`.
    #[error("churn item {0:?} is not key=value")]
    NotKeyValue(String),
    /// An unknown key.
    #[error("unknown churn key {0:?} (joins, leaves, publisher-restart, vanish, settle, sample)")]
    UnknownKey(String),
    /// A value that does not fit its key.
    #[error("bad churn value {value:?} for {key}")]
    BadValue {
        /// The key.
        key: String,
        /// The value given.
        value: String,
    },
}

/// The churn of a run around its steady viewer population (`--subscribers`).
#[derive(Clone, Copy, Debug, PartialEq, serde::Serialize)]
pub struct ChurnSpec {
    /// New viewers per second (each a new websocket, `playStream`, ICE, DTLS, SRTP).
    pub joins_per_s: f64,
    /// Viewers leaving per second, once the population has been reached.
    pub leaves_per_s: f64,
    /// Every publisher unpublishes and publishes again this often (`None`: never).
    #[serde(serialize_with = "opt_secs")]
    pub publisher_restart: Option<Duration>,
    /// Share of the leaves, in percent, that vanish without a word (UDP socket dropped,
    /// websocket left open and unanswered) instead of `stopStream` and a websocket close.
    pub vanish_pct: f64,
    /// After the last client left: how long to wait before the final reading (longer than the
    /// server's `ice_consent_timeout` and websocket keep-alive expiry).
    #[serde(serialize_with = "secs")]
    pub settle: Duration,
    /// How often the server processes are sampled.
    #[serde(serialize_with = "secs")]
    pub sample: Duration,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

fn opt_secs<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => s.serialize_f64(d.as_secs_f64()),
        None => s.serialize_none(),
    }
}

impl Default for ChurnSpec {
    /// The soak: 20 joins and 20 leaves a second, publishers restarting every 30 s,
    /// one leave in ten vanishing; 20 s of settling, a sample every 2 s.
    fn default() -> Self {
        ChurnSpec {
            joins_per_s: 20.0,
            leaves_per_s: 20.0,
            publisher_restart: Some(Duration::from_secs(30)),
            vanish_pct: 10.0,
            settle: Duration::from_secs(20),
            sample: Duration::from_secs(2),
        }
    }
}

impl ChurnSpec {
    /// Parses `key=value` items separated by commas, any subset and order, over
    /// [`ChurnSpec::default`]: `joins=20/s` (or `joins=20`), `leaves=20/s`,
    /// `publisher-restart=30s` (`off` or `0`: never), `vanish=10%`, `settle=20s`, `sample=2s`.
    pub fn parse(s: &str) -> Result<ChurnSpec, ChurnSpecError> {
        let mut spec = ChurnSpec::default();
        for item in s.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            let (key, value) = item
                .split_once('=')
                .ok_or_else(|| ChurnSpecError::NotKeyValue(item.to_owned()))?;
            let (key, value) = (key.trim(), value.trim());
            let bad = || ChurnSpecError::BadValue {
                key: key.to_owned(),
                value: value.to_owned(),
            };
            let rate = || {
                value
                    .trim_end_matches("/s")
                    .parse::<f64>()
                    .ok()
                    .filter(|r| r.is_finite() && (0.0..=10_000.0).contains(r))
                    .ok_or_else(bad)
            };
            let dur = || parse_duration(value).map_err(|_| bad());
            match key {
                "joins" => spec.joins_per_s = rate()?,
                "leaves" => spec.leaves_per_s = rate()?,
                "publisher-restart" | "publisher_restart" | "restart" => {
                    spec.publisher_restart = match value {
                        "off" | "never" => None,
                        _ => Some(dur()?).filter(|d| !d.is_zero()),
                    }
                }
                "vanish" => {
                    spec.vanish_pct = value
                        .trim_end_matches('%')
                        .parse::<f64>()
                        .ok()
                        .filter(|p| (0.0..=100.0).contains(p))
                        .ok_or_else(bad)?
                }
                "settle" => spec.settle = dur()?,
                "sample" => spec.sample = dur()?.max(Duration::from_millis(100)),
                _ => return Err(ChurnSpecError::UnknownKey(key.to_owned())),
            }
        }
        if spec.joins_per_s <= 0.0 {
            return Err(ChurnSpecError::BadValue {
                key: "joins".into(),
                value: "0".into(),
            });
        }
        Ok(spec)
    }

    /// The interval between two joins.
    pub fn join_interval(&self) -> Duration {
        Duration::from_secs_f64(1.0 / self.joins_per_s)
    }

    /// The interval between two leaves (`None`: nobody leaves before the end).
    pub fn leave_interval(&self) -> Option<Duration> {
        (self.leaves_per_s > 0.0).then(|| Duration::from_secs_f64(1.0 / self.leaves_per_s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_soak_and_defaults() {
        let s =
            ChurnSpec::parse("joins=20/s,leaves=20/s,publisher-restart=30s,vanish=10%").unwrap();
        assert_eq!(s, ChurnSpec::default());
        assert_eq!(s.join_interval(), Duration::from_millis(50));
        assert_eq!(s.leave_interval(), Some(Duration::from_millis(50)));
        assert_eq!(ChurnSpec::parse("").unwrap(), ChurnSpec::default());
    }

    #[test]
    fn parses_every_key() {
        let s = ChurnSpec::parse(
            " joins=4 , leaves=0/s, restart=off, vanish=25, settle=8s, sample=500ms",
        )
        .unwrap();
        assert_eq!(s.joins_per_s, 4.0);
        assert_eq!(s.leave_interval(), None);
        assert_eq!(s.publisher_restart, None);
        assert_eq!(s.vanish_pct, 25.0);
        assert_eq!(s.settle, Duration::from_secs(8));
        assert_eq!(s.sample, Duration::from_millis(500));
        let s = ChurnSpec::parse("publisher_restart=0,sample=1ms").unwrap();
        assert_eq!(s.publisher_restart, None);
        assert_eq!(s.sample, Duration::from_millis(100), "sampling floor");
    }

    #[test]
    fn refuses_bad_items() {
        for (text, key) in [
            ("joins=0", "joins"),
            ("joins=-1", "joins"),
            ("leaves=lots", "leaves"),
            ("vanish=120%", "vanish"),
            ("settle=forever", "settle"),
        ] {
            match ChurnSpec::parse(text) {
                Err(ChurnSpecError::BadValue { key: k, .. }) => assert_eq!(k, key, "{text}"),
                other => panic!("{text}: {other:?}"),
            }
        }
        assert!(matches!(
            ChurnSpec::parse("joins"),
            Err(ChurnSpecError::NotKeyValue(_))
        ));
        assert!(matches!(
            ChurnSpec::parse("speed=3"),
            Err(ChurnSpecError::UnknownKey(_))
        ));
    }
}
