//! `rtcdn-load`: the load generator's command line (see `bench/README.md`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use bench::load::churn::{self, ChurnSpec};
use bench::load::impair::{ImpairConfig, ImpairSpec, DEFAULT_QUEUE};
use bench::load::nack::NackConfig;
use bench::load::{self, parse_bitrate, parse_duration, LoadConfig, TargetKind, Verify};
use clap::Parser;

/// A population of real WebRTC clients publishing and playing through a server.
#[derive(Parser, Debug)]
#[command(name = "rtcdn-load", version)]
struct Args {
    /// Server URL: `ws://host:port` (wcs), `http://host:port/janus` (janus), `udp://host:port`
    /// (floor).
    #[arg(long, default_value = "ws://127.0.0.1:8080")]
    server: String,
    /// Server API: wcs (rtcdn, WCS), janus (VideoRoom, `http://host:8088/janus`) or floor
    /// (`rtcdn-floor`, `udp://host:port`).
    #[arg(long, default_value = "wcs", value_parser = parse_target)]
    target: TargetKind,
    /// Publishers, each with its own stream.
    #[arg(long, default_value_t = 1)]
    publishers: usize,
    /// Subscribers in total, spread over the publishers' streams.
    #[arg(long, default_value_t = 50)]
    subscribers: usize,
    /// Measuring time (of each ramp step): 10s, 500ms, 2m.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    duration: Duration,
    /// Bitrate of each publisher, audio included: 1000kbps, 2mbps.
    #[arg(long, default_value = "1000kbps", value_parser = parse_bitrate)]
    bitrate: u64,
    /// Largest plain RTP packet of video, bytes.
    #[arg(long, default_value_t = 1200)]
    packet_size: usize,
    /// SRTP authentication of received packets: all or sample:N.
    #[arg(long, default_value = "all", value_parser = Verify::parse)]
    verify: Verify,
    /// Where subscribers play, if not `--server`: an edge of the CDN whose origin is
    /// `--server` (wcs only).
    #[arg(long)]
    play_server: Option<String>,
    /// A server process's pid, for CPU and memory figures; repeat it to sum several (origin
    /// and edge).
    #[arg(long)]
    server_pid: Vec<u32>,
    /// Add this many subscribers per step and measure each step.
    #[arg(long)]
    ramp: Option<usize>,
    /// How long a join may take until its first media packet.
    #[arg(long, default_value = "15s", value_parser = parse_duration)]
    join_timeout: Duration,
    /// Subscribers signalling at the same time (each in its own thread; ICE, DTLS and media
    /// stay on the one event loop).
    #[arg(long, default_value_t = 1)]
    join_parallel: usize,
    /// Impairment every client applies to what it sends and receives:
    /// `loss=5,delay=20ms,jitter=5ms,reorder=1,reorder_delay=10ms` (any subset; loss and
    /// reorder in percent; jitter is uniform, delay ± jitter).
    #[arg(long, value_parser = parse_impair)]
    impair: Option<ImpairSpec>,
    /// Impairment of what clients send only (replaces `--impair` for that direction).
    #[arg(long, value_parser = parse_impair)]
    impair_send: Option<ImpairSpec>,
    /// Impairment of what clients receive only (replaces `--impair` for that direction).
    #[arg(long, value_parser = parse_impair)]
    impair_recv: Option<ImpairSpec>,
    /// Seed of the impairments' generators: the same seed repeats the same drop pattern for
    /// the same datagrams.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Held (delayed) datagrams per client and direction at most; more are dropped and
    /// counted as overflow.
    #[arg(long, default_value_t = DEFAULT_QUEUE)]
    impair_queue: usize,
    /// Subscribers ask again for a missing packet after this long.
    #[arg(long, default_value = "50ms", value_parser = parse_duration)]
    nack_interval: Duration,
    /// Requests per missing packet at most (0: subscribers never NACK).
    #[arg(long, default_value_t = 10)]
    nack_retries: u32,
    /// A packet missing this long is lost for good (and a PLI is sent).
    #[arg(long, default_value = "1s", value_parser = parse_duration)]
    nack_deadline: Duration,
    /// No complete video frame for longer than this is a freeze.
    #[arg(long, default_value = "500ms", value_parser = parse_duration)]
    freeze_threshold: Duration,
    /// Churn soak instead of a measurement: viewers join and leave around `--subscribers` for
    /// `--duration`, publishers restart, the servers are watched for leaks:
    /// `joins=20/s,leaves=20/s,publisher-restart=30s,vanish=10%,settle=20s,sample=2s` (any
    /// subset; `""` for those defaults). `--server-pid` (origin, then edge) or found from
    /// the listening ports. Exit status 2 if something leaked.
    #[arg(long, value_parser = parse_churn)]
    churn: Option<ChurnSpec>,
    /// Write the JSON result here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// Write the SVG chart here.
    #[arg(long)]
    svg: Option<PathBuf>,
    /// No progress line.
    #[arg(long)]
    quiet: bool,
}

