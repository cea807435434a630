//! WCS (Flashphoner Web SDK) websocket signalling.
//!
//! [`messages`] is the wire format, [`hub`] the sans-IO signalling core, [`connection`] the thin
//! async glue between axum websockets, the hub and the data-plane event channel.

pub mod connection;
pub mod hub;
pub mod messages;
