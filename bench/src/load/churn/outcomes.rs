//! What happens to a churn run's clients besides the schedule: finished signalling jobs taken
//! in ([`Churn::finished`]: a viewer plays, waits for its stream, or failed; a publisher is
//! back; a probe answered), and every [`SERVICE_EVERY`](super::SERVICE_EVERY) the clients' signalling, first media,
//! failures and timeouts, the waiting viewers, the probes and the vanished viewers' websockets
//! ([`Churn::service`]).
//!
//! Owns: the accounting of those outcomes in [`ClientTotals`](super::report::ClientTotals). Must not schedule new churn:
//! that is the parent module's.

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use control::wcs::info;

use super::jobs::{stream_name, Done, Job, Played};
use super::watch::Phase;
use super::{Churn, Role, Viewer, Waiting, RESTART_RETRY};
use crate::load::signalling::{SignalError, Signalling};

/// How long a viewer whose transport the server closed (DTLS close_notify) waits for the
/// status that says why (the websocket message may come after the UDP datagram).
const STATUS_AFTER_CLOSE: Duration = Duration::from_secs(2);

impl Churn<'_> {
    /// Takes in a finished job.
    pub(super) fn finished(&mut self, done: Done, now: Instant) {
        match done {
            Done::Played {
                viewer,
                stream,
                client,
                started,
                replay,
                fresh,
                outcome,
            } => {
                self.viewer_jobs -= 1;
                match outcome {
                    Played::Playing(peer) => {
                        let role = Role::Viewer(Viewer {
                            id: viewer,
                            stream,
                            started,
                            replay,
                            playing: false,
                        });
                        if let Err(e) = self.add(*peer, role) {
                            self.failed_play(replay, format!("viewer {viewer}: {e}"), None);
                        }
                    }
                    Played::NotThere(sig) => {
                        self.totals.joins_waited += u64::from(fresh);
                        self.waiting.push(Waiting {
                            id: viewer,
                            stream,
                            client,
                            started,
                            replay,
                            sig,
                        });
                    }
                    Played::Failed(why, sig) => {
                        self.failed_play(replay, format!("viewer {viewer}: {why}"), sig)
                    }
                }
            }
            Done::Left(Ok(())) => {}
            Done::Left(Err(e)) => {
                self.totals.leaves_unconfirmed += 1;
                self.error(format!("leave: {e}"));
            }
            Done::Restarted {
                publisher,
                reconnect,
                result,
            } => {
                self.publishers[publisher].busy = false;
                match result.map_err(|e| e.to_string()).and_then(|peer| {
                    self.add(*peer, Role::Publisher(publisher))
                        .map_err(|e| e.to_string())
                }) {
                    Ok(key) => {
                        self.publishers[publisher].key = Some(key);
                        self.totals.restarts += 1;
                        self.totals.restarts_reconnecting += u64::from(reconnect);
                    }
                    Err(e) => {
                        self.totals.restarts_failed += 1;
                        self.publishers[publisher].retry_at = Some(now + RESTART_RETRY);
                        self.error(format!("publisher {publisher} restart: {e}"));
                    }
                }
            }
            Done::Probed {
                stream,
                available,
                sig,
            } => {
                let st = &mut self.streams[stream];
                st.probing = false;
                st.probe = sig;
                st.last_probe = Some(now);
                match available {
                    Ok(true) => self.replay_waiting(stream),
                    Ok(false) => {}
                    Err(e) => self.error(format!("probe of {}: {e}", stream_name(stream))),
                }
            }
        }
    }

    /// The waiting viewers of `stream` play it again.
    fn replay_waiting(&mut self, stream: usize) {
        if self.gauges.phase() != Phase::Churn {
            return;
        }
        let (go, stay): (Vec<Waiting>, Vec<Waiting>) = std::mem::take(&mut self.waiting)
            .into_iter()
            .partition(|w| w.stream == stream);
        self.waiting = stay;
        for w in go {
            self.viewer_jobs += 1;
            self.pool.send(Job::Replay {
                viewer: w.id,
                stream,
                client: w.client,
                started: w.started,
                replay: w.replay,
                sig: w.sig,
            });
        }
    }

    /// A join or re-play failed; its session, if open, leaves politely.
    fn failed_play(&mut self, replay: bool, why: String, sig: Option<Box<dyn Signalling>>) {
        if replay {
            self.totals.replays_failed += 1;
        } else {
            self.totals.joins_failed += 1;
        }
        self.error(why);
        if let Some(sig) = sig {
            self.pool.send(Job::Leave { sig });
        }
    }

    /// Every client's signalling, first media, failures and timeouts; the waiting viewers'
    /// timeouts; the vanished viewers' websockets; the gauges.
    pub(super) fn service(&mut self, now: Instant) {
        let keys: Vec<usize> = self.clients.iter().map(|(k, _)| k).collect();
        let timeout = self.cfg.join_timeout;
        for key in keys {
            let c = &mut self.clients[key];
            let serviced = c.peer.signalling.service();
            let transport = c.peer.failed.clone();
            let status_may_follow = c
                .peer
                .closed_by_server
                .is_some_and(|t| now.saturating_duration_since(t) < STATUS_AFTER_CLOSE);
            let first_media = c.peer.first_media;
            match &mut c.role {
                Role::Publisher(i) => {
                    let i = *i;
                    let why = serviced.err().map(|e| e.to_string()).or(transport);
                    if let Some(why) = why {
                        self.totals.publishers_failed += 1;
                        self.error(format!("publisher {i}: {why}"));
                        let sig = self.take(key).peer.signalling;
                        self.publishers[i].key = None;
                        self.publishers[i].busy = true;
                        let client = self.new_client();
                        self.pool.send(Job::Restart {
                            publisher: i,
                            client,
                            sig: Some(sig),
                            reconnect: true,
                        });
                    }
                }
                Role::Viewer(v) => {
                    if let (false, Some(t)) = (v.playing, first_media) {
                        v.playing = true;
                        let ns = t.saturating_duration_since(v.started).as_nanos() as u64;
                        if v.replay {
                            self.totals.replays_playing += 1;
                            self.gap_ms.record(ns);
                        } else {
                            self.totals.joins_playing += 1;
                            self.join_ms.record(ns);
                            self.gauges.joins.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    let (id, stream, playing, replay) = (v.id, v.stream, v.playing, v.replay);
                    let late = !playing && now.saturating_duration_since(v.started) > timeout;
                    match serviced {
                        Err(SignalError::Ended { status, info: why })
                            if status == "STOPPED" && why == info::PUBLISHER_STOPPED =>
                        {
                            self.totals.stopped_by_publisher += 1;
                            let sig = self.take(key).peer.signalling;
                            let client = self.new_client();
                            self.waiting.push(Waiting {
                                id,
                                stream,
                                client,
                                started: now,
                                replay: true,
                                sig,
                            });
                        }
                        Err(e) => {
                            let closed = matches!(e, SignalError::Closed);
                            self.viewer_failed(key, playing, replay, e.to_string(), closed);
                        }
                        Ok(()) if status_may_follow => {}
                        Ok(()) => {
                            if let Some(why) = transport {
                                self.viewer_failed(key, playing, replay, why, false);
                            } else if late {
                                let why = "no media in time".to_string();
                                self.viewer_failed(key, playing, replay, why, false);
                            }
                        }
                    }
                }
            }
        }
        // Waiting viewers and probes keep answering the server's pings.
        for mut w in std::mem::take(&mut self.waiting) {
            let serviced = w.sig.service();
            let name = stream_name(w.stream);
            match serviced {
                Err(e) => {
                    let why = format!("viewer {} waiting for {name}: {e}", w.id);
                    let open = !matches!(e, SignalError::Closed);
                    self.failed_play(w.replay, why, open.then_some(w.sig));
                }
                Ok(()) if now.saturating_duration_since(w.started) > timeout => {
                    let why = format!("viewer {}: {name} not back in time", w.id);
                    self.failed_play(w.replay, why, Some(w.sig));
                }
                Ok(()) => self.waiting.push(w),
            }
        }
        for st in &mut self.streams {
            if st.probe.as_mut().is_some_and(|sig| sig.service().is_err()) {
                st.probe = None;
            }
        }
        let mut i = 0;
        while i < self.ghosts.len() {
            if self.ghosts[i].sig.poll_closed_silently() {
                let g = self.ghosts.swap_remove(i);
                self.totals.vanished_closed_by_server += 1;
                let s = now.saturating_duration_since(g.since).as_secs_f64();
                self.totals.vanished_close_max_s = self.totals.vanished_close_max_s.max(s);
            } else {
                i += 1;
            }
        }
        let viewers = self.viewers();
        self.totals.peak_viewers = self.totals.peak_viewers.max(viewers);
        let g = &self.gauges;
        g.viewers.store(viewers, Ordering::Relaxed);
        g.waiting.store(self.waiting.len(), Ordering::Relaxed);
        g.jobs.store(self.pool.in_flight, Ordering::Relaxed);
        g.ghosts.store(self.ghosts.len(), Ordering::Relaxed);
    }

    /// A viewer in the loop failed: out of the loop, its session leaves politely unless the
    /// server closed it.
    fn viewer_failed(
        &mut self,
        key: usize,
        playing: bool,
        replay: bool,
        why: String,
        closed: bool,
    ) {
        let sig = self.take(key).peer.signalling;
        let sig = (!closed).then_some(sig);
        if playing {
            self.totals.viewers_failed += 1;
            self.error(format!("viewer: {why}"));
            if let Some(sig) = sig {
                self.pool.send(Job::Leave { sig });
            }
        } else {
            self.failed_play(replay, format!("viewer: {why}"), sig);
        }
    }
}
