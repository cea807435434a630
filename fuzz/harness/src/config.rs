//! Targets `properties` and `loadbalancing`: the operator's `flashphoner.properties` and
//! `loadbalancing.xml`, as broken as a hand-edited file gets.
//!
//! `properties` loads the bytes over the defaults and validates the result (with
//! `load_balancing_enabled=true` the loader looks for a `loadbalancing.xml` in a directory
//! that does not exist, which must be a clear error too). `loadbalancing` parses the XML,
//! and a node list that parses is compared with the example origin's, as a reload does.
//! Every error must name the file it is about.

use std::path::Path;
use std::sync::OnceLock;

use control::cdn::config::{self as lb, LoadBalancingConfig, NodesDiff};
use control::config::{Config, ConfigError};

/// Where the fuzzed properties "are": a directory that does not exist.
const PROPERTIES_PATH: &str = "/nonexistent/rtcdn-fuzz/flashphoner.properties";
const LB_PATH: &str = "/nonexistent/rtcdn-fuzz/loadbalancing.xml";
const EXAMPLE_LB: &str = include_str!("../../../examples/cdn/origin/loadbalancing.xml");

pub fn properties(data: &[u8]) {
    match Config::from_properties(Path::new(PROPERTIES_PATH), data) {
        Ok((cfg, warnings)) => {
            cfg.validate()
                .expect("a loaded configuration validates again");
            for w in warnings {
                let _ = w.to_string();
            }
        }
        Err(e) => {
            let message = e.to_string();
            let names_file = message.starts_with("/nonexistent/rtcdn-fuzz/");
            assert!(
                names_file || matches!(e, ConfigError::Invalid { .. }),
                "error without its file: {message}"
            );
        }
    }
}

pub fn loadbalancing(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match lb::parse(Path::new(LB_PATH), text) {
        Ok((cfg, warnings)) => {
            for w in warnings {
                let _ = w.to_string();
            }
            for node in &cfg.nodes {
                let _ = node.url_host();
            }
            let diff = NodesDiff::between(&example().nodes, &cfg.nodes);
            let _ = diff.is_empty();
            assert!(NodesDiff::between(&cfg.nodes, &cfg.nodes).is_empty());
        }
        Err(e) => assert!(e.to_string().starts_with(LB_PATH)),
    }
}

fn example() -> &'static LoadBalancingConfig {
    static EXAMPLE: OnceLock<LoadBalancingConfig> = OnceLock::new();
    EXAMPLE.get_or_init(|| {
        lb::parse(Path::new("loadbalancing.xml"), EXAMPLE_LB)
            .expect("the example loadbalancing.xml parses")
            .0
    })
}
