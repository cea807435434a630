//! Static CDN: the origin's configuration of its edges ([`config`]) and the origin → edge
//! relay over WebRTC ([`relay`], [`relay_socket`]).

pub mod config;
pub mod relay;
pub mod relay_socket;
