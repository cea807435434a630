//! The hub's stream lifecycle: `publishStream` and `playStream` (checks, SDP answer, worker
//! placement, peer registration), `stop`/`unPublishStream`, and the end of a session with the
//! notifications to its players. Like the rest of the hub it must not touch sockets or the
//! clock; the SDP work is `crate::sdp`'s.
//!
//! A player may ask for one simulcast layer with a name suffix ([`LAYER_SUFFIXES`]): a
//! `playStream` (or `availableStream`) of `<name>-low`, `-mid` or `-high` that names no
//! published stream plays `<name>` with that [`LayerChoice`]; an exact name always wins.

use std::collections::{HashMap, HashSet};

use dataplane::api::{Command, LayerChoice, PeerId, PeerRole, PeerSpec, StreamId, WorkerId};

use super::state::{ConnId, Hub, Role, Session, Stream};
use crate::sdp;
use crate::wcs::info;
use crate::wcs::messages::{self as msg, StreamRequest};

/// The stream name suffixes that ask for one simulcast layer, and the layer each asks for.
pub const LAYER_SUFFIXES: [(&str, LayerChoice); 3] = [
    ("-low", LayerChoice::Lowest),
    ("-mid", LayerChoice::Middle),
    ("-high", LayerChoice::Highest),
];

impl Hub {
    /// The stream a player of `name` plays and the layer it asks for: the stream published as
    /// `name` (any layer), else the stream published as `name` without a
    /// [`LAYER_SUFFIXES`] suffix, with that suffix's layer.
    pub(super) fn play_target(&self, name: &str) -> Option<(StreamId, LayerChoice)> {
        if let Some(&stream) = self.names.get(name) {
            return Some((stream, LayerChoice::Auto));
        }
        LAYER_SUFFIXES.iter().find_map(|(suffix, choice)| {
            let base = name.strip_suffix(suffix)?;
            self.names.get(base).map(|&stream| (stream, *choice))
        })
    }

    pub(super) fn publish(&mut self, conn: ConnId, req: StreamRequest) {
        if !self.check_new_session(conn, "publishStream", &req, true) {
            return;
        }
        if !self.may_publish(conn) {
            tracing::warn!(conn = conn.0, name = %req.name, "publish refused: not from cdn_allowed_ips");
            return self.send_status(conn, &req, true, "FAILED", super::relay::RESTRICTED_ACCESS);
        }
        let relay_source = match self.relay_source(conn, &req) {
            Ok(source) => source,
            Err(info) => return self.send_status(conn, &req, true, "FAILED", info),
        };
        // An offer that does not parse is refused as such whatever else is wrong (a taken
        // name, a full node): the client's error comes first.
        let offer = match sdp::parse_offer(req.sdp.as_deref().unwrap_or_default()) {
            Ok(offer) => offer,
            Err(e) => return self.send_status(conn, &req, true, "FAILED", &e.wcs_info()),
        };
        if self.names.contains_key(&req.name) {
            return self.send_status(conn, &req, true, "FAILED", info::NAME_IN_USE);
        }
        let Some(worker) = self.pick_worker() else {
            return self.send_status(conn, &req, true, "FAILED", info::FAILED_BY_ERROR);
        };
        let local = self.local_transport(worker);
        let negotiated = sdp::answer_publish_with_policy(
            &offer,
            &self.video_codecs,
            &self.publish_policy,
            &local,
        );
        let neg = match negotiated {
            Ok(neg) => neg,
            Err(e) => return self.send_status(conn, &req, true, "FAILED", &e.wcs_info()),
        };
        let peer = PeerId(self.next_peer);
        let stream = StreamId(self.next_stream);
        let spec = PeerSpec {
            layer_choice: Default::default(),
            id: peer,
            role: PeerRole::Publisher { stream },
            local_ufrag: local.ufrag,
            local_pwd: local.pwd,
            remote_ufrag: neg.remote_ufrag,
            remote_pwd: neg.remote_pwd,
            remote_fingerprint: neg.remote_fingerprint,
            tracks: neg.tracks,
        };
        let started = match relay_source {
            Some(source) => self.add_plain_peer(worker, spec, source),
            None => self.add_peer(worker, spec),
        };
        if !started {
            return self.send_status(conn, &req, true, "FAILED", info::FAILED_BY_ERROR);
        }
        self.next_peer += 1;
        self.next_stream += 1;
        let worker_id = self.workers[worker].handle.id;
        let (has_audio, has_video) = (neg.media.audio.is_some(), neg.media.video.is_some());
        let id = req.media_session_id.clone();
        self.streams.insert(
            stream,
            Stream {
                publisher: id.clone(),
                worker: worker_id,
                media: neg.media,
                players: HashSet::new(),
                fanout: HashMap::new(),
            },
        );
        self.names.insert(req.name.clone(), stream);
        let tracks = (has_audio, has_video);
        self.accept(
            conn,
            &req,
            (peer, worker_id, stream),
            Role::Publisher,
            tracks,
            &neg.answer,
        );
        if let (Some(now), Some(media)) = (self.now, self.streams.get(&stream).map(|s| &s.media)) {
            self.relays.stream_started(now, stream, &req.name, media);
        }
    }

