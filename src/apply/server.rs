//! What a server reports about its generations and VMs, read into types: whether the tree must
//! be sent, what each VM was last applied with (for the plan), what is pruned. Pure functions of
//! what `remote.sh` printed, so they are tested here without ssh.

use std::collections::BTreeMap;

#[cfg(test)]
use crate::tree::sha256_hex;
use crate::tree::{Tree, hash_listing};

/// The links and generations under a host's remote root, as `remote.sh`'s `state` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct State {
    pub current: Option<String>,
    pub previous: Option<String>,
    /// The generation whose entrypoint last ran to the end.
    pub applied: Option<String>,
    /// An entrypoint started and did not finish: the units may run any mix of generations.
    pub applying: bool,
    /// Hashes, most recently made current first.
    pub generations: Vec<String>,
    /// The git commit the current generation was built from, if recorded.
    pub commit: Option<String>,
    /// sha256 of the installed template unit.
    pub unit: Option<String>,
    /// The folder systemd reads installed units from (`/etc/systemd/system`).
    pub units_dir: Option<String>,
    /// Each VM: the generation it was last applied from (`None`: a link gen did not make).
    pub vms: BTreeMap<String, Option<String>>,
    pub pending: Vec<String>,
    pub active: Vec<String>,
    /// `machines.toml` of the generations VMs were applied from, by hash.
    pub machines: BTreeMap<String, String>,
    /// VMs of gen's first layout (one Vagrant state per role group): (group, node).
    pub legacy: Vec<(String, String)>,
}

impl State {
    /// Reads `state`'s lines. The error is about a `current` that gen did not make.
    pub(crate) fn parse(lines: &[String]) -> Result<State, String> {
        let mut state = State::default();
        for line in lines {
            let (key, value) = line.split_once(' ').unwrap_or((line, ""));
            match key {
                "current" => {
                    state.current = generation_of(value);
                    if state.current.is_none() && !value.is_empty() {
                        return Err(format!("`current` points at `{value}`, not at a generation"));
                    }
                }
                "previous" => state.previous = generation_of(value),
                "applied" => state.applied = generation_of(value),
                "applying" => state.applying = true,
                "foreign-current" => {
                    return Err("`current` is not a symlink; gen did not make it".to_string());
                }
                "generation" if is_hash(value) => state.generations.push(value.to_string()),
                "commit" => state.commit = Some(value.to_string()),
                "unit" => state.unit = Some(value.to_string()),
                "units" => state.units_dir = Some(value.to_string()),
                "vm" => {
                    let (node, target) = value.split_once(' ').unwrap_or((value, ""));
                    state.vms.insert(node.to_string(), vm_generation(target));
                }
                "pending" => state.pending.push(value.to_string()),
                "active" => state.active.push(value.to_string()),
                "machines" => {
                    let (hash, line) = value.split_once(' ').unwrap_or((value, ""));
                    let text = state.machines.entry(hash.to_string()).or_default();
                    text.push_str(line);
                    text.push('\n');
                }
                "legacy" => {
                    let (group, node) = value.split_once(' ').unwrap_or((value, ""));
                    state.legacy.push((group.to_string(), node.to_string()));
                }
                _ => {}
            }
        }
        Ok(state)
    }

    pub(crate) fn has(&self, hash: &str) -> bool {
        self.generations.iter().any(|g| g == hash)
    }

    /// The generations beyond the `keep` most recently current ones; never the current, the
    /// previous (for `gen rollback`), the applied one, or one a VM was applied from (its
    /// Vagrantfile is what destroys it).
    pub(crate) fn to_drop(&self, keep: usize) -> Vec<String> {
        let kept = [&self.current, &self.previous, &self.applied];
        self.generations
            .iter()
            .enumerate()
            .filter(|(i, g)| *i >= keep && !kept.iter().any(|k| k.as_deref() == Some(g.as_str())))
            .filter(|(_, g)| !self.vms.values().any(|v| v.as_deref() == Some(g.as_str())))
            .map(|(_, g)| g.clone())
            .collect()
    }

    /// The VMs as the plan sees them.
    pub(crate) fn seen(&self) -> Result<crate::apply::plan::Seen, String> {
        use crate::apply::plan::{Seen, Vm, parse_machines};
        let mut parsed = BTreeMap::new();
        for (hash, text) in &self.machines {
            parsed.insert(hash.clone(), parse_machines(text)?);
        }
        let vms = self
            .vms
            .iter()
            .map(|(node, hash)| {
                let facts = hash
                    .as_ref()
                    .and_then(|h| parsed.get(h))
                    .and_then(|m: &crate::apply::plan::Machines| m.get(node))
                    .cloned();
                let vm = Vm {
                    facts,
                    active: self.active.contains(node),
                    pending: self.pending.contains(node),
                };
                (node.clone(), vm)
            })
            .collect();
        Ok(Seen { vms, unit: self.unit.clone(), current: self.current.clone() })
    }
}

/// `…/generations/<hash>/vms/<node>` → the hash.
fn vm_generation(target: &str) -> Option<String> {
    let (before, _) = target.rsplit_once("/vms/")?;
    let (_, hash) = before.rsplit_once("/generations/")?;
    is_hash(hash).then(|| hash.to_string())
}

/// `generations/<hash>` → the hash.
fn generation_of(target: &str) -> Option<String> {
    target.strip_prefix("generations/").filter(|h| is_hash(h)).map(String::from)
}

pub(crate) fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The first 12 digits: enough to tell generations apart in a message.
pub(crate) fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The files of a folder by path: mode (`644`, `755` or `other`) and sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Listing {
    files: BTreeMap<String, (String, String)>,
}

