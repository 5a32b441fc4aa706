//! Whether one server holds a majority of the etcd members, so that losing it stops the cluster.

use std::collections::BTreeMap;

use crate::error::EtcdMajority;
use crate::record::Record;

/// A server that holds more than half of the etcd members (every control plane): losing it
/// loses quorum, and with it the cluster's API. `None` when no server does.
pub fn etcd_majority(record: &Record) -> Option<EtcdMajority> {
    let total = record.control_planes.len();
    let mut per_host: BTreeMap<&str, usize> = BTreeMap::new();
    for name in &record.control_planes {
        *per_host.entry(record.nodes[name].host.as_str()).or_default() += 1;
    }
    let servers: std::collections::BTreeSet<&str> =
        record.nodes.values().map(|n| n.host.as_str()).collect();
    // On one server there is no other place to put a member.
    if servers.len() < 2 {
        return None;
    }
    let (host, held) =
        per_host.into_iter().max_by_key(|(host, n)| (*n, std::cmp::Reverse(*host)))?;
    (2 * held > total).then(|| EtcdMajority {
        host: host.to_string(),
        held,
        total,
        servers: servers.len(),
    })
}
