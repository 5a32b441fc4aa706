//! `gen build`: judge the change against the record `out/` holds, write the tree, and say what
//! changed, by whom it concerns, with the next step for each.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::Path;

use super::paths::Paths;
use crate::Built;
use crate::change;
use crate::error::{Error, Result, Warning, exit, warn};
use crate::layout;
use crate::lock;
use crate::record::Record;
use crate::tree::{MANIFEST, Tree};
use crate::verbosity;
use crate::write::{self, Written};

/// Judges the change against the record `out/` holds, then writes: a change kubespray cannot
/// make leaves `out/` as it was.
pub(super) fn build(paths: &Paths, built: &Built, allow: change::Allow) -> Result<u8> {
    let _lock = lock::exclusive(&paths.out)?;
    let new = Record::of_tree(&built.tree);
    let old = read_record(&paths.out)?;
    let judgement = change::judge(old.as_ref(), &new, allow).map_err(|refusals| {
        Error::UnsafeChange { refusals: refusals.iter().map(change::Refusal::objection).collect() }
    })?;
    let report = write::write_tree(&paths.out, &built.tree, &built.manifest)?;
    for refusal in judgement.allowed {
        warn(&refusal.warning());
    }
    if let Some(majority) = change::etcd_majority(&new) {
        warn(&Warning::EtcdMajority(majority));
    }
    verbosity::progress(&summary(&report, &built.tree, &paths.out_label(), &judgement.steps));
    Ok(exit::OK)
}

/// The record of what `out/` deploys now; `None` when there is none (nothing built yet, or a
/// tree from a gen that wrote no record). A record that is not UTF-8 is refused as a corrupt
/// one, with the way out, as a manifest that is not UTF-8 is.
pub(super) fn read_record(out: &Path) -> Result<Option<Record>> {
    let path = out.join(layout::RECORD);
    match std::fs::read(&path) {
        Ok(bytes) => {
            let Ok(text) = String::from_utf8(bytes) else {
                return Err(Error::BadRecord { path, reason: "it is not UTF-8".to_string() });
            };
            Record::parse(&text).map(Some).map_err(|reason| Error::BadRecord { path, reason })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, "read", e)),
    }
}

/// Whom a change concerns: each host's `gen apply`, the kubespray run from the laptop, or
/// neither (`out/README.md`). Hosts sort first, by name; kubespray last, so that its commands
/// are the summary's last steps.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Group<'a> {
    Host(&'a str),
    Other,
    Kubespray,
}