    /// Whether `conn`'s client may publish here: anyone, unless `cdn_allowed_ips` names the
    /// only addresses that may (an edge's origins).
    pub(super) fn may_publish(&self, conn: ConnId) -> bool {
        let Some(allowed) = &self.publishers_from else {
            return true;
        };
        self.conns
            .get(&conn)
            .is_some_and(|c| allowed.iter().any(|net| net.contains(c.client.ip())))
    }

    pub(super) fn play(&mut self, conn: ConnId, req: StreamRequest) {
        if !self.check_new_session(conn, "playStream", &req, false) {
            return;
        }
        let offer = match sdp::parse_offer(req.sdp.as_deref().unwrap_or_default()) {
            Ok(offer) => offer,
            Err(e) => return self.send_status(conn, &req, false, "FAILED", &e.wcs_info()),
        };
        let Some((stream, layer_choice)) = self.play_target(&req.name) else {
            return self.send_status(conn, &req, false, "FAILED", info::STREAM_NOT_FOUND);
        };
        let Some(worker) = self.pick_worker() else {
            return self.send_status(conn, &req, false, "FAILED", info::FAILED_BY_ERROR);
        };
        let local = self.local_transport(worker);
        // Every name in `names` has its stream in `streams` (they are inserted and removed together).
        let Some(source) = self.streams.get(&stream) else {
            return self.send_status(conn, &req, false, "FAILED", info::STREAM_NOT_FOUND);
        };
        let source_worker = source.worker;
        let negotiated = sdp::answer_play(&offer, &source.media, &local);
        let neg = match negotiated {
            Ok(neg) => neg,
            Err(e) => return self.send_status(conn, &req, false, "FAILED", &e.wcs_info()),
        };
        let peer = PeerId(self.next_peer);
        let spec = PeerSpec {
            layer_choice,
            id: peer,
            role: PeerRole::Subscriber {
                stream,
                source: source_worker,
            },
            local_ufrag: local.ufrag,
            local_pwd: local.pwd,
            remote_ufrag: neg.remote_ufrag,
            remote_pwd: neg.remote_pwd,
            remote_fingerprint: neg.remote_fingerprint,
            tracks: neg.tracks,
        };
        if !self.add_peer(worker, spec) {
            return self.send_status(conn, &req, false, "FAILED", info::FAILED_BY_ERROR);
        }
        self.next_peer += 1;
        let worker_id = self.workers[worker].handle.id;
        if let Some(s) = self.streams.get_mut(&stream) {
            s.players.insert(req.media_session_id.clone());
        }
        self.fanout_add(stream, worker_id);
        let (has_audio, has_video) = (neg.media.audio.is_some(), neg.media.video.is_some());
        let tracks = (has_audio, has_video);
        self.accept(
            conn,
            &req,
            (peer, worker_id, stream),
            Role::Player,
            tracks,
            &neg.answer,
        );
    }

