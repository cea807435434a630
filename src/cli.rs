//! The `rtcdn` command line: where the configuration directory is, plus overrides for the
//! settings operators change most often.
//!
//! Owns argument parsing and applying overrides to a [`Config`]; it must not start anything.
//! Precedence: defaults < `flashphoner.properties` < command-line flags, and the result is
//! validated once more after the flags are applied.

use std::net::IpAddr;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use clap::Parser;
use control::config::{Config, ConfigWarning, FILE_NAME};

/// The configuration directory used when `--config-dir` is not given, if it exists.
pub const DEFAULT_CONFIG_DIR: &str = "conf";

/// A WebRTC SFU with WCS-compatible signalling.
#[derive(Clone, Debug, Default, PartialEq, Parser)]
#[command(name = "rtcdn", version, about)]
pub struct Cli {
    /// Directory holding flashphoner.properties [default: ./conf if it exists, else built-in
    /// defaults only]
    #[arg(long, value_name = "DIR")]
    pub config_dir: Option<PathBuf>,
    /// Address to bind and announce in SDP candidates (overrides `ip`)
    #[arg(long, value_name = "IP")]
    pub ip: Option<IpAddr>,
    /// Websocket signalling and HTTP port (overrides `ws.port`)
    #[arg(long, value_name = "PORT")]
    pub ws_port: Option<u16>,
    /// The same over TLS: wss signalling and https (overrides `wss.port`)
    #[arg(long, value_name = "PORT")]
    pub wss_port: Option<u16>,
    /// First media UDP port; worker i binds it plus i (overrides `media_port_from`)
    #[arg(long, value_name = "PORT")]
    pub media_port_from: Option<u16>,
    /// Last media UDP port of the range (overrides `media_port_to`)
    #[arg(long, value_name = "PORT")]
    pub media_port_to: Option<u16>,
    /// Number of data-plane worker threads (overrides `worker_threads`)
    #[arg(long, value_name = "N")]
    pub worker_threads: Option<usize>,
    /// Serve files from this directory before the embedded demo pages (overrides `web_dir`)
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Log lines as text or as one JSON object each (level, time, target, fields); the level
    /// filter is `RTCDN_LOG` (default info)
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// How log lines are written to stderr.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Text,
    /// One JSON object per line.
    Json,
}

impl Cli {
    /// The configuration directory: `--config-dir`, else `./conf` when it is a directory.
    pub fn config_dir(&self) -> Option<PathBuf> {
        self.config_dir.clone().or_else(|| {
            let dir = Path::new(DEFAULT_CONFIG_DIR);
            dir.is_dir().then(|| dir.to_path_buf())
        })
    }

    /// Overwrites the fields given on the command line.
    pub fn apply(&self, cfg: &mut Config) {
        if let Some(ip) = self.ip {
            cfg.ip = ip;
        }
        if let Some(port) = self.ws_port {
            cfg.ws_port = port;
        }
        if let Some(port) = self.wss_port {
            cfg.wss_port = Some(port);
        }
        if let Some(port) = self.media_port_from {
            cfg.media_port_from = port;
        }
        if let Some(port) = self.media_port_to {
            cfg.media_port_to = port;
        }
        if let Some(n) = self.worker_threads {
            cfg.worker_threads = n;
        }
        if let Some(dir) = &self.web_dir {
            cfg.web_dir = Some(dir.clone());
        }
    }

    /// Loads the file from [`Cli::config_dir`], applies the flags and validates the result.
    /// The warnings are for the caller to log.
    pub fn load_config(&self) -> anyhow::Result<(Config, Vec<ConfigWarning>)> {
        let dir = self.config_dir();
        let (mut cfg, warnings) = Config::load(dir.as_deref()).with_context(|| match &dir {
            Some(dir) => format!("cannot load {}", dir.join(FILE_NAME).display()),
            None => "invalid built-in configuration".to_string(),
        })?;
        self.apply(&mut cfg);
        cfg.validate()
            .context("invalid configuration after command-line overrides")?;
        Ok((cfg, warnings))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("rtcdn-cli-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        dir
    }

    #[test]
    fn parses_every_flag_and_applies_it() {
        let cli = Cli::try_parse_from([
            "rtcdn",
            "--config-dir",
            "/etc/rtcdn",
            "--ip",
            "192.0.2.7",
            "--ws-port",
            "9090",
            "--media-port-from",
            "40000",
            "--media-port-to",
            "40100",
            "--worker-threads",
            "3",
            "--web-dir",
            "/srv/www",
        ])
        .unwrap();
        assert_eq!(cli.config_dir(), Some(PathBuf::from("/etc/rtcdn")));
        let mut cfg = Config::default();
        cli.apply(&mut cfg);
        assert_eq!(cfg.ip, "192.0.2.7".parse::<IpAddr>().unwrap());
        assert_eq!(cfg.ws_port, 9090);
        assert_eq!((cfg.media_port_from, cfg.media_port_to), (40000, 40100));
        assert_eq!(cfg.worker_threads, 3);
        assert_eq!(cfg.web_dir, Some(PathBuf::from("/srv/www")));
    }

    #[test]
    fn no_flags_change_nothing() {
        let cli = Cli::try_parse_from(["rtcdn"]).unwrap();
        let mut cfg = Config::default();
        cli.apply(&mut cfg);
        assert_eq!(cfg, Config::default());
    }

    #[test]
    fn rejects_bad_flag_values() {
        for args in [
            ["rtcdn", "--ws-port", "80x0"],
            ["rtcdn", "--ws-port", "70000"],
            ["rtcdn", "--ip", "1.2.3"],
            ["rtcdn", "--worker-threads", "-1"],
            ["rtcdn", "--nope", "1"],
        ] {
            assert!(Cli::try_parse_from(args).is_err(), "{args:?}");
        }
    }

    #[test]
    fn flags_override_the_file_and_are_validated() {
        let dir = temp_dir("override");
        std::fs::write(
            dir.join(FILE_NAME),
            "ws.port=9000\nmedia_port_from=41000\nmedia_port_to=41999\nrtp_bundle=true\n",
        )
        .unwrap();
        let dir_arg = dir.to_str().unwrap();
        let cli =
            Cli::try_parse_from(["rtcdn", "--config-dir", dir_arg, "--ws-port", "9100"]).unwrap();
        let (cfg, warnings) = cli.load_config().unwrap();
        assert_eq!(cfg.ws_port, 9100);
        assert_eq!(cfg.media_port_from, 41000);
        assert_eq!(warnings.len(), 1);

        // From above the file's media_port_to: caught by validation after the overrides.
        let cli = Cli::try_parse_from([
            "rtcdn",
            "--config-dir",
            dir_arg,
            "--media-port-from",
            "42000",
        ])
        .unwrap();
        let err = format!("{:#}", cli.load_config().unwrap_err());
        assert!(err.contains("command-line overrides"), "{err}");
        assert!(err.contains("media_port_from: \"42000\""), "{err}");
    }

    #[test]
    fn file_errors_name_the_file() {
        let dir = temp_dir("bad");
        std::fs::write(dir.join(FILE_NAME), "\n\nws.port=80x0\n").unwrap();
        let cli = Cli {
            config_dir: Some(dir.clone()),
            ..Cli::default()
        };
        let err = format!("{:#}", cli.load_config().unwrap_err());
        assert!(
            err.contains("flashphoner.properties:3: ws.port: \"80x0\" is not a port number"),
            "{err}"
        );
    }
}
