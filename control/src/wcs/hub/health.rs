//! What the hub shows operators in `/health` beyond its counters: each published stream (its
//! publisher, the video rate received from it per `Event::PublisherStats`, its players, the
//! edges it is relayed to), each player's latest sending state (`Event::ViewerStats`: rate,
//! estimate, simulcast layer, paused video) and the simulcast layers of each published stream
//! that has them. Built on request from the hub's records; like the rest of the hub it must not
//! touch sockets or the clock.

use dataplane::api::{LayerSpec, PeerId};

use super::state::{Hub, HubStats, Role, ViewerSample};

/// One player's sending state, as its worker last reported it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ViewerReport {
    /// The stream name the player asked for (a layer suffix included).
    pub stream: String,
    /// The player's mediaSessionId.
    pub media_session_id: String,
    /// What it is sent (media and retransmissions), bits/s.
    pub sending_bps: u64,
    /// Its bandwidth estimate, bits/s, when it negotiated transport-wide congestion control.
    pub estimate_bps: Option<u64>,
    /// The simulcast layer it is sent: the publisher's rid of that layer, or the layer's index
    /// for SSRC-group layers; `None` for a stream without simulcast.
    pub layer: Option<String>,
    /// The index of that layer in the publisher's layers.
    pub layer_index: Option<u8>,
    /// Its video is paused: even the lowest layer does not fit its estimate.
    pub video_paused: bool,
}

/// A published stream on this node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamReport {
    /// The published name.
    pub stream: String,
    /// The publisher's mediaSessionId (on an edge: the origin's relay leg).
    pub media_session_id: String,
    /// The publisher's peer completed ICE and DTLS.
    pub connected: bool,
    /// The publisher announced audio.
    pub has_audio: bool,
    /// The publisher announced video.
    pub has_video: bool,
    /// The video received from the publisher (retransmissions included), bits/s, as its
    /// worker last reported it; `None` before the first report.
    pub video_bps: Option<u64>,
    /// Players of the stream on this node (a layer suffix included).
    pub viewers: usize,
    /// On an origin, the ids of the edges that publish the stream (live relay legs).
    pub relayed_to: Vec<String>,
}

/// A published stream with simulcast layers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LayeredStream {
    /// The published name.
    pub stream: String,
    /// Its layers in the publisher's order, named as [`ViewerReport::layer`] names them.
    pub layers: Vec<String>,
}

/// Everything `/health` shows of the hub.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubHealth {
    /// The counters.
    pub stats: HubStats,
    /// Published streams, ordered by name.
    pub streams: Vec<StreamReport>,
    /// Players with a report, ordered by stream name then mediaSessionId.
    pub viewers: Vec<ViewerReport>,
    /// Published streams with layers, ordered by name.
    pub simulcast: Vec<LayeredStream>,
}

/// How operators see layer `index` of `layers`: its rid, or the index when it has none.
fn layer_name(layers: &[LayerSpec], index: usize) -> String {
    match layers.get(index) {
        Some(layer) if !layer.rid.is_empty() => layer.rid.clone(),
        _ => index.to_string(),
    }
}

impl Hub {
    /// The counters, every player's latest sending state and the streams with layers.
    pub fn health(&self) -> HubHealth {
        let mut viewers: Vec<ViewerReport> = self
            .sessions
            .iter()
            .filter_map(|(id, session)| {
                let sample = session.viewer?;
                let layers = self
                    .streams
                    .get(&session.stream)
                    .map_or(&[][..], |s| &s.media.layers);
                // A worker names layer 0 of a stream without layers: operators see none.
                let layer = sample.layer.filter(|_| !layers.is_empty());
                Some(ViewerReport {
                    stream: session.name.clone(),
                    media_session_id: id.clone(),
                    sending_bps: sample.sending_bps,
                    estimate_bps: sample.estimate_bps,
                    layer: layer.map(|i| layer_name(layers, usize::from(i))),
                    layer_index: layer,
                    video_paused: sample.video_paused,
                })
            })
            .collect();
        viewers.sort_by(|a, b| {
            (&a.stream, &a.media_session_id).cmp(&(&b.stream, &b.media_session_id))
        });
        let mut simulcast: Vec<LayeredStream> = self
            .streams
            .values()
            .filter(|s| !s.media.layers.is_empty())
            .filter_map(|s| {
                let publisher = self.sessions.get(&s.publisher)?;
                Some(LayeredStream {
                    stream: publisher.name.clone(),
                    layers: (0..s.media.layers.len())
                        .map(|i| layer_name(&s.media.layers, i))
                        .collect(),
                })
            })
            .collect();
        simulcast.sort_by(|a, b| a.stream.cmp(&b.stream));
        HubHealth {
            stats: self.stats(),
            streams: self.stream_reports(),
            viewers,
            simulcast,
        }
    }

    /// Every published stream with its publisher, players and relay legs, ordered by name.
    fn stream_reports(&self) -> Vec<StreamReport> {
        let routes = self.relays.routes();
        let mut streams: Vec<StreamReport> = self
            .streams
            .values()
            .filter_map(|s| {
                let publisher = self.sessions.get(&s.publisher)?;
                Some(StreamReport {
                    stream: publisher.name.clone(),
                    media_session_id: s.publisher.clone(),
                    connected: publisher.connected,
                    has_audio: publisher.has_audio,
                    has_video: publisher.has_video,
                    video_bps: publisher.received_video_bps,
                    viewers: s.players.len(),
                    relayed_to: routes
                        .iter()
                        .filter(|r| r.stream == publisher.name)
                        .map(|r| r.node_id.clone())
                        .collect(),
                })
            })
            .collect();
        streams.sort_by(|a, b| a.stream.cmp(&b.stream));
        streams
    }

    /// Keeps a publisher's latest `Event::PublisherStats` (other peers' are ignored).
    pub(super) fn publisher_stats(&mut self, peer: PeerId, video_bps: u64) {
        let Some(id) = self.peers.get(&peer) else {
            return;
        };
        if let Some(session) = self
            .sessions
            .get_mut(id)
            .filter(|s| s.role == Role::Publisher)
        {
            session.received_video_bps = Some(video_bps);
        }
    }

    /// Keeps a player's latest `Event::ViewerStats` (other peers' are ignored).
    pub(super) fn viewer_stats(&mut self, peer: PeerId, sample: ViewerSample) {
        let Some(id) = self.peers.get(&peer) else {
            return;
        };
        if let Some(session) = self.sessions.get_mut(id).filter(|s| s.role == Role::Player) {
            session.viewer = Some(sample);
        }
    }
}
