//! Decisions about one viewer after its RTCP, on the worker core: its simulcast layer (and the
//! keyframe request a new layer needs), whether it is short of bandwidth (WCS's
//! `notEnoughBandwidth`), and its stats for operators, about once a second.
//!
//! Sans-IO like the rest of the core: works on `now`, the peer, its stream's layer rates and
//! the core's event queue; the policy itself is the subscriber's ([`crate::simulcast`]).

use std::time::Instant;

use super::peer::Role;
use super::WorkerCore;
use crate::api::Event;

impl WorkerCore {
    /// After RTCP from a subscriber (`feedback`: with transport-wide feedback): its layer
    /// decision (asking the publisher for the new layer's keyframe), whether it is short of
    /// bandwidth, and its stats once a second.
    pub(super) fn after_viewer_report(&mut self, now: Instant, key: usize, feedback: bool) {
        let peer = &mut self.peers[key];
        let Role::Subscriber { sub, .. } = &mut peer.role else {
            return;
        };
        let rates = self.streams.get(peer.stream).map(|s| &s.rates);
        if feedback {
            if let Some((sending_bps, estimate_bps)) = sub.bandwidth_short(now, rates) {
                self.events.push_back(Event::BandwidthShort {
                    peer: peer.id,
                    sending_bps,
                    estimate_bps,
                });
            }
        }
        let switch = rates.and_then(|r| sub.choose_layer(now, r));
        if let Some(stats) = sub.poll_stats(now) {
            tracing::debug!(peer = %peer.id, ?stats, "viewer");
            self.events.push_back(Event::ViewerStats {
                peer: peer.id,
                sending_bps: stats.sending_bps,
                video_bps: stats.video_bps,
                estimate_bps: stats.estimate_bps,
                layer: stats.layer,
                video_paused: stats.video_paused,
            });
        }
        if let Some(layer) = switch {
            tracing::debug!(peer = %peer.id, layer, "viewer's layer changes");
            self.outbox.stats.layer_switches += 1;
            self.request_keyframe(now, key, Some(layer));
        }
        // A probe may have started: its padding ticks.
        self.rearm(key);
    }
}
