//! "Did you mean": the known name a typo most likely meant, for keys, values and host names.
//!
//! One rule for every suggestion gen makes, so that a misspelt key, role, release or host reads
//! the same everywhere. The distance is clap's own (`strsim`), so `gen apply vmhots1` is
//! answered as clap answers a misspelt subcommand.

/// The known name closest to `typed`, if it is close enough to be what the user meant: within
/// an edit distance of a third of its length (at least 1), ignoring case. Two letters swapped
/// count as one edit. Ties go to the earlier name in `known`.
pub fn closest<'k>(typed: &str, known: &'k [impl AsRef<str>]) -> Option<&'k str> {
    let typed = typed.to_lowercase();
    let limit = (typed.chars().count() / 3).max(1);
    let mut best: Option<(usize, &str)> = None;
    for name in known {
        let name = name.as_ref();
        let distance = strsim::osa_distance(&typed, &name.to_lowercase());
        if distance <= limit && best.is_none_or(|(d, _)| distance < d) {
            best = Some((distance, name));
        }
    }
    best.map(|(_, name)| name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typos_get_a_suggestion_and_strangers_do_not() {
        let known = ["address", "user", "bridge", "host_key", "port", "root"];
        assert_eq!(closest("adress", &known), Some("address"));
        assert_eq!(closest("hostkey", &known), Some("host_key"));
        assert_eq!(closest("Bridge", &known), Some("bridge"));
        assert_eq!(closest("brigde", &known), Some("bridge"));
        assert_eq!(closest("colour", &known), None);
    }

    #[test]
    fn values_and_hosts_are_matched_the_same_way() {
        assert_eq!(closest("vmhots1", &["vmhost1", "vmhost2"]), Some("vmhost1"));
        assert_eq!(closest("2.28.1", &["v2.31.0", "v2.28.1", "v2.28.0"]), Some("v2.28.1"));
        assert_eq!(closest("master", &["control-plane", "worker"]), None);
        assert_eq!(closest("wroker", &["control-plane", "worker"]), Some("worker"));
    }
}
