//! What a server reports about its generations, and every decision gen takes from that: whether
//! the tree must be sent, what the entrypoint is told ran before, what a dry run shows, what is
//! pruned. Pure functions of what `remote.sh` printed, so they are tested here without ssh.

use std::collections::BTreeMap;

#[cfg(test)]
use crate::tree::sha256_hex;
use crate::tree::{Tree, hash_listing};

/// The links and generations under a host's remote root, as `remote.sh`'s `state` prints them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub current: Option<String>,
    pub previous: Option<String>,
    /// The generation whose entrypoint last ran to the end.
    pub applied: Option<String>,
    /// An entrypoint started and did not finish: the units may run any mix of generations.
    pub applying: bool,
    /// Hashes, most recently made current first.
    pub generations: Vec<String>,
}

impl State {
    /// Reads `state`'s lines. The error is about a `current` that gen did not make.
    pub fn parse(lines: &[String]) -> Result<State, String> {
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
                _ => {}
            }
        }
        Ok(state)
    }

    pub fn has(&self, hash: &str) -> bool {
        self.generations.iter().any(|g| g == hash)
    }

    /// What the next entrypoint is told the units run now. After an entrypoint was cut short,
    /// nothing: then it restarts every group, the only safe answer when some groups may run
    /// one generation and some another.
    pub fn running(&self) -> Option<&str> {
        if self.applying {
            return None;
        }
        self.applied.as_deref().filter(|a| self.has(a))
    }

    /// The generations beyond the `keep` most recently current ones; never the current, the
    /// previous (for `gen rollback`) or the one the units run.
    pub fn to_drop(&self, keep: usize) -> Vec<String> {
        let kept = [&self.current, &self.previous, &self.applied];
        self.generations
            .iter()
            .enumerate()
            .filter(|(i, g)| *i >= keep && !kept.iter().any(|k| k.as_deref() == Some(g.as_str())))
            .map(|(_, g)| g.clone())
            .collect()
    }
}

/// `generations/<hash>` → the hash.
fn generation_of(target: &str) -> Option<String> {
    target.strip_prefix("generations/").filter(|h| is_hash(h)).map(String::from)
}

pub fn is_hash(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

/// The first 12 digits: enough to tell generations apart in a message.
pub fn short(hash: &str) -> &str {
    &hash[..hash.len().min(12)]
}

/// The files of a folder by path: mode (`644`, `755` or `other`) and sha256.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Listing {
    files: BTreeMap<String, (String, String)>,
}

impl Listing {
    /// Reads `listing`'s lines, `MODE SHA256  ./PATH`.
    pub fn parse(lines: &[String]) -> Listing {
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
    pub fn of_host(tree: &Tree, host: &str) -> Listing {
        let files = tree
            .subtree(&crate::layout::host_dir(host))
            .map(|(path, file)| (path.to_string(), (file.mode.to_string(), file.sha256())))
            .collect();
        Listing { files }
    }

    /// The tree hash (README, "The tree hash") of these files: a folder on the server is the
    /// generation it is named after exactly when this equals the name.
    pub fn hash(&self) -> String {
        hash_listing(
            self.files.iter().map(|(path, (mode, sha))| (path.as_str(), mode, sha.as_str())),
        )
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    fn sha(&self, path: &str) -> Option<&str> {
        self.files.get(path).map(|(_, sha)| sha.as_str())
    }
}

/// How a file of the server's current generation becomes the new one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edit {
    Add,
    /// Other bytes or another mode.
    Change,
    Remove,
}

impl Edit {
    pub fn word(self) -> &'static str {
        match self {
            Edit::Add => "add",
            Edit::Change => "change",
            Edit::Remove => "remove",
        }
    }
}

/// Every file that differs between `from` (the server's) and `to` (the tree's), in path order.
pub fn changes(from: &Listing, to: &Listing) -> Vec<(Edit, String)> {
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

/// The units the entrypoint will restart: apply.sh restarts a group unless each of its inputs
/// has the same bytes in the generation the units run (`running`; none: every group).
pub fn restarts(
    groups: &[(String, Vec<String>)],
    running: Option<&Listing>,
    to: &Listing,
) -> Vec<String> {
    groups
        .iter()
        .filter(|(_, inputs)| {
            running
                .is_none_or(|r| inputs.iter().any(|i| r.sha(i).is_none() || r.sha(i) != to.sha(i)))
        })
        .map(|(unit, _)| unit.clone())
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
    fn the_entrypoint_is_told_the_applied_generation_unless_one_was_cut_short() {
        let mut state = State {
            current: Some(h('b')),
            applied: Some(h('a')),
            generations: vec![h('b'), h('a')],
            ..State::default()
        };
        assert_eq!(state.running(), Some(h('a').as_str()));
        state.applying = true;
        assert_eq!(state.running(), None);
        state.applying = false;
        state.generations.pop();
        assert_eq!(state.running(), None, "a generation that is gone cannot be compared with");
    }

    #[test]
    fn pruning_keeps_the_newest_and_every_linked_generation() {
        let state = State {
            current: Some(h('a')),
            previous: Some(h('b')),
            applied: Some(h('e')),
            applying: false,
            generations: vec![h('a'), h('b'), h('c'), h('d'), h('e'), h('f')],
        };
        assert_eq!(state.to_drop(3), vec![h('d'), h('f')]);
        assert_eq!(state.to_drop(0), vec![h('c'), h('d'), h('f')]);
        assert!(state.to_drop(10).is_empty());
    }

    #[test]
    fn a_listing_hashes_like_the_tree() {
        let mut tree = Tree::new();
        tree.insert_text("hosts/a/apply.sh", "run");
        tree.insert_text("hosts/a/workers/Vagrantfile", "vf");
        tree.insert_text("hosts/b/apply.sh", "other");
        let remote = format!(
            "755 {}  ./apply.sh\n644 {}  ./workers/Vagrantfile\n",
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
    fn changes_and_restarts_follow_the_files() {
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
        let groups = vec![
            ("cp.service".to_string(), vec!["cp/Vagrantfile".to_string()]),
            ("w.service".to_string(), vec!["w/Vagrantfile".to_string(), "n.yaml".to_string()]),
        ];
        assert_eq!(restarts(&groups, Some(&old), &new), vec!["w.service"]);
        assert_eq!(restarts(&groups, Some(&new), &new), Vec::<String>::new());
        assert_eq!(restarts(&groups, None, &new), vec!["cp.service", "w.service"]);
    }
}
