//! The load balancer's decision: which edge a new viewer is sent to, from the last load
//! reported by each node. Sans-IO: the poller feeds it [`NodeUpdate`]s with the time they
//! arrived, and every call takes `now` and the random source; it never reads the clock,
//! polls or sleeps.
//!
//! A node is reachable from its first successful poll until a failed one, or until its last
//! stats are older than the staleness bound (a poller that stopped hearing from it). A
//! reachable node whose stat page says it is draining (SIGTERM) is never chosen.
//!
//! [`LoadBalancer::reload`] takes a re-read `loadbalancing.xml` (SIGHUP): removed nodes are
//! never chosen again, new ones once their first poll succeeds, unchanged ones keep their
//! stats.

use std::time::{Duration, Instant};

use rand::Rng;

use super::config::{same_node, LoadBalancingConfig, Mode, NodeConfig};

/// The load figures of one node, from its `/?action=stat` page.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct NodeStats {
    /// `calls`: peers (publishers plus players) on the node.
    pub calls: u64,
    /// `systemCpuLoad`: whole-machine CPU load, 0.0 to 1.0.
    pub system_cpu_load: f64,
    /// `connections`: open websocket connections, when the page has it.
    pub connections: Option<u64>,
    /// `streams_webrtc_in`: published streams, when the page has it.
    pub streams_in: Option<u64>,
    /// `streams_webrtc_out`: players, when the page has it.
    pub streams_out: Option<u64>,
    /// `draining=true`: the node is stopping and takes no new viewer.
    pub draining: bool,
}

/// What the origin knows of one edge at a moment, for `/health`.
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeStatus {
    /// The node as configured.
    pub node: NodeConfig,
    /// Whether the balancer may send viewers there now.
    pub reachable: bool,
    /// Its last stats while reachable, and how old they are.
    pub stats: Option<(Duration, NodeStats)>,
}

impl EdgeStatus {
    /// The edge in `/health`'s `edges`: figures are `null` while it is unreachable.
    pub fn to_json(&self) -> serde_json::Value {
        let stats = self.stats.map(|(_, s)| s);
        serde_json::json!({
            "id": self.node.id,
            "host": self.node.host,
            "ws": self.node.ws,
            "wss": self.node.wss,
            "http": self.node.http,
            "reachable": self.reachable,
            "stats_age_ms": self.stats.map(|(age, _)| u64::try_from(age.as_millis()).unwrap_or(u64::MAX)),
            "calls": stats.map(|s| s.calls),
            "connections": stats.and_then(|s| s.connections),
            "streams_in": stats.and_then(|s| s.streams_in),
            "streams_out": stats.and_then(|s| s.streams_out),
            "system_cpu_load": stats.map(|s| s.system_cpu_load),
            "draining": stats.map(|s| s.draining),
        })
    }
}

/// Whether a node can take viewers, as the balancer sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Availability {
    /// No fresh stats: not polled yet, not answering, or not configured.
    Unreachable,
    /// Reachable and chosen for viewers.
    Up,
    /// Reachable but draining: never chosen.
    Draining,
}

/// What one poll of a node found.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum NodeUpdate {
    /// The node answered with these figures.
    Stats(NodeStats),
    /// The node did not answer, or answered something unusable.
    Unreachable,
}

#[derive(Debug)]
struct Tracked {
    cfg: NodeConfig,
    /// The last good stats and when they arrived; `None` while unreachable.
    stats: Option<(Instant, NodeStats)>,
    /// Viewers sent to the node since its last stats (FEWESTCALLS counts them, so that a
    /// burst of viewers between two polls does not all land on one node).
    assigned: u64,
}

/// Chooses an edge per the configured [`Mode`].
#[derive(Debug)]
pub struct LoadBalancer {
    mode: Mode,
    randomize: bool,
    stale_after: Duration,
    nodes: Vec<Tracked>,
    /// ROUNDROBIN: index in `nodes` to try first next time.
    next: usize,
}

