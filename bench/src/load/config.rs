//! What one load run does ([`LoadConfig`]) and the parser of `--verify` (`all`, `sample:10`).
//!
//! Owns: configuration values and their validation. Must not touch sockets.

use std::time::Duration;

use super::churn::spec::ChurnSpec;
use super::impair::ImpairConfig;
use super::nack::NackConfig;
use super::signalling::TargetKind;

/// How many received packets have their SRTP authentication checked and payload decrypted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Verify {
    /// Every packet.
    All,
    /// Every Nth packet per subscriber; the others are counted from their clear RTP header.
    Sample(u32),
}

impl Verify {
    /// Parses `all` or `sample:N` (N ≥ 1).
    pub fn parse(s: &str) -> Result<Verify, String> {
        if s == "all" {
            return Ok(Verify::All);
        }
        let n = s
            .strip_prefix("sample:")
            .ok_or_else(|| format!("expected all or sample:N, got {s:?}"))?;
        match n.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(Verify::Sample(n)),
            _ => Err(format!("bad sample rate {n:?}")),
        }
    }

    /// Whether the `n`-th packet (0-based) of a subscriber is verified.
    pub fn checks(self, n: u64) -> bool {
        match self {
            Verify::All => true,
            Verify::Sample(k) => n.is_multiple_of(u64::from(k)),
        }
    }
}

/// A whole load run.
#[derive(Clone, Debug, serde::Serialize)]
pub struct LoadConfig {
    /// Which server API.
    pub target: TargetKind,
    /// `ws://host:port` of the server (publishers, and subscribers unless `play_server`).
    pub server: String,
    /// Where subscribers play, if not `server` (an edge of a CDN whose origin is `server`).
    pub play_server: Option<String>,
    /// Publishers (each publishes its own stream `load-<i>`).
    pub publishers: usize,
    /// Subscribers in total (spread round-robin over the publishers' streams).
    pub subscribers: usize,
    /// Measuring time of each step.
    #[serde(serialize_with = "secs")]
    pub duration: Duration,
    /// Bits per second of each publisher, audio included.
    pub bitrate: u64,
    /// Maximal plain RTP packet size of video.
    pub packet_size: usize,
    /// SRTP verification of received packets.
    pub verify: Verify,
    /// The server processes whose CPU and memory are measured (summed), e.g. origin and edge.
    pub server_pids: Vec<u32>,
    /// Add this many subscribers per step (`None`: all at once, one step).
    pub ramp: Option<usize>,
    /// How long joins may take before a client counts as failed.
    #[serde(serialize_with = "secs")]
    pub join_timeout: Duration,
    /// Subscribers signalling at the same time (threads); 1 joins one after the other.
    pub join_parallel: usize,
    /// What every client does to the datagrams it sends and receives (none by default).
    pub impair: ImpairConfig,
    /// When subscribers NACK again and give up (`max_retries` 0: they never NACK).
    pub nack: NackConfig,
    /// A subscriber completing no video frame for longer than this is frozen.
    #[serde(serialize_with = "secs")]
    pub freeze_threshold: Duration,
    /// A churn soak instead of a measurement (`super::churn::run`): `subscribers` is the
    /// steady viewer population, `duration` the whole churn.
    pub churn: Option<ChurnSpec>,
}

fn secs<S: serde::Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_f64(d.as_secs_f64())
}

impl LoadConfig {
    /// A configuration with the defaults of the CLI.
    pub fn new(server: &str) -> Self {
        LoadConfig {
            target: TargetKind::Wcs,
            server: server.to_owned(),
            play_server: None,
            publishers: 1,
            subscribers: 50,
            duration: Duration::from_secs(10),
            bitrate: 1_000_000,
            packet_size: 1200,
            verify: Verify::All,
            server_pids: Vec::new(),
            ramp: None,
            join_timeout: Duration::from_secs(15),
            join_parallel: 1,
            impair: ImpairConfig::default(),
            nack: NackConfig::default(),
            freeze_threshold: Duration::from_millis(500),
            churn: None,
        }
    }

    /// The subscriber count of each step: `K, 2K, …, subscribers` with a ramp, else one step.
    pub fn steps(&self) -> Vec<usize> {
        match self.ramp {
            Some(k) if k > 0 && k < self.subscribers => {
                let mut v: Vec<usize> = (1..)
                    .map(|i| i * k)
                    .take_while(|&n| n < self.subscribers)
                    .collect();
                v.push(self.subscribers);
                v
            }
            _ => vec![self.subscribers],
        }
    }

    /// Rejects values the run cannot work with.
    pub fn validate(&self) -> Result<(), String> {
        if self.publishers == 0 {
            return Err("at least one publisher is needed".into());
        }
        if !(100..=1400).contains(&self.packet_size) {
            return Err(format!(
                "packet size {} not in 100..=1400",
                self.packet_size
            ));
        }
        if self.bitrate < 64_000 {
            return Err(format!("bitrate {} below 64 kbps", self.bitrate));
        }
        if self.duration.is_zero() {
            return Err("duration must be positive".into());
        }
        if !(1..=256).contains(&self.join_parallel) {
            return Err(format!(
                "join parallelism {} not in 1..=256",
                self.join_parallel
            ));
        }
        if self.impair.queue == 0 {
            return Err("the impairment queue needs room for at least one datagram".into());
        }
        if self.nack.interval.is_zero() || self.freeze_threshold.is_zero() {
            return Err("the NACK interval and the freeze threshold must be positive".into());
        }
        let impaired = !(self.impair.send.is_none() && self.impair.recv.is_none());
        if impaired && self.target == TargetKind::Floor {
            return Err("the floor target has no impairment (nor repair)".into());
        }
        if self.play_server.is_some() && self.target != TargetKind::Wcs {
            return Err("a play server (an edge) needs the wcs target".into());
        }
        if self.churn.is_some() {
            if self.target != TargetKind::Wcs {
                return Err("churn needs the wcs target".into());
            }
            if self.ramp.is_some() {
                return Err("churn and a ramp do not go together".into());
            }
            if self.subscribers == 0 {
                return Err("churn needs a viewer population (--subscribers)".into());
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_modes() {
        assert_eq!(Verify::parse("all"), Ok(Verify::All));
        assert_eq!(Verify::parse("sample:10"), Ok(Verify::Sample(10)));
        assert!(Verify::parse("sample:0").is_err());
        assert!(Verify::parse("some").is_err());
        let s = Verify::Sample(3);
        assert_eq!((0..9).filter(|&n| s.checks(n)).count(), 3);
        assert!((0..9).all(|n| Verify::All.checks(n)));
    }

    #[test]
    fn ramp_steps() {
        let mut c = LoadConfig::new("ws://x:1");
        c.subscribers = 50;
        assert_eq!(c.steps(), vec![50]);
        c.ramp = Some(20);
        assert_eq!(c.steps(), vec![20, 40, 50]);
        c.ramp = Some(25);
        assert_eq!(c.steps(), vec![25, 50]);
        c.ramp = Some(0);
        assert_eq!(c.steps(), vec![50]);
        assert!(c.validate().is_ok());
        c.packet_size = 20;
        assert!(c.validate().is_err());
    }
}
