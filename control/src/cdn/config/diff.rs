//! What a re-read `loadbalancing.xml` changes in the list of edges (SIGHUP): which nodes are
//! new, which are gone and which stay. A node is the same node when its `id` and every
//! address field (`<ip>`, `<ws>`, `<wss>`, `<http>`) are equal; a node whose address changed
//! under the same id is both removed and added (its relay legs must be restarted).
//!
//! Pure comparison: the balancer and the relay legs each apply it to their own state.

use std::fmt;

use super::NodeConfig;

/// Whether `a` and `b` are the same edge at the same address (the line they are on does not
/// matter).
pub fn same_node(a: &NodeConfig, b: &NodeConfig) -> bool {
    a.id == b.id && a.host == b.host && a.ws == b.ws && a.wss == b.wss && a.http == b.http
}

/// The difference between two node lists, by node id in the new file's order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodesDiff {
    /// Ids of nodes that are new, or whose address changed.
    pub added: Vec<String>,
    /// Ids of nodes that are gone, or whose address changed.
    pub removed: Vec<String>,
    /// Ids of nodes kept as they were.
    pub unchanged: Vec<String>,
}

impl NodesDiff {
    /// What going from `old` to `new` changes.
    pub fn between(old: &[NodeConfig], new: &[NodeConfig]) -> Self {
        let kept = |n: &NodeConfig, other: &[NodeConfig]| other.iter().any(|o| same_node(n, o));
        Self {
            added: new
                .iter()
                .filter(|n| !kept(n, old))
                .map(|n| n.id.clone())
                .collect(),
            removed: old
                .iter()
                .filter(|n| !kept(n, new))
                .map(|n| n.id.clone())
                .collect(),
            unchanged: new
                .iter()
                .filter(|n| kept(n, old))
                .map(|n| n.id.clone())
                .collect(),
        }
    }

    /// Whether nothing was added or removed.
    pub fn is_empty(&self) -> bool {
        self.added.is_empty() && self.removed.is_empty()
    }
}

impl fmt::Display for NodesDiff {
    /// `added [3], removed [1], 2 unchanged`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "added [{}], removed [{}], {} unchanged",
            self.added.join(", "),
            self.removed.join(", "),
            self.unchanged.len()
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn node(id: &str, ws: u16, line: u32) -> NodeConfig {
        NodeConfig {
            id: id.into(),
            host: "10.0.0.1".into(),
            ws,
            wss: 8443,
            http: ws,
            line,
        }
    }

    #[test]
    fn nodes_are_compared_by_id_and_address_not_line() {
        let old = [node("1", 8080, 2), node("2", 8080, 3), node("3", 8080, 4)];
        // 1 moved to another line only, 2 is gone, 3 changed its port, 4 is new.
        let new = [node("4", 8080, 2), node("1", 8080, 3), node("3", 9090, 4)];
        let diff = NodesDiff::between(&old, &new);
        assert_eq!(diff.added, ["4", "3"]);
        assert_eq!(diff.removed, ["2", "3"]);
        assert_eq!(diff.unchanged, ["1"]);
        assert!(!diff.is_empty());
        assert_eq!(
            diff.to_string(),
            "added [4, 3], removed [2, 3], 1 unchanged"
        );
        let same = NodesDiff::between(&old, &old);
        assert!(same.is_empty());
        assert_eq!(same.unchanged.len(), 3);
    }
}