impl LoadBalancer {
    /// A balancer over `cfg.nodes`, all unreachable until their first stats; stats older
    /// than `stale_after` count as unreachable.
    pub fn new(cfg: &LoadBalancingConfig, stale_after: Duration) -> Self {
        Self {
            mode: cfg.mode,
            randomize: cfg.randomize,
            stale_after,
            nodes: cfg.nodes.iter().map(Tracked::new).collect(),
            next: 0,
        }
    }

    /// Takes a re-read configuration: mode and randomize from it, its nodes in its order.
    /// A node that is the same as before (id and address) keeps its stats; a new one is
    /// unreachable until its first poll; a removed one is forgotten (never chosen again).
    pub fn reload(&mut self, cfg: &LoadBalancingConfig) {
        self.mode = cfg.mode;
        self.randomize = cfg.randomize;
        let mut old = std::mem::take(&mut self.nodes);
        self.nodes = cfg
            .nodes
            .iter()
            .map(|n| match old.iter().position(|o| same_node(&o.cfg, n)) {
                Some(i) => {
                    let mut kept = old.swap_remove(i);
                    kept.cfg = n.clone();
                    kept
                }
                None => Tracked::new(n),
            })
            .collect();
        self.next = match self.nodes.len() {
            0 => 0,
            len => self.next % len,
        };
    }

    /// The configured nodes, in file order.
    pub fn nodes(&self) -> impl Iterator<Item = &NodeConfig> {
        self.nodes.iter().map(|n| &n.cfg)
    }

    /// Records a poll result of node `node_id` that arrived at `now`. Returns `false` for
    /// an id that is not configured.
    pub fn update(&mut self, node_id: &str, update: NodeUpdate, now: Instant) -> bool {
        let Some(node) = self.nodes.iter_mut().find(|n| n.cfg.id == node_id) else {
            return false;
        };
        node.record(update, now);
        true
    }

    /// Records a poll result of `polled` (the node as it was when the poll started) that
    /// arrived at `now`. Returns `false`, ignoring it, when that node is no longer configured
    /// at that address (a reload removed or moved it meanwhile).
    pub fn update_node(&mut self, polled: &NodeConfig, update: NodeUpdate, now: Instant) -> bool {
        let Some(node) = self.nodes.iter_mut().find(|n| same_node(&n.cfg, polled)) else {
            return false;
        };
        node.record(update, now);
        true
    }

    /// Every configured node, in file order, as the balancer sees it at `now`.
    pub fn edges(&self, now: Instant) -> Vec<EdgeStatus> {
        self.nodes
            .iter()
            .map(|n| {
                let stats = n
                    .stats
                    .map(|(at, stats)| (now.saturating_duration_since(at), stats))
                    .filter(|&(age, _)| age <= self.stale_after);
                EdgeStatus {
                    node: n.cfg.clone(),
                    reachable: stats.is_some(),
                    stats,
                }
            })
            .collect()
    }

    /// Whether node `node_id` answers its polls at `now` (draining or not).
    pub fn is_reachable(&self, node_id: &str, now: Instant) -> bool {
        self.nodes
            .iter()
            .find(|n| n.cfg.id == node_id)
            .is_some_and(|n| self.fresh(n, now).is_some())
    }

    /// How node `node_id` looks at `now`.
    pub fn availability(&self, node_id: &str, now: Instant) -> Availability {
        let stats = self
            .nodes
            .iter()
            .find(|n| n.cfg.id == node_id)
            .and_then(|n| self.fresh(n, now));
        match stats {
            None => Availability::Unreachable,
            Some(s) if s.draining => Availability::Draining,
            Some(_) => Availability::Up,
        }
    }

    /// The node's stats if it is reachable at `now`.
    fn fresh(&self, node: &Tracked, now: Instant) -> Option<NodeStats> {
        let (at, stats) = node.stats?;
        (now.saturating_duration_since(at) <= self.stale_after).then_some(stats)
    }

