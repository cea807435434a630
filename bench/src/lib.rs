//! Benchmarks live in `benches/`; the load generator comes with the performance issue.