    /// Registers an accepted publish or play of `req` and answers it: the SDP answer, then
    /// PUBLISHING or PLAYING.
    fn accept(
        &mut self,
        conn: ConnId,
        req: &StreamRequest,
        (peer, worker_id, stream): (PeerId, WorkerId, StreamId),
        role: Role,
        (has_audio, has_video): (bool, bool),
        answer: &str,
    ) {
        let id = req.media_session_id.clone();
        self.register(
            conn, &id, peer, worker_id, stream, &req.name, role, has_audio, has_video,
        );
        let (status, what) = match role {
            Role::Publisher => ("PUBLISHING", "publishing"),
            Role::Player => ("PLAYING", "playing"),
        };
        tracing::info!(conn = conn.0, name = %req.name, %peer, %stream, "{what}");
        self.send(conn, msg::set_remote_sdp(&id, answer));
        self.send_session_status(&id, status, "");
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn register(
        &mut self,
        conn: ConnId,
        id: &str,
        peer: PeerId,
        worker: WorkerId,
        stream: StreamId,
        name: &str,
        role: Role,
        has_audio: bool,
        has_video: bool,
    ) {
        self.sessions.insert(
            id.to_owned(),
            Session {
                conn,
                peer,
                worker,
                stream,
                name: name.to_owned(),
                role,
                has_audio,
                has_video,
                connected: false,
                added: self.now,
                viewer: None,
                received_video_bps: None,
            },
        );
        self.counters.handshake_started();
        self.peers.insert(peer, id.to_owned());
        if let Some(c) = self.conns.get_mut(&conn) {
            c.sessions.insert(id.to_owned());
        }
    }

    pub(super) fn stop(&mut self, conn: ConnId, api: &str, req: &StreamRequest) {
        self.notify_stop(conn, api, req);
        if self.cancel_pending(conn, req) {
            return;
        }
        let role = match self.sessions.get(&req.media_session_id) {
            Some(s) if s.conn == conn => s.role,
            _ => {
                tracing::debug!(conn = conn.0, api, id = %req.media_session_id, "stop of an unknown stream");
                let published = api == "unPublishStream";
                return self.send_status(conn, req, published, "FAILED", info::STREAM_NOT_FOUND);
            }
        };
        let status = match role {
            Role::Publisher => "UNPUBLISHED",
            Role::Player => "STOPPED",
        };
        self.end_session(&req.media_session_id, Some((status, "")), true);
    }

    /// Forgets a session: optionally tells its client `status`, removes its peer from the
    /// worker (unless the worker already closed it), maintains fanout targets and, for a
    /// publisher, stops every player and frees the name.
    pub(super) fn end_session(
        &mut self,
        id: &str,
        notify: Option<(&str, &str)>,
        remove_peer: bool,
    ) {
        if let Some((status, info)) = notify {
            self.send_session_status(id, status, info);
        }
        let Some(s) = self.sessions.remove(id) else {
            return;
        };
        self.peers.remove(&s.peer);
        if let Some(c) = self.conns.get_mut(&s.conn) {
            c.sessions.remove(id);
        }
        if remove_peer {
            self.command(s.worker, Command::RemovePeer(s.peer));
            if !s.connected {
                // Not the worker's doing (that is `handshake_failed`): the client or the
                // publisher went away first.
                self.counters.handshake_abandoned();
            }
        }
        if let Some(w) = self.worker_mut(s.worker) {
            w.peers = w.peers.saturating_sub(1);
        }
        match s.role {
            Role::Player => {
                let Some(stream) = self.streams.get_mut(&s.stream) else {
                    return;
                };
                stream.players.remove(id);
                self.fanout_remove(s.stream, s.worker);
            }
            Role::Publisher => {
                let Some(stream) = self.streams.remove(&s.stream) else {
                    return;
                };
                debug_assert_eq!(stream.publisher, id);
                if self.names.get(&s.name) == Some(&s.stream) {
                    self.names.remove(&s.name);
                }
                for player in &stream.players {
                    self.end_session(player, Some(("STOPPED", info::PUBLISHER_STOPPED)), true);
                }
                for &worker in stream.fanout.keys() {
                    self.command(
                        stream.worker,
                        Command::RemoveFanoutTarget {
                            stream: s.stream,
                            worker,
                        },
                    );
                }
                if let Some(now) = self.now {
                    self.relays.stream_ended(now, s.stream);
                }
                tracing::info!(name = %s.name, stream = %s.stream, "unpublished");
            }
        }
    }
}