    /// The node's stats if it may be chosen at `now` (reachable and not draining).
    fn choosable(&self, node: &Tracked, now: Instant) -> Option<NodeStats> {
        self.fresh(node, now).filter(|s| !s.draining)
    }

    /// Picks the node for a new viewer, or `None` when no node is reachable.
    pub fn choose(&mut self, now: Instant, rng: &mut impl Rng) -> Option<&NodeConfig> {
        let index = match self.mode {
            Mode::RoundRobin => self.round_robin(now),
            Mode::Random => {
                let count = self.choosable_nodes(now).count();
                (count > 0)
                    .then(|| rng.gen_range(0..count))
                    .and_then(|k| self.choosable_nodes(now).nth(k))
            }
            Mode::FewestCalls => self.lowest(now, rng, |n, s| {
                // Exact in f64 for any realistic count (below 2^53).
                (s.calls.saturating_add(n.assigned)) as f64
            }),
            Mode::LessLoadedNode => self.lowest(now, rng, |_, s| s.system_cpu_load),
        }?;
        let node = &mut self.nodes[index];
        node.assigned += 1;
        Some(&node.cfg)
    }

    /// Indices of the nodes that may be chosen, in file order.
    fn choosable_nodes(&self, now: Instant) -> impl Iterator<Item = usize> + '_ {
        (0..self.nodes.len()).filter(move |&i| self.choosable(&self.nodes[i], now).is_some())
    }

    fn round_robin(&mut self, now: Instant) -> Option<usize> {
        let len = self.nodes.len();
        let index = (0..len)
            .map(|k| (self.next + k) % len)
            .find(|&i| self.choosable(&self.nodes[i], now).is_some())?;
        self.next = (index + 1) % len;
        Some(index)
    }

    /// The reachable node with the lowest `key`; ties go to the first one, or to a random
    /// one of them when `randomize` is set.
    fn lowest(
        &self,
        now: Instant,
        rng: &mut impl Rng,
        key: impl Fn(&Tracked, NodeStats) -> f64,
    ) -> Option<usize> {
        let keyed = |i: usize| {
            let n = &self.nodes[i];
            self.choosable(n, now).map(|s| key(n, s))
        };
        let min = (0..self.nodes.len())
            .filter_map(keyed)
            .min_by(f64::total_cmp)?;
        let mut ties = (0..self.nodes.len()).filter(move |&i| keyed(i) == Some(min));
        if self.randomize {
            let count = ties.clone().count();
            ties.nth(rng.gen_range(0..count))
        } else {
            ties.next()
        }
    }
}

impl Tracked {
    fn new(cfg: &NodeConfig) -> Self {
        Self {
            cfg: cfg.clone(),
            stats: None,
            assigned: 0,
        }
    }

    fn record(&mut self, update: NodeUpdate, now: Instant) {
        self.stats = match update {
            NodeUpdate::Stats(stats) => Some((now, stats)),
            NodeUpdate::Unreachable => None,
        };
        self.assigned = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cdn::config::StreamDistribution;
    use rand::rngs::StdRng;
    use rand::SeedableRng;
    use std::collections::HashMap;
    use std::path::PathBuf;

    const STALE: Duration = Duration::from_secs(3);

    fn cfg(mode: Mode, randomize: bool, n: usize) -> LoadBalancingConfig {
        LoadBalancingConfig {
            file: PathBuf::from("loadbalancing.xml"),
            mode,
            randomize,
            distribution: StreamDistribution::WebRtc,
            nodes: (1..=n)
                .map(|i| NodeConfig {
                    id: i.to_string(),
                    host: format!("edge{i}.example"),
                    ws: 8080,
                    wss: 8443,
                    http: 8080,
                    line: 1,
                })
                .collect(),
        }
    }

    fn stats(calls: u64, cpu: f64) -> NodeUpdate {
        NodeUpdate::Stats(NodeStats {
            calls,
            system_cpu_load: cpu,
            ..NodeStats::default()
        })
    }

    fn draining(calls: u64) -> NodeUpdate {
        NodeUpdate::Stats(NodeStats {
            calls,
            system_cpu_load: 0.0,
            draining: true,
            ..NodeStats::default()
        })
    }

    fn pick(lb: &mut LoadBalancer, now: Instant, rng: &mut StdRng) -> Option<String> {
        lb.choose(now, rng).map(|n| n.id.clone())
    }

    fn picks(lb: &mut LoadBalancer, now: Instant, rng: &mut StdRng, n: usize) -> Vec<String> {
        (0..n).map(|_| pick(lb, now, rng).unwrap()).collect()
    }

    #[test]
    fn nothing_reachable_before_the_first_poll() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        for (mode, _) in Mode::ALL {
            let mut lb = LoadBalancer::new(&cfg(mode, false, 2), STALE);
            assert_eq!(pick(&mut lb, now, &mut rng), None, "{mode:?}");
        }
    }