impl Listing {
    /// Reads `listing`'s lines, `MODE SHA256  ./PATH`.
    pub(crate) fn parse(lines: &[String]) -> Listing {
        let mut files = BTreeMap::new();
        for line in lines {
            let mut words = line.splitn(3, ' ');
            let (Some(mode), Some(sha), Some(path)) = (words.next(), words.next(), words.next())
            else {
                continue;
            };
            let path = path.trim_start_matches(' ');
            let path = path.strip_prefix("./").unwrap_or(path);
            files.insert(path.to_string(), (mode.to_string(), sha.to_string()));
        }
        Listing { files }
    }

    /// The files `gen apply` sends to `host`.
    pub(crate) fn of_host(tree: &Tree, host: &str) -> Listing {
        let files = tree
            .subtree(&crate::layout::host_dir(host))
            .map(|(path, file)| (path.to_string(), (file.mode.to_string(), file.sha256())))
            .collect();
        Listing { files }
    }

    /// The tree hash (README, "The tree hash") of these files: a folder on the server is the
    /// generation it is named after exactly when this equals the name.
    pub(crate) fn hash(&self) -> String {
        hash_listing(
            self.files.iter().map(|(path, (mode, sha))| (path.as_str(), mode, sha.as_str())),
        )
    }

    pub(crate) fn len(&self) -> usize {
        self.files.len()
    }

    pub(crate) fn sha(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|(_, sha)| sha.as_str())
    }
}

/// How a file of the server's current generation becomes the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Edit {
    Add,
    /// Other bytes or another mode.
    Change,
    Remove,
}

impl Edit {
    pub(crate) fn word(self) -> &'static str {
        match self {
            Edit::Add => "add",
            Edit::Change => "change",
            Edit::Remove => "remove",
        }
    }
}

/// Every file that differs between `from` (the server's) and `to` (the tree's), in path order.
pub(crate) fn changes(from: &Listing, to: &Listing) -> Vec<(Edit, String)> {
    let mut paths: Vec<&String> = from.files.keys().chain(to.files.keys()).collect();
    paths.sort();
    paths.dedup();
    paths
        .into_iter()
        .filter_map(|path| match (from.files.get(path), to.files.get(path)) {
            (None, Some(_)) => Some((Edit::Add, path.clone())),
            (Some(_), None) => Some((Edit::Remove, path.clone())),
            (Some(a), Some(b)) if a != b => Some((Edit::Change, path.clone())),
            _ => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(text: &str) -> Vec<String> {
        text.lines().map(String::from).collect()
    }

    fn h(c: char) -> String {
        c.to_string().repeat(64)
    }

    #[test]
    fn state_reads_links_markers_and_generations() {
        let text = format!(
            "current generations/{a}\nprevious generations/{b}\napplied \napplying\n\
             generation {a}\ngeneration notes.txt\ngeneration {b}\n",
            a = h('a'),
            b = h('b')
        );
        let state = State::parse(&lines(&text)).unwrap();
        assert_eq!(state.current, Some(h('a')));
        assert_eq!(state.previous, Some(h('b')));
        assert_eq!(state.applied, None);
        assert!(state.applying);
        assert_eq!(state.generations, vec![h('a'), h('b')]);
    }

    #[test]
    fn a_current_gen_did_not_make_is_refused() {
        assert!(State::parse(&lines("current /etc\n")).is_err());
        assert!(State::parse(&lines("current \nforeign-current\n")).is_err());
        assert_eq!(State::parse(&lines("current \n")).unwrap(), State::default());
    }

    #[test]
    fn pruning_keeps_the_newest_and_every_linked_generation() {
        let state = State {
            current: Some(h('a')),
            previous: Some(h('b')),
            applied: Some(h('e')),
            applying: false,
            generations: vec![h('a'), h('b'), h('c'), h('d'), h('e'), h('f')],
            ..State::default()
        };
        assert_eq!(state.to_drop(3), vec![h('d'), h('f')]);
        assert_eq!(state.to_drop(0), vec![h('c'), h('d'), h('f')]);
        assert!(state.to_drop(10).is_empty());
    }

    #[test]
    fn a_listing_hashes_like_the_tree() {
        let mut tree = Tree::new();
        tree.insert_text("hosts/a/apply.sh", "run");
        tree.insert_text("hosts/a/vms/w/Vagrantfile", "vf");
        tree.insert_text("hosts/b/apply.sh", "other");
        let remote = format!(
            "755 {}  ./apply.sh\n644 {}  ./vms/w/Vagrantfile\n",
            sha256_hex(b"run\n"),
            sha256_hex(b"vf\n")
        );
        let listing = Listing::parse(&lines(&remote));
        assert_eq!(listing, Listing::of_host(&tree, "a"));
        assert_eq!(listing.hash(), tree.host_hash("a"));
        let odd = Listing::parse(&lines(&format!("{remote}other -  ./link\n")));
        assert_ne!(odd.hash(), tree.host_hash("a"));
    }

    #[test]
    fn changes_follow_the_files() {
        let listing = |entries: &[(&str, &str)]| Listing {
            files: entries
                .iter()
                .map(|(p, s)| (p.to_string(), ("644".to_string(), s.to_string())))
                .collect(),
        };
        let old = listing(&[("cp/Vagrantfile", "1"), ("w/Vagrantfile", "1"), ("old.yaml", "1")]);
        let new = listing(&[("cp/Vagrantfile", "1"), ("w/Vagrantfile", "2"), ("n.yaml", "1")]);
        assert_eq!(
            changes(&old, &new),
            vec![
                (Edit::Add, "n.yaml".to_string()),
                (Edit::Remove, "old.yaml".to_string()),
                (Edit::Change, "w/Vagrantfile".to_string()),
            ]
        );
    }
}
