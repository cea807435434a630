//! The `rtcdn` binary: reads configuration, starts the data-plane workers and runs the control
//! plane on the main thread until SIGINT/SIGTERM.

mod cli;

use anyhow::Context;
use clap::Parser;
use dataplane::DataplaneConfig;

fn main() -> anyhow::Result<()> {
    let cli = cli::Cli::parse();
    let filter = tracing_subscriber::EnvFilter::try_from_env("RTCDN_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match cli.log_format {
        // One JSON object per line, for log collectors.
        cli::LogFormat::Json => logs.json().init(),
        cli::LogFormat::Text => logs.init(),
    }
    let (config, warnings) = cli.load_config()?;
    raise_fd_limit();
    for w in &warnings {
        tracing::warn!("{w}");
    }
    let (sink, events) = control::events::event_channel();
    let dataplane = dataplane::start(
        &DataplaneConfig {
            ip: config.ip,
            port_from: config.media_port_from,
            workers: config.worker_threads,
            consent_timeout: config.ice_consent_timeout,
            dtls_handshake_timeout: config.dtls_handshake_timeout,
            max_handshakes_per_worker: config.max_handshakes_per_worker,
            socket_buffer: config.media_socket_buffer,
            mailbox_capacity: config.fanout_queue_capacity,
            cpu_affinity: config.worker_cpu_affinity.clone(),
            gso: config.media_gso,
            retransmit_cache: config.retransmit_cache,
            retransmit_share: f32::from(config.retransmit_share) / 100.0,
            ..DataplaneConfig::default()
        },
        sink,
    )
    .context("starting the data plane")?;
    for w in &dataplane.workers {
        tracing::info!("worker {} on udp {}", w.id.0, w.addr);
    }
    let fingerprint = dataplane.fingerprint();
    let result = control::server::run(config, dataplane.workers.clone(), fingerprint, events);
    dataplane.join();
    result.context("control plane")
}

/// Raises the soft limit of open files to the hard limit: every player holds a websocket (and
/// an origin two sockets per edge and stream), and the common soft limit of 1024 would refuse
/// connections long before the CPU is busy. The hard limit is the operator's (tuning.md).
fn raise_fd_limit() {
    match rlimit::increase_nofile_limit(u64::MAX) {
        Ok(n) if n < 16_384 => tracing::warn!(
            "open files limited to {n}: about that many players at most (raise the hard limit, \
             see tuning.md)"
        ),
        Ok(n) => tracing::debug!("open files limit {n}"),
        Err(e) => tracing::warn!("cannot raise the open files limit: {e}"),
    }
}