impl<'a> Group<'a> {
    fn of(path: &'a str) -> Group<'a> {
        if let Some(host) = layout::host_of(path) {
            return Group::Host(host);
        }
        if layout::is_kubespray(path) { Group::Kubespray } else { Group::Other }
    }
}

/// What `gen build` did, by whom it concerns, with the next step for each: `steps` are the
/// kubespray commands the change needs.
fn summary(report: &Written, tree: &Tree, out: &str, steps: &[change::Step]) -> String {
    let mut groups: BTreeMap<Group, Vec<(&str, &str)>> = BTreeMap::new();
    let changes =
        [("added", &report.added), ("changed", &report.changed), ("removed", &report.removed)];
    for (verb, paths) in changes {
        for path in paths.iter().filter(|p| *p != MANIFEST) {
            groups.entry(Group::of(path)).or_default().push((verb, path));
        }
    }

    let mut text = String::new();
    if report.is_up_to_date() {
        let _ = writeln!(text, "`{out}` is up to date");
    } else if groups.is_empty() {
        let _ = writeln!(
            text,
            "updated `{out}/{MANIFEST}`: the site file changed, the files it gives did not"
        );
    }
    for (group, mut files) in groups {
        files.sort_by_key(|(_, path)| *path);
        let counts = ["added", "changed", "removed"]
            .into_iter()
            .filter_map(|verb| {
                let n = files.iter().filter(|(v, _)| *v == verb).count();
                (n > 0).then(|| format!("{n} {verb}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = match group {
            Group::Host(host) if tree.subtree(&layout::host_dir(host)).next().is_none() => {
                writeln!(text, "host {host}: {counts}; it is no longer in the site file")
            }
            Group::Host(host) => writeln!(text, "host {host}: {counts}; run `gen apply {host}`"),
            Group::Kubespray => writeln!(text, "kubespray: {counts}"),
            Group::Other => writeln!(text, "other: {counts}"),
        };
        for (verb, path) in files {
            let _ = writeln!(text, "  {verb:<8} {out}/{path}");
        }
        if group == Group::Kubespray {
            // A change the record does not show (group_vars) still needs kubespray to run.
            let rerun = [change::Step::Rerun];
            let steps = if steps.is_empty() { &rerun[..] } else { steps };
            let _ = writeln!(text, "then, from this machine, in order:");
            text += &change::commands(steps, out);
        }
    }
    if !report.unknown.is_empty() {
        let n = report.unknown.len();
        let files = if n == 1 { "file" } else { "files" };
        let _ = writeln!(text, "unknown: {n} {files} that gen did not make, kept");
        for path in &report.unknown {
            let _ = writeln!(text, "  unknown  {out}/{path}");
        }
    }
    if !report.kept.is_empty() {
        let n = report.kept.len();
        let (files, them) = if n == 1 { ("file", "it") } else { ("files", "them") };
        let _ = writeln!(
            text,
            "kept: {n} {files} that gen no longer makes but that changed since gen wrote {them}"
        );
        for path in &report.kept {
            let _ = writeln!(text, "  kept     {out}/{path}");
        }
        let _ = writeln!(
            text,
            "  fix: {them} may hold your edits: move {them} out of `{out}`, or delete {them} if \
             not"
        );
    }
    if !report.temporaries.is_empty() {
        let n = report.temporaries.len();
        let files = if n == 1 { "file" } else { "files" };
        let _ = writeln!(text, "deleted {n} temporary {files} left by an interrupted build");
    }
    if !report.is_up_to_date() {
        text += "review `git diff out/`, then `git add out/` and commit before you apply\n";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn summary_groups_by_host_and_names_the_next_step() {
        let mut tree = Tree::new();
        tree.insert_text("hosts/a/apply.sh", "x");
        tree.insert_text("kubespray/deploy.sh", "x");
        let report = Written {
            added: strings(&["hosts/a/apply.sh", "manifest.toml"]),
            changed: strings(&["kubespray/inventory/hosts.yaml"]),
            removed: strings(&["hosts/a/workers/Vagrantfile", "hosts/b/apply.sh"]),
            unknown: strings(&["notes.txt"]),
            kept: vec![],
            temporaries: vec![],
        };
        assert_eq!(
            summary(
                &report,
                &tree,
                "out",
                &[change::Step::Upgrade { from: "a".into(), to: "b".into() }]
            ),
            "host a: 1 added, 1 removed; run `gen apply a`\n\
            \x20 added    out/hosts/a/apply.sh\n\
            \x20 removed  out/hosts/a/workers/Vagrantfile\n\
             host b: 1 removed; it is no longer in the site file\n\
            \x20 removed  out/hosts/b/apply.sh\n\
             kubespray: 1 changed\n\
            \x20 changed  out/kubespray/inventory/hosts.yaml\n\
             then, from this machine, in order:\n\
            \x20 1. out/kubespray/deploy.sh upgrade-cluster.yml\n\
             unknown: 1 file that gen did not make, kept\n\
            \x20 unknown  out/notes.txt\n\
             review `git diff out/`, then `git add out/` and commit before you apply\n"
        );
    }

    #[test]
    fn summary_says_up_to_date_and_still_lists_unknown_files() {
        let report = Written { unknown: strings(&["a~", "b~"]), ..Written::default() };
        assert_eq!(
            summary(&report, &Tree::new(), "lab/out", &[]),
            "`lab/out` is up to date\n\
             unknown: 2 files that gen did not make, kept\n\
            \x20 unknown  lab/out/a~\n\
            \x20 unknown  lab/out/b~\n"
        );
    }

    #[test]
    fn summary_explains_a_manifest_only_change() {
        let report = Written { changed: strings(&["manifest.toml"]), ..Written::default() };
        assert_eq!(
            summary(&report, &Tree::new(), "out", &[]),
            "updated `out/manifest.toml`: the site file changed, the files it gives did not\n\
             review `git diff out/`, then `git add out/` and commit before you apply\n"
        );
    }
}
