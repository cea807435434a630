//! The blocking signalling work of a churn run, done by a pool of threads ([`JobPool`]) while the
//! event loop keeps every client's ICE, DTLS and media going: a viewer plays (on a new
//! websocket, or again on its own after its stream stopped), a client leaves (`stopStream` or
//! `unPublishStream`, then the websocket's closing handshake), a publisher restarts, and the
//! play server is asked whether a stream is there (`availableStream`).
//!
//! Owns: those threads and what each job does with its signalling session. Must not touch the
//! event loop's state: sessions and clients go in with a [`Job`] and come back in a [`Done`].

use std::sync::mpsc::{self, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use control::wcs::info;
use dataplane::dtls::DtlsCertificate;

use super::super::config::LoadConfig;
use super::super::error::LoadError;
use super::super::peer::{self, JoinContext, Peer};
use super::super::signalling::{Role, SignalError, Signalling};

/// A viewer's number in the run (stable across its re-plays).
pub type ViewerId = u64;

/// How long a republish retries while the server still holds the name (the old session's
/// close not processed yet).
const NAME_RETRY: Duration = Duration::from_secs(5);

/// One piece of blocking signalling.
pub enum Job {
    /// A new viewer of stream `stream`: a websocket of its own, then `playStream`.
    Join {
        /// The viewer.
        viewer: ViewerId,
        /// The stream's index.
        stream: usize,
        /// The client number (impairment seed).
        client: u64,
        /// When the join began.
        started: Instant,
    },
    /// A viewer whose stream stopped plays it again on its own session.
    Replay {
        /// The viewer.
        viewer: ViewerId,
        /// The stream's index.
        stream: usize,
        /// The client number.
        client: u64,
        /// When its stream stopped (or its first join began, if it never played).
        started: Instant,
        /// Whether it played before (a re-play, not a join still waiting).
        replay: bool,
        /// Its session.
        sig: Box<dyn Signalling>,
    },
    /// A client leaves politely: its stream stopped, then the websocket closed.
    Leave {
        /// Its session.
        sig: Box<dyn Signalling>,
    },
    /// A publisher unpublishes and publishes again, on the same websocket or (`reconnect`)
    /// after closing it, on a new one.
    Restart {
        /// The publisher's index (= its stream's).
        publisher: usize,
        /// The client number of the new publish.
        client: u64,
        /// Its session (`None`: it has none, after a failed restart).
        sig: Option<Box<dyn Signalling>>,
        /// Close the websocket and publish on a new one.
        reconnect: bool,
    },
    /// Can stream `stream` be played at the play server? On the probe session of that stream,
    /// opened if `None`.
    Probe {
        /// The stream's index.
        stream: usize,
        /// The probe's session, if open.
        sig: Option<Box<dyn Signalling>>,
    },
}

/// What a play attempt gave.
pub enum Played {
    /// The viewer plays: ICE, DTLS and media are the event loop's now.
    Playing(Box<Peer>),
    /// The stream is not there (`Stream not found`): the viewer waits with its session.
    NotThere(Box<dyn Signalling>),
    /// Anything else; the session if it is still open.
    Failed(String, Option<Box<dyn Signalling>>),
}

/// A finished job.
pub enum Done {
    /// A [`Job::Join`] or [`Job::Replay`].
    Played {
        /// The viewer.
        viewer: ViewerId,
        /// The stream's index.
        stream: usize,
        /// The client number.
        client: u64,
        /// As in the job.
        started: Instant,
        /// As in the job (a join is never a replay).
        replay: bool,
        /// A [`Job::Join`] (its first try), not a [`Job::Replay`].
        fresh: bool,
        /// The outcome.
        outcome: Played,
    },
    /// A [`Job::Leave`]: `Err` if the stream's stop was not confirmed.
    Left(Result<(), String>),
    /// A [`Job::Restart`].
    Restarted {
        /// The publisher.
        publisher: usize,
        /// Whether it went through a new websocket.
        reconnect: bool,
        /// Its new stream, or why not.
        result: Result<Box<Peer>, String>,
    },
    /// A [`Job::Probe`].
    Probed {
        /// The stream's index.
        stream: usize,
        /// Whether it can be played; `Err` if the probe session failed.
        available: Result<bool, String>,
        /// The probe session, if still usable.
        sig: Option<Box<dyn Signalling>>,
    },
}

/// What the threads share: the run, the servers, the certificate.
struct Shared {
    cfg: LoadConfig,
    cert: DtlsCertificate,
    /// Where viewers play (the edge, or the one node).
    play_server: String,
}

/// The pool.
pub struct JobPool {
    jobs: Option<Sender<Job>>,
    done: Receiver<Done>,
    threads: Vec<JoinHandle<()>>,
    /// Jobs sent and not yet taken back.
    pub in_flight: usize,
}

impl JobPool {
    /// `threads` workers for the run `cfg`.
    pub fn new(cfg: &LoadConfig, cert: &DtlsCertificate, threads: usize) -> JobPool {
        let shared = Arc::new(Shared {
            cfg: cfg.clone(),
            cert: cert.clone(),
            play_server: cfg
                .play_server
                .clone()
                .unwrap_or_else(|| cfg.server.clone()),
        });
        let (job_tx, job_rx) = mpsc::channel::<Job>();
        let job_rx = Arc::new(Mutex::new(job_rx));
        let (done_tx, done) = mpsc::channel();
        let threads = (0..threads.max(1))
            .map(|_| {
                let (shared, job_rx, done_tx) = (shared.clone(), job_rx.clone(), done_tx.clone());
                std::thread::spawn(move || loop {
                    let job = match job_rx.lock() {
                        Ok(rx) => rx.recv(),
                        Err(_) => return,
                    };
                    let Ok(job) = job else { return };
                    if done_tx.send(run(&shared, job)).is_err() {
                        return;
                    }
                })
            })
            .collect();
        JobPool {
            jobs: Some(job_tx),
            done,
            threads,
            in_flight: 0,
        }
    }

    /// Hands `job` to a thread.
    pub fn send(&mut self, job: Job) {
        if let Some(tx) = &self.jobs {
            if tx.send(job).is_ok() {
                self.in_flight += 1;
            }
        }
    }

    /// A finished job, if one is waiting.
    pub fn try_done(&mut self) -> Option<Done> {
        let done = self.done.try_recv().ok()?;
        self.in_flight -= 1;
        Some(done)
    }
}

impl Drop for JobPool {
    fn drop(&mut self) {
        self.jobs = None;
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

/// The name of stream `i`.
pub fn stream_name(i: usize) -> String {
    format!("churn-{i}")
}

fn run(shared: &Shared, job: Job) -> Done {
    match job {
        Job::Join {
            viewer,
            stream,
            client,
            started,
        } => {
            let outcome = match peer::connect(shared.cfg.target, &shared.play_server) {
                Ok(sig) => play(shared, sig, stream, client, started),
                Err(e) => Played::Failed(format!("connect: {e}"), None),
            };
            Done::Played {
                viewer,
                stream,
                client,
                started,
                replay: false,
                fresh: true,
                outcome,
            }
        }
        Job::Replay {
            viewer,
            stream,
            client,
            started,
            replay,
            sig,
        } => Done::Played {
            viewer,
            stream,
            client,
            started,
            replay,
            fresh: false,
            outcome: play(shared, sig, stream, client, started),
        },
        Job::Leave { mut sig } => {
            let stopped = sig.stop_stream().map_err(|e| e.to_string());
            sig.close();
            Done::Left(stopped)
        }
        Job::Restart {
            publisher,
            client,
            sig,
            reconnect,
        } => Done::Restarted {
            publisher,
            reconnect,
            result: restart(shared, publisher, client, sig, reconnect).map(Box::new),
        },
        Job::Probe { stream, sig } => {
            let sig = match sig {
                Some(sig) => Ok(sig),
                None => peer::connect(shared.cfg.target, &shared.play_server),
            };
            match sig {
                Ok(mut sig) => match sig.is_available(&stream_name(stream)) {
                    Ok(available) => Done::Probed {
                        stream,
                        available: Ok(available),
                        sig: Some(sig),
                    },
                    Err(e) => Done::Probed {
                        stream,
                        available: Err(e.to_string()),
                        sig: None,
                    },
                },
                Err(e) => Done::Probed {
                    stream,
                    available: Err(e.to_string()),
                    sig: None,
                },
            }
        }
    }
}

/// Whether `e` is the server's "no such stream (yet)".
fn not_found(e: &LoadError) -> bool {
    matches!(e, LoadError::Signal(SignalError::Refused(why)) if why.contains(info::STREAM_NOT_FOUND))
}

fn play(
    shared: &Shared,
    sig: Box<dyn Signalling>,
    stream: usize,
    client: u64,
    started: Instant,
) -> Played {
    let ctx = JoinContext {
        cfg: &shared.cfg,
        server: &shared.play_server,
        client,
        cert: &shared.cert,
        join_started: started,
    };
    match Peer::join_on(sig, &ctx, Role::Play, &stream_name(stream), Instant::now) {
        Ok(peer) => Played::Playing(Box::new(peer)),
        Err((e, sig)) if not_found(&e) => Played::NotThere(sig),
        Err((e @ LoadError::Signal(SignalError::Closed), _)) => Played::Failed(e.to_string(), None),
        Err((e, sig)) => Played::Failed(e.to_string(), Some(sig)),
    }
}

fn restart(
    shared: &Shared,
    publisher: usize,
    client: u64,
    sig: Option<Box<dyn Signalling>>,
    reconnect: bool,
) -> Result<Peer, String> {
    let server = &shared.cfg.server;
    let mut sig = match sig {
        Some(mut sig) if !reconnect => {
            sig.stop_stream()
                .map_err(|e| format!("unPublishStream: {e}"))?;
            sig
        }
        old => {
            if let Some(mut old) = old {
                old.close();
            }
            peer::connect(shared.cfg.target, server).map_err(|e| format!("connect: {e}"))?
        }
    };
    let deadline = Instant::now() + NAME_RETRY;
    loop {
        let ctx = JoinContext {
            cfg: &shared.cfg,
            server,
            client,
            cert: &shared.cert,
            join_started: Instant::now(),
        };
        match Peer::join_on(
            sig,
            &ctx,
            Role::Publish,
            &stream_name(publisher),
            Instant::now,
        ) {
            Ok(peer) => return Ok(peer),
            Err((LoadError::Signal(SignalError::Refused(why)), back))
                if why.contains(info::NAME_IN_USE) && Instant::now() < deadline =>
            {
                sig = back;
                std::thread::sleep(Duration::from_millis(50));
            }
            Err((e, _)) => return Err(format!("publishStream: {e}")),
        }
    }
}