    #[test]
    fn round_robin_alternates_and_skips_unreachable_nodes() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut lb = LoadBalancer::new(&cfg(Mode::RoundRobin, false, 3), STALE);
        for id in ["1", "2", "3"] {
            assert!(lb.update(id, stats(0, 0.0), now));
        }
        assert_eq!(picks(&mut lb, now, &mut rng, 4), ["1", "2", "3", "1"]);
        lb.update("3", NodeUpdate::Unreachable, now);
        assert!(!lb.is_reachable("3", now));
        assert_eq!(picks(&mut lb, now, &mut rng, 3), ["2", "1", "2"]);
        lb.update("3", stats(10, 0.9), now);
        assert_eq!(picks(&mut lb, now, &mut rng, 3), ["3", "1", "2"]);
        lb.update("1", NodeUpdate::Unreachable, now);
        lb.update("2", NodeUpdate::Unreachable, now);
        assert_eq!(picks(&mut lb, now, &mut rng, 2), ["3", "3"]);
        lb.update("3", NodeUpdate::Unreachable, now);
        assert_eq!(pick(&mut lb, now, &mut rng), None);
    }

    #[test]
    fn stale_stats_make_a_node_unreachable() {
        let t0 = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut lb = LoadBalancer::new(&cfg(Mode::RoundRobin, false, 2), STALE);
        lb.update("1", stats(0, 0.0), t0);
        lb.update("2", stats(0, 0.0), t0 + Duration::from_secs(2));
        let later = t0 + STALE + Duration::from_secs(1);
        assert!(!lb.is_reachable("1", later));
        assert!(lb.is_reachable("2", later));
        assert_eq!(picks(&mut lb, later, &mut rng, 2), ["2", "2"]);
        let much_later = later + STALE;
        assert_eq!(pick(&mut lb, much_later, &mut rng), None);
    }

    #[test]
    fn edges_show_reachability_and_the_last_stats_with_their_age() {
        let mut lb = LoadBalancer::new(&cfg(Mode::RoundRobin, false, 2), STALE);
        let t0 = Instant::now();
        let none = lb.edges(t0);
        assert_eq!(none.len(), 2);
        assert!(none.iter().all(|e| !e.reachable && e.stats.is_none()));
        assert_eq!(none[1].node.id, "2");
        lb.update("1", stats(4, 0.5), t0);
        lb.update("2", NodeUpdate::Unreachable, t0);
        let t1 = t0 + Duration::from_millis(700);
        let edges = lb.edges(t1);
        assert!(edges[0].reachable);
        let (age, s) = edges[0].stats.unwrap();
        assert_eq!(age, Duration::from_millis(700));
        assert_eq!(s.calls, 4);
        assert!(!edges[1].reachable && edges[1].stats.is_none());
        assert_eq!(
            edges[0].to_json(),
            serde_json::json!({"id": "1", "host": "edge1.example", "ws": 8080, "wss": 8443,
                "http": 8080, "reachable": true, "stats_age_ms": 700, "calls": 4,
                "connections": null, "streams_in": null, "streams_out": null,
                "system_cpu_load": 0.5, "draining": false})
        );
        assert_eq!(edges[1].to_json()["calls"], serde_json::Value::Null);
        // Stale stats are not shown: the node is unreachable for the balancer too.
        let late = lb.edges(t0 + STALE + Duration::from_millis(1));
        assert!(!late[0].reachable && late[0].stats.is_none());
        assert!(!lb.is_reachable("1", t0 + STALE + Duration::from_millis(1)));
    }

    #[test]
    fn draining_nodes_are_reachable_but_never_chosen() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        for (mode, _) in Mode::ALL {
            let mut lb = LoadBalancer::new(&cfg(mode, false, 2), STALE);
            // The draining node has the fewest calls and the lowest load: still skipped.
            lb.update("1", draining(0), now);
            lb.update("2", stats(50, 0.9), now);
            assert!(lb.is_reachable("1", now));
            assert_eq!(lb.availability("1", now), Availability::Draining);
            assert_eq!(lb.availability("2", now), Availability::Up);
            assert_eq!(lb.availability("9", now), Availability::Unreachable);
            assert_eq!(
                picks(&mut lb, now, &mut rng, 3),
                ["2", "2", "2"],
                "{mode:?}"
            );
            lb.update("2", draining(50), now);
            assert_eq!(pick(&mut lb, now, &mut rng), None, "{mode:?}");
            // A node that stops draining (restarted) is chosen again.
            lb.update("1", stats(0, 0.0), now);
            assert_eq!(
                pick(&mut lb, now, &mut rng).as_deref(),
                Some("1"),
                "{mode:?}"
            );
        }
    }

    #[test]
    fn reload_keeps_unchanged_nodes_and_forgets_removed_ones() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut lb = LoadBalancer::new(&cfg(Mode::RoundRobin, false, 3), STALE);
        for id in ["1", "2", "3"] {
            lb.update(id, stats(0, 0.0), now);
        }
        // Node 1 is removed, 2 stays, 3 moves to another port, 4 is new.
        let mut next = cfg(Mode::FewestCalls, false, 4);
        next.nodes.remove(0);
        next.nodes[1].ws = 9999;
        lb.reload(&next);
        assert_eq!(
            lb.nodes().map(|n| n.id.as_str()).collect::<Vec<_>>(),
            ["2", "3", "4"]
        );
        assert!(!lb.is_reachable("1", now), "removed: at once");
        assert!(lb.is_reachable("2", now), "unchanged: keeps its stats");
        assert!(!lb.is_reachable("3", now), "moved: polled again first");
        assert!(!lb.is_reachable("4", now), "new: once polled");
        assert_eq!(picks(&mut lb, now, &mut rng, 2), ["2", "2"]);
        lb.update("4", stats(0, 0.0), now);
        // FEWESTCALLS now (the mode came with the file): 2 has the viewers sent above.
        assert_eq!(pick(&mut lb, now, &mut rng).as_deref(), Some("4"));
        // A poll of the old node 3 that returns after the reload is ignored.
        let mut old_three = next.nodes[1].clone();
        old_three.ws = 8080;
        assert!(!lb.update_node(&old_three, stats(0, 0.0), now));
        assert!(lb.update_node(&next.nodes[1], stats(0, 0.0), now));
        assert!(lb.is_reachable("3", now));
    }

    #[test]
    fn unknown_node_ids_are_rejected() {
        let mut lb = LoadBalancer::new(&cfg(Mode::Random, false, 1), STALE);
        assert!(!lb.update("9", stats(0, 0.0), Instant::now()));
        assert_eq!(lb.nodes().count(), 1);
    }

    #[test]
    fn random_spreads_over_reachable_nodes_only() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(7);
        let mut lb = LoadBalancer::new(&cfg(Mode::Random, false, 3), STALE);
        lb.update("1", stats(0, 0.0), now);
        lb.update("3", stats(0, 0.0), now);
        let mut counts = HashMap::new();
        for id in picks(&mut lb, now, &mut rng, 200) {
            *counts.entry(id).or_insert(0) += 1;
        }
        assert_eq!(counts.get("2"), None);
        assert!(counts["1"] > 0 && counts["3"] > 0, "{counts:?}");
    }

    #[test]
    fn fewest_calls_takes_the_least_busy_node() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut lb = LoadBalancer::new(&cfg(Mode::FewestCalls, false, 3), STALE);
        lb.update("1", stats(5, 0.0), now);
        lb.update("2", stats(2, 0.9), now);
        lb.update("3", stats(4, 0.1), now);
        // 2 has 2 calls (+1 per viewer sent since the poll), then ties with 3 at 4 → first.
        assert_eq!(picks(&mut lb, now, &mut rng, 3), ["2", "2", "2"]);
        assert_eq!(pick(&mut lb, now, &mut rng).as_deref(), Some("3"));
        // A new poll replaces the estimate.
        lb.update("2", stats(0, 0.0), now);
        assert_eq!(pick(&mut lb, now, &mut rng).as_deref(), Some("2"));
        lb.update("2", NodeUpdate::Unreachable, now);
        // 1 has 5 calls, 3 has 4 plus the viewer sent above: a tie, the first wins.
        assert_eq!(picks(&mut lb, now, &mut rng, 2), ["1", "3"]);
    }

    #[test]
    fn fewest_calls_ties_go_to_the_first_node_without_randomize() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut lb = LoadBalancer::new(&cfg(Mode::FewestCalls, false, 3), STALE);
        for _ in 0..20 {
            for id in ["1", "2", "3"] {
                lb.update(id, stats(3, 0.5), now);
            }
            assert_eq!(pick(&mut lb, now, &mut rng).as_deref(), Some("1"));
        }
    }

    #[test]
    fn fewest_calls_ties_are_random_with_randomize() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(3);
        let mut lb = LoadBalancer::new(&cfg(Mode::FewestCalls, true, 3), STALE);
        let mut counts = HashMap::new();
        for _ in 0..200 {
            lb.update("1", stats(3, 0.0), now);
            lb.update("2", stats(3, 0.0), now);
            lb.update("3", stats(9, 0.0), now);
            *counts
                .entry(pick(&mut lb, now, &mut rng).unwrap())
                .or_insert(0) += 1;
        }
        assert_eq!(counts.get("3"), None);
        assert!(counts["1"] > 0 && counts["2"] > 0, "{counts:?}");
    }

    #[test]
    fn less_loaded_node_takes_the_lowest_cpu() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(1);
        let mut lb = LoadBalancer::new(&cfg(Mode::LessLoadedNode, false, 3), STALE);
        lb.update("1", stats(0, 0.7), now);
        lb.update("2", stats(100, 0.2), now);
        lb.update("3", stats(1, 0.5), now);
        assert_eq!(picks(&mut lb, now, &mut rng, 2), ["2", "2"]);
        lb.update("2", NodeUpdate::Unreachable, now);
        assert_eq!(pick(&mut lb, now, &mut rng).as_deref(), Some("3"));
        lb.update("1", stats(0, 0.5), now);
        assert_eq!(
            pick(&mut lb, now, &mut rng).as_deref(),
            Some("1"),
            "tie: first"
        );
    }

    #[test]
    fn less_loaded_node_ties_are_random_with_randomize() {
        let now = Instant::now();
        let mut rng = StdRng::seed_from_u64(5);
        let mut lb = LoadBalancer::new(&cfg(Mode::LessLoadedNode, true, 2), STALE);
        lb.update("1", stats(0, 0.25), now);
        lb.update("2", stats(7, 0.25), now);
        let got = picks(&mut lb, now, &mut rng, 100);
        assert!(got.iter().any(|id| id == "1") && got.iter().any(|id| id == "2"));
    }
}
