//! The data plane → control plane event channel.
//!
//! Owns the [`EventSink`] implementation the workers call: an unbounded tokio channel, so a
//! worker's `send` never blocks and never waits on the control thread. It must not interpret
//! events; the signalling hub does that.

use dataplane::api::{Event, EventSink, SharedEventSink};
use tokio::sync::mpsc;

/// The worker side: forwards every event into the control thread's queue.
#[derive(Debug)]
struct ChannelSink(mpsc::UnboundedSender<Event>);

impl EventSink for ChannelSink {
    fn send(&self, event: Event) {
        // The receiver is gone only while the process shuts down: the event is moot then.
        if self.0.send(event).is_err() {
            tracing::debug!("event dropped: control plane stopped");
        }
    }
}

/// The control side of the event channel.
#[derive(Debug)]
pub struct EventReceiver(mpsc::UnboundedReceiver<Event>);

impl EventReceiver {
    /// Waits for the next event; `None` once every sink is dropped.
    pub async fn recv(&mut self) -> Option<Event> {
        self.0.recv().await
    }

    /// Returns a queued event without waiting.
    pub fn try_recv(&mut self) -> Option<Event> {
        self.0.try_recv().ok()
    }
}

/// Creates the sink handed to the workers and the receiver the control thread reads.
pub fn event_channel() -> (SharedEventSink, EventReceiver) {
    let (tx, rx) = mpsc::unbounded_channel();
    (std::sync::Arc::new(ChannelSink(tx)), EventReceiver(rx))
}

#[cfg(test)]
mod tests {
    use super::*;
    use dataplane::api::{CloseReason, PeerId};

    #[test]
    fn events_arrive_in_order_and_send_never_blocks_after_close() {
        let (sink, mut rx) = event_channel();
        let a = Event::PeerClosed {
            peer: PeerId(1),
            reason: CloseReason::IceTimeout,
        };
        let b = Event::PeerConnected {
            peer: PeerId(2),
            remote: "127.0.0.1:5000".parse().unwrap(),
        };
        sink.send(a.clone());
        sink.send(b.clone());
        assert_eq!(rx.try_recv(), Some(a));
        assert_eq!(rx.try_recv(), Some(b));
        assert_eq!(rx.try_recv(), None);
        drop(rx);
        sink.send(Event::PeerClosed {
            peer: PeerId(3),
            reason: CloseReason::PeerClosed,
        });
    }
}
