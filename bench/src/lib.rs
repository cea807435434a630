//! rtcdn benchmarks: the criterion micro-benchmarks live in `benches/`; this library holds the
//! load generator ([`load`], driven by the `rtcdn-load` binary and the load smoke test)
//! and the wire format of the `rtcdn-floor` yardstick ([`floor`]).

pub mod floor;
pub mod load;