fn parse_target(s: &str) -> Result<TargetKind, String> {
    match s {
        "wcs" => Ok(TargetKind::Wcs),
        "janus" => Ok(TargetKind::Janus),
        "floor" => Ok(TargetKind::Floor),
        _ => Err(format!("unknown target {s:?} (wcs, janus or floor)")),
    }
}

fn parse_churn(s: &str) -> Result<ChurnSpec, String> {
    ChurnSpec::parse(s).map_err(|e| e.to_string())
}

fn parse_impair(s: &str) -> Result<ImpairSpec, String> {
    ImpairSpec::parse(s).map_err(|e| e.to_string())
}

fn main() -> ExitCode {
    let args = Args::parse();
    let cfg = LoadConfig {
        target: args.target,
        server: args.server,
        play_server: args.play_server,
        publishers: args.publishers,
        subscribers: args.subscribers,
        duration: args.duration,
        bitrate: args.bitrate,
        packet_size: args.packet_size,
        verify: args.verify,
        server_pids: args.server_pid,
        ramp: args.ramp,
        join_timeout: args.join_timeout,
        join_parallel: args.join_parallel,
        impair: ImpairConfig {
            send: args.impair_send.or(args.impair).unwrap_or_default(),
            recv: args.impair_recv.or(args.impair).unwrap_or_default(),
            seed: args.seed,
            queue: args.impair_queue,
        },
        nack: NackConfig {
            interval: args.nack_interval,
            max_retries: args.nack_retries,
            deadline: args.nack_deadline,
        },
        freeze_threshold: args.freeze_threshold,
        churn: args.churn,
    };
    if cfg.churn.is_some() {
        return run_churn(&cfg, !args.quiet, args.json.as_deref(), args.svg.as_deref());
    }
    let report = match load::run(&cfg, !args.quiet) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rtcdn-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.summary());
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("rtcdn-load: write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = &args.svg {
        if let Err(e) = std::fs::write(path, load::svg::chart(&report)) {
            eprintln!("rtcdn-load: write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}

/// A churn soak: the summary, the JSON report and the chart; exit status 2 if it found a leak.
fn run_churn(
    cfg: &LoadConfig,
    progress: bool,
    json: Option<&Path>,
    svg: Option<&Path>,
) -> ExitCode {
    let report = match churn::run(cfg, progress) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("rtcdn-load: {e}");
            return ExitCode::FAILURE;
        }
    };
    print!("{}", report.summary());
    if let Some(path) = json {
        let text = serde_json::to_string_pretty(&report).expect("report serializes");
        if let Err(e) = std::fs::write(path, text) {
            eprintln!("rtcdn-load: write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if let Some(path) = svg {
        if let Err(e) = std::fs::write(path, load::svg::churn_chart(&report)) {
            eprintln!("rtcdn-load: write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    if report.leak_free {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(2)
    }
}
