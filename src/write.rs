//! Puts a built [`Tree`] into `out/`: only what changed, never a torn file, never anything gen
//! did not make.
//!
//! Writing is planned first and done second. The plan reads the whole folder (without following
//! symlinks), the previous manifest and the new tree, and refuses anything it would have to
//! write through, replace or delete that is not a plain file or folder of gen's; so every error
//! is found before the first change on disk.
//!
//! Ownership comes from the previous manifest: a file it lists and the new tree lacks is pruned,
//! but only while its bytes and mode are still exactly what the manifest recorded. A file the
//! user edited since, or one a stale or hand-edited manifest names, is kept and reported. A file
//! neither lists is the user's: it is reported as unknown and left alone. A path the new tree has
//! is gen's by definition of the layout, so a stray file there is overwritten. A folder is removed
//! only when deleting one of gen's files (or temporaries) in this build left it empty: a folder
//! that a manifest merely names is never gen's to remove.
//!
//! What to write is decided by comparing bytes and mode on disk with the tree, never by trusting
//! the hashes in the old manifest, so a half-finished build is repaired by the next one.
//!
//! Every file goes in by temporary file and rename, so no reader and no crash of gen itself
//! (kill, panic, full disk) ever sees a torn file. Only the manifest is also flushed to disk
//! (fsync of the file before its rename, then of `out/`), because it is the one file a later
//! build trusts: it says what may be pruned. Other files are not flushed one by one: after a
//! crash of the machine, a file renamed just before may have lost its content, and since the
//! manifest never vouches for content, `gen check` names that file and the next `gen build`
//! rewrites it. An fsync per file would buy nothing more, at a price: 13,000 of them make a
//! cold build of 1,000 servers about 20 times slower on ext4 (bench/run.sh --dir).

use std::collections::BTreeSet;
use std::fs;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use crate::diff::{Disk, Entry};
use crate::error::{Error, Result};
use crate::manifest::{self, Manifest};
use crate::tree::{MANIFEST, Mode, Tree, sha256_hex};

/// What `write_tree` did, as relative paths in byte order. `manifest.toml` is a file like any
/// other here.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Written {
    pub added: Vec<String>,
    /// Other bytes or another mode.
    pub changed: Vec<String>,
    /// Made by gen before, no longer made, still as gen wrote it: deleted.
    pub removed: Vec<String>,
    /// Listed by the previous manifest, no longer made, but not the bytes or mode it recorded
    /// (edited since, or the manifest is stale): kept, since it may be the user's work.
    pub kept: Vec<String>,
    /// Found in `out/`, never made by gen, kept: editor backups, notes, stray links.
    pub unknown: Vec<String>,
    /// gen's temporary files (`is_temporary`) that an interrupted build left, deleted.
    pub temporaries: Vec<String>,
}

impl Written {
    /// Nothing of the tree was written or removed (leftover temporaries may have been).
    pub fn is_up_to_date(&self) -> bool {
        self.added.is_empty() && self.changed.is_empty() && self.removed.is_empty()
    }
}

struct Plan {
    report: Written,
    /// Written before any file the previous manifest does not list (see `plan`).
    interim_manifest: Option<String>,
}

/// Makes `out` hold exactly `tree` and its `manifest` (as `crate::build` gives them; a
/// `manifest.toml` in `tree` itself is ignored, the value is what is written).
///
/// The caller holds the lock on `out` (`lock::exclusive`). An error before the first change on
/// disk is returned as it is; one after is wrapped in `Error::PartialBuild`, which names what
/// was already written and deleted: `out` then mixes two builds until the next one repairs it.
pub fn write_tree(out: &Path, tree: &Tree, manifest: &Manifest) -> Result<Written> {
    let manifest_text = manifest.to_toml();
    let plan = plan(out, tree, manifest, manifest_text.as_bytes())?;
    let mut done = Done::default();
    match carry_out(out, tree, &plan, &manifest_text, &mut done) {
        Ok(()) => Ok(plan.report),
        Err(cause) if done.written.is_empty() && done.removed.is_empty() => Err(cause),
        Err(cause) => Err(Error::PartialBuild {
            out: out.to_path_buf(),
            cause: Box::new(cause),
            written: done.written,
            removed: done.removed,
        }),
    }
}

/// What `carry_out` has changed so far, for the message if it fails midway.
#[derive(Default)]
struct Done {
    written: Vec<String>,
    removed: Vec<String>,
}

fn carry_out(
    out: &Path,
    tree: &Tree,
    plan: &Plan,
    manifest_text: &str,
    done: &mut Done,
) -> Result<()> {
    fs::create_dir_all(out).map_err(|e| Error::io(out, "create", e))?;
    // Messages name `out` as the user did; temporary files are made in the absolute folder,
    // which the tempfile crate would otherwise work out with a getcwd per file.
    let out = &Out {
        named: out,
        absolute: std::path::absolute(out).map_err(|e| Error::io(out, "read", e))?,
    };
    if let Some(text) = &plan.interim_manifest {
        write_manifest(out, text.as_bytes(), Mode::Regular)?;
        done.written.push(MANIFEST.to_string());
    }
    let report = &plan.report;
    for path in report.added.iter().chain(&report.changed).filter(|p| *p != MANIFEST) {
        let file = tree.get(path).expect("planned from the tree");
        write_file(out, path, &file.bytes, file.mode, false)?;
        done.written.push(path.clone());
    }
    prune(out.named, plan, done)?;
    let manifest_differs = report.added.iter().chain(&report.changed).any(|p| p == MANIFEST);
    let interim_was_final =
        plan.interim_manifest.as_ref().is_some_and(|text| *text == manifest_text);
    if (manifest_differs || plan.interim_manifest.is_some()) && !interim_was_final {
        write_manifest(out, manifest_text.as_bytes(), Mode::for_path(MANIFEST))?;
    }
    Ok(())
}

fn plan(out: &Path, tree: &Tree, manifest: &Manifest, manifest_text: &[u8]) -> Result<Plan> {
    let disk = Disk::read(out)?;
    // A manifest on disk with the new one's bytes lists exactly the files of the new tree, so
    // it need not be parsed (2 MB at 1,000 servers, a tenth of a no-op build).
    let same_manifest = matches!(disk.get(MANIFEST),
        Some(Entry::File { bytes, .. }) if *bytes == manifest_text);
    let previous = if same_manifest { None } else { previous_manifest(out, &disk)? };
    let owned_before: BTreeSet<&str> = if same_manifest {
        manifest.files.keys().map(String::as_str).collect()
    } else {
        previous.iter().flat_map(|m| m.files.keys()).map(String::as_str).collect()
    };

    let mut report = Written::default();
    for (path, file) in tree.iter().filter(|(path, _)| *path != MANIFEST) {
        check_folders(out, &disk, path)?;
        match disk.get(path) {
            None => {
                check_absent(out, &disk, path)?;
                report.added.push(path.to_string());
            }
            Some(Entry::File { bytes, mode }) => {
                if *bytes != file.bytes || *mode != file.mode.bits() {
                    report.changed.push(path.to_string());
                }
            }
            Some(entry) => return Err(not_ours(out, path, entry.what())),
        }
    }
    // The manifest is compared like any file, and listed where its path sorts.
    let manifest_change = match disk.get(MANIFEST) {
        None => Some(&mut report.added),
        Some(Entry::File { bytes, mode }) => (*bytes != manifest_text
            || *mode != Mode::for_path(MANIFEST).bits())
        .then_some(&mut report.changed),
        Some(entry) => return Err(not_ours(out, MANIFEST, entry.what())),
    };
    if let Some(list) = manifest_change {
        let at = list.binary_search_by(|p| p.as_str().cmp(MANIFEST)).unwrap_or_else(|at| at);
        list.insert(at, MANIFEST.to_string());
    }

    // `same_manifest` means the previous manifest lists exactly the new tree: nothing is gone.
    let recorded = previous.as_ref().map(|m| &m.files);
    for &path in owned_before.iter().filter(|p| tree.get(p).is_none()) {
        check_folders(out, &disk, path)?;
        match disk.get(path) {
            None => {}
            Some(Entry::File { bytes, mode }) => {
                let entry = recorded.and_then(|files| files.get(path));
                let as_recorded = entry.is_some_and(|entry| {
                    *mode == entry.mode.bits() && sha256_hex(bytes) == entry.sha256
                });
                if as_recorded {
                    report.removed.push(path.to_string());
                } else {
                    report.kept.push(path.to_string());
                }
            }
            Some(entry) => return Err(not_ours(out, path, entry.what())),
        }
    }

    for (path, entry) in disk.iter() {
        if tree.get(path).is_none() && !owned_before.contains(path) {
            // Only a plain file can be one of gen's temporaries: a link or folder by that name
            // is the user's and stays.
            if is_temporary(path) && matches!(entry, Entry::File { .. }) {
                report.temporaries.push(path.to_string());
            } else {
                report.unknown.push(path.to_string());
            }
        }
    }

    // A crash after a new file lands but before the new manifest does would leave a file no
    // manifest lists: the next build would call it unknown and never prune it. So when this
    // build writes any file the previous manifest does not list, it first records the union
    // of old and new files. After a crash at any later point, every file gen wrote is listed,
    // and the next build writes what differs and prunes what its tree lacks.
    let unlisted = report
        .added
        .iter()
        .chain(&report.changed)
        .any(|p| p != MANIFEST && !owned_before.contains(p.as_str()));
    // When the previous manifest lists no file the new tree lacks (always on a first build),
    // the union is the new manifest itself, and `write_tree` does not write it twice.
    let interim_manifest = unlisted.then(|| {
        let gone: Vec<(String, manifest::Entry)> = previous
            .into_iter()
            .flat_map(|m| m.files)
            .filter(|(path, _)| tree.get(path).is_none())
            .collect();
        if gone.is_empty() {
            return String::from_utf8_lossy(manifest_text).into_owned();
        }
        let mut interim = manifest.clone();
        interim.files.extend(gone);
        interim.to_toml()
    });

    Ok(Plan { report, interim_manifest })
}

fn previous_manifest(out: &Path, disk: &Disk) -> Result<Option<Manifest>> {
    let path = out.join(MANIFEST);
    match disk.get(MANIFEST) {
        None => Ok(None),
        Some(Entry::File { bytes, .. }) => {
            let text = std::str::from_utf8(bytes).map_err(|_| Error::BadManifest {
                path: path.clone(),
                reason: "it is not UTF-8".to_string(),
            })?;
            let manifest =
                manifest::parse(text).map_err(|reason| Error::BadManifest { path, reason })?;
            Ok(Some(manifest))
        }
        Some(entry) => Err(not_ours(out, MANIFEST, entry.what())),
    }
}

/// Every folder above `path` must be a real folder or absent. The walk in `Disk::read` lists
/// anything that is not a folder, so a listed ancestor is a file, symlink or special file that
/// gen would otherwise write through.
fn check_folders(out: &Path, disk: &Disk, path: &str) -> Result<()> {
    for (end, _) in path.match_indices('/') {
        let folder = &path[..end];
        if let Some(entry) = disk.get(folder) {
            let what = match entry {
                Entry::File { .. } => "a file where gen needs a folder",
                Entry::Symlink => "a symlink where gen needs a folder",
                Entry::Special => "a special file where gen needs a folder",
            };
            return Err(not_ours(out, folder, what));
        }
    }
    Ok(())
}

/// A path `Disk` has no entry for may still be a folder.
fn check_absent(out: &Path, disk: &Disk, path: &str) -> Result<()> {
    if disk.is_folder(path) {
        return Err(not_ours(out, path, "a folder where gen writes a file"));
    }
    Ok(())
}

fn not_ours(out: &Path, path: &str, what: &'static str) -> Error {
    Error::NotOurs { path: out.join(path), what }
}

/// Temporary files are `.gen-` + this many letters and digits + `.tmp`.
const TEMPORARY_PREFIX: &str = ".gen-";
const TEMPORARY_RANDOM: usize = 6;
const TEMPORARY_SUFFIX: &str = ".tmp";

/// Whether `path` is named like one of gen's temporary files. A build killed while writing one
/// leaves it behind, unlisted anywhere; the next build recognises it by this name and deletes
/// it. gen never writes a path of its tree under such a name (its files are not dotfiles).
pub fn is_temporary(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path);
    name.strip_prefix(TEMPORARY_PREFIX)
        .and_then(|rest| rest.strip_suffix(TEMPORARY_SUFFIX))
        .is_some_and(|random| {
            random.len() == TEMPORARY_RANDOM && random.bytes().all(|b| b.is_ascii_alphanumeric())
        })
}

/// The output folder as the user named it (in messages) and as an absolute path.
struct Out<'a> {
    named: &'a Path,
    absolute: PathBuf,
}

/// The manifest, durably: its bytes reach the disk before the rename, and the rename before
/// anything else is written (see the module doc).
fn write_manifest(out: &Out, bytes: &[u8], mode: Mode) -> Result<()> {
    write_file(out, MANIFEST, bytes, mode, true)?;
    let folder = fs::File::open(out.named).map_err(|e| Error::io(out.named, "read", e))?;
    folder.sync_all().map_err(|e| Error::io(out.named, "flush", e))
}

/// Writes a temporary file beside the target, gives it its mode, flushes it to disk if `flush`,
/// and renames it over the target: a reader sees the old file or the new one, never a part.
fn write_file(out: &Out, path: &str, bytes: &[u8], mode: Mode, flush: bool) -> Result<()> {
    let target = out.named.join(path);
    let folder = target.parent().expect("a path below out/");
    let absolute_folder = out.absolute.join(path);
    let absolute_folder = absolute_folder.parent().expect("a path below out/");
    let temporary = || {
        tempfile::Builder::new()
            .prefix(TEMPORARY_PREFIX)
            .rand_bytes(TEMPORARY_RANDOM)
            .suffix(TEMPORARY_SUFFIX)
            .tempfile_in(absolute_folder)
    };
    // The folder is made only when it is missing, which the first file in it finds out: making
    // it before every file would cost a mkdir and a stat per file.
    let mut temp = match temporary() {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            fs::create_dir_all(folder).map_err(|e| Error::io(folder, "create", e))?;
            temporary()
        }
        made => made,
    }
    .map_err(|e| Error::io(folder, "create a file in", e))?;
    let io = |e| Error::io(temp_path(folder), "write", e);
    temp.write_all(bytes).map_err(io)?;
    temp.as_file().set_permissions(fs::Permissions::from_mode(mode.bits())).map_err(io)?;
    if flush {
        temp.as_file().sync_all().map_err(io)?;
    }
    temp.persist(&target).map_err(|e| Error::io(&target, "replace", e.error))?;
    Ok(())
}

/// The temporary name is random; errors name the folder with the pattern instead.
fn temp_path(folder: &Path) -> std::path::PathBuf {
    folder.join(format!("{TEMPORARY_PREFIX}*{TEMPORARY_SUFFIX}"))
}

/// Deletes the files gen made and no longer makes and the temporaries of an interrupted build,
/// then the folders that held only them.
///
/// A folder is removed only if this build deleted a file below it and it is empty afterwards,
/// so a folder with anything of the user's in it stays, and so does an empty folder that a
/// manifest merely names (gen cannot tell it from the user's). A build killed between deleting
/// a file and its folder leaves that folder empty; like git, `gen check` does not see folders.
fn prune(out: &Path, plan: &Plan, done: &mut Done) -> Result<()> {
    let deleted = || plan.report.removed.iter().chain(&plan.report.temporaries);
    for path in deleted() {
        let full = out.join(path);
        fs::remove_file(&full).map_err(|e| Error::io(full, "remove", e))?;
        done.removed.push(path.clone());
    }
    for path in deleted() {
        for (end, _) in path.rmatch_indices('/') {
            let folder = out.join(&path[..end]);
            let is_empty = match fs::read_dir(&folder) {
                Ok(mut entries) => entries.next().is_none(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                Err(e) => return Err(Error::io(folder, "read", e)),
            };
            if !is_empty {
                break;
            }
            fs::remove_dir(&folder).map_err(|e| Error::io(folder, "remove", e))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diff::compare;
    use std::os::unix::fs::symlink;
    use std::time::{Duration, SystemTime};

    fn built(files: &[(&str, &str)]) -> (Tree, Manifest) {
        let mut tree = Tree::new();
        for (path, text) in files {
            tree.insert_text(*path, text);
        }
        let hosts: BTreeSet<&str> =
            files.iter().filter_map(|(p, _)| p.strip_prefix("hosts/")?.split('/').next()).collect();
        let manifest = Manifest::of(&tree, "site", &hosts.into_iter().collect::<Vec<_>>());
        tree.insert_text(MANIFEST, &manifest.to_toml());
        (tree, manifest)
    }

    fn write_tree(out: &Path, (tree, manifest): &(Tree, Manifest)) -> Result<Written> {
        super::write_tree(out, tree, manifest)
    }

    fn v1() -> (Tree, Manifest) {
        built(&[
            ("hosts/a/apply.sh", "apply a"),
            ("hosts/a/workers/Vagrantfile", "workers"),
            ("kubespray/deploy.sh", "deploy"),
        ])
    }

    fn v2() -> (Tree, Manifest) {
        built(&[
            ("hosts/a/apply.sh", "apply a, changed"),
            ("hosts/a/control-plane/Vagrantfile", "cp"),
            ("kubespray/deploy.sh", "deploy"),
        ])
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(std::string::ToString::to_string).collect()
    }

    fn snapshot(root: &Path) -> Disk {
        Disk::read(root).unwrap()
    }

    #[test]
    fn first_write_creates_everything() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let report = write_tree(&out, &v1()).unwrap();
        assert_eq!(
            report.added,
            strings(&[
                "hosts/a/apply.sh",
                "hosts/a/workers/Vagrantfile",
                "kubespray/deploy.sh",
                "manifest.toml",
            ])
        );
        assert_eq!(compare(&out, &v1().0).unwrap(), vec![]);
    }

    #[test]
    fn unchanged_files_are_not_touched() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
        let apply = out.join("hosts/a/apply.sh");
        fs::File::options().write(true).open(&apply).unwrap().set_modified(old).unwrap();
        let report = write_tree(&out, &v1()).unwrap();
        assert!(report.is_up_to_date(), "{report:?}");
        assert_eq!(fs::metadata(&apply).unwrap().modified().unwrap(), old);
    }

    #[test]
    fn changes_prunes_and_keeps_unknown_files() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::write(out.join("hosts/a/workers/notes.txt~"), "mine").unwrap();
        fs::write(out.join("hosts/a/workers/Vagrantfile~"), "backup").unwrap();
        fs::set_permissions(out.join("kubespray/deploy.sh"), fs::Permissions::from_mode(0o700))
            .unwrap();
        let report = write_tree(&out, &v2()).unwrap();
        assert_eq!(report.added, strings(&["hosts/a/control-plane/Vagrantfile"]));
        assert_eq!(
            report.changed,
            strings(&["hosts/a/apply.sh", "kubespray/deploy.sh", "manifest.toml"])
        );
        assert_eq!(report.removed, strings(&["hosts/a/workers/Vagrantfile"]));
        assert_eq!(
            report.unknown,
            strings(&["hosts/a/workers/Vagrantfile~", "hosts/a/workers/notes.txt~"])
        );
        // The folder still holds the user's files, so it stays.
        assert!(out.join("hosts/a/workers/notes.txt~").is_file());
        let extras: Vec<_> =
            compare(&out, &v2().0).unwrap().iter().map(|c| c.path().to_string()).collect();
        assert_eq!(extras, report.unknown);
    }

    #[test]
    fn folders_left_empty_by_pruning_go_and_others_stay() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::create_dir_all(out.join("hosts/empty-before")).unwrap();
        write_tree(&out, &v2()).unwrap();
        assert!(!out.join("hosts/a/workers").exists());
        assert!(out.join("hosts/empty-before").is_dir());
        assert_eq!(compare(&out, &v2().0).unwrap(), vec![]);
        // A host that disappears takes its whole folder with it.
        write_tree(&out, &built(&[("kubespray/deploy.sh", "deploy")])).unwrap();
        assert!(!out.join("hosts/a").exists());
        assert!(out.join("hosts/empty-before").is_dir());
    }

    #[test]
    fn symlinks_are_refused_before_anything_changes() {
        type Break = fn(&Path, &Path);
        let cases: [(&str, Break); 3] = [
            ("kubespray/deploy.sh", |out, elsewhere| {
                fs::remove_file(out.join("kubespray/deploy.sh")).unwrap();
                symlink(elsewhere.join("target"), out.join("kubespray/deploy.sh")).unwrap();
            }),
            ("hosts/a", |out, elsewhere| {
                fs::rename(out.join("hosts/a"), elsewhere.join("a")).unwrap();
                symlink(elsewhere.join("a"), out.join("hosts/a")).unwrap();
            }),
            ("manifest.toml", |out, elsewhere| {
                fs::rename(out.join("manifest.toml"), elsewhere.join("m")).unwrap();
                symlink(elsewhere.join("m"), out.join("manifest.toml")).unwrap();
            }),
        ];
        for (path, break_it) in cases {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("out");
            let elsewhere = dir.path().join("elsewhere");
            fs::create_dir(&elsewhere).unwrap();
            write_tree(&out, &v1()).unwrap();
            break_it(&out, &elsewhere);
            let before = (snapshot(&out), snapshot(&elsewhere));
            match write_tree(&out, &v2()).unwrap_err() {
                Error::NotOurs { path: p, .. } => assert_eq!(p, out.join(path)),
                other => panic!("{other}"),
            }
            assert_eq!((snapshot(&out), snapshot(&elsewhere)), before, "{path}");
        }
    }

    #[test]
    fn a_symlinked_out_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        symlink("real", dir.path().join("out")).unwrap();
        let err = write_tree(&dir.path().join("out"), &v1()).unwrap_err();
        assert!(matches!(err, Error::NotOurs { .. }), "{err}");
        assert_eq!(fs::read_dir(dir.path().join("real")).unwrap().count(), 0);
    }

    #[test]
    fn a_manifest_that_does_not_parse_stops_the_write() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::write(out.join(MANIFEST), "generator = 3\n").unwrap();
        let before = snapshot(&out);
        let err = write_tree(&out, &v2()).unwrap_err();
        assert!(matches!(err, Error::BadManifest { .. }), "{err}");
        assert_eq!(snapshot(&out), before);
    }

    #[test]
    fn a_listed_path_that_escapes_out_is_never_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::write(dir.path().join("precious"), "keep").unwrap();
        let manifest = fs::read_to_string(out.join(MANIFEST)).unwrap();
        let hash = crate::tree::sha256_hex(b"keep");
        let evil =
            format!("{manifest}\"../precious\" = {{ mode = \"644\", sha256 = \"{hash}\" }}\n");
        fs::write(out.join(MANIFEST), evil).unwrap();
        assert!(matches!(write_tree(&out, &v2()), Err(Error::BadManifest { .. })));
        assert!(dir.path().join("precious").is_file());
    }

    #[test]
    fn a_crash_after_new_files_leaves_them_owned() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        // Simulate a crash right after v2's files landed: interim manifest and files, no final
        // manifest.
        let (tree, manifest) = v2();
        let plan = plan(&out, &tree, &manifest, manifest.to_toml().as_bytes()).unwrap();
        let interim = plan.interim_manifest.expect("v2 adds a file");
        let to = Out { named: &out, absolute: out.clone() };
        write_manifest(&to, interim.as_bytes(), Mode::Regular).unwrap();
        let cp = v2().0.get("hosts/a/control-plane/Vagrantfile").unwrap().clone();
        write_file(&to, "hosts/a/control-plane/Vagrantfile", &cp.bytes, cp.mode, false).unwrap();
        // The user goes back to v1: the file that only v2 made must be pruned, not kept.
        let report = write_tree(&out, &v1()).unwrap();
        assert_eq!(report.removed, strings(&["hosts/a/control-plane/Vagrantfile"]));
        assert!(report.unknown.is_empty(), "{report:?}");
        assert!(!out.join("hosts/a/control-plane").exists());
        assert_eq!(compare(&out, &v1().0).unwrap(), vec![]);
    }

    #[test]
    fn temporaries_of_an_interrupted_build_are_deleted_and_lookalikes_kept() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        // A build of v2 killed while writing its first file in a new folder, and one killed
        // while writing a file of v1.
        fs::create_dir_all(out.join("hosts/a/control-plane")).unwrap();
        fs::write(out.join("hosts/a/control-plane/.gen-AbC123.tmp"), "c").unwrap();
        fs::write(out.join("kubespray/.gen-x1Y2z3.tmp"), "dep").unwrap();
        // Named alike but not gen's: a link, a folder, a name of another length.
        symlink("deploy.sh", out.join("kubespray/.gen-link00.tmp")).unwrap();
        fs::create_dir(out.join("kubespray/.gen-fold00.tmp")).unwrap();
        fs::write(out.join("kubespray/.gen-abcdefg.tmp"), "mine").unwrap();
        let report = write_tree(&out, &v1()).unwrap();
        assert!(report.is_up_to_date(), "{report:?}");
        assert_eq!(
            report.temporaries,
            strings(&["hosts/a/control-plane/.gen-AbC123.tmp", "kubespray/.gen-x1Y2z3.tmp"])
        );
        assert_eq!(
            report.unknown,
            strings(&["kubespray/.gen-abcdefg.tmp", "kubespray/.gen-link00.tmp"])
        );
        assert!(!out.join("hosts/a/control-plane").exists());
        assert!(out.join("kubespray/.gen-fold00.tmp").is_dir());
        assert!(is_temporary(".gen-AbC123.tmp") && is_temporary("a/b/.gen-000000.tmp"));
        assert!(!is_temporary(".gen-AbC12.tmp") && !is_temporary(".gen-AbC12-.tmp"));
    }

    #[test]
    fn a_crash_between_file_and_folder_removal_leaves_only_an_empty_folder() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::remove_file(out.join("hosts/a/workers/Vagrantfile")).unwrap();
        let report = write_tree(&out, &v2()).unwrap();
        assert!(report.removed.is_empty() && report.kept.is_empty(), "{report:?}");
        // gen cannot tell that empty folder from one of the user's, so it stays; folders are
        // not part of what `gen check` compares.
        assert!(out.join("hosts/a/workers").is_dir());
        assert_eq!(compare(&out, &v2().0).unwrap(), vec![]);
    }

    /// `out/manifest.toml` with one more `[files]` entry (the table is last).
    fn list_in_manifest(out: &Path, path: &str, bytes: &[u8], mode: &str) {
        let manifest = fs::read_to_string(out.join(MANIFEST)).unwrap();
        let hash = crate::tree::sha256_hex(bytes);
        let line = format!("\"{path}\" = {{ mode = \"{mode}\", sha256 = \"{hash}\" }}\n");
        fs::write(out.join(MANIFEST), manifest + &line).unwrap();
    }

    #[test]
    fn a_file_gen_made_and_the_user_edited_is_kept_when_gen_stops_making_it() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        let edited = out.join("hosts/a/workers/Vagrantfile");
        fs::write(&edited, "workers\n# my tuning\n").unwrap();
        let report = write_tree(&out, &v2()).unwrap();
        assert_eq!(report.kept, strings(&["hosts/a/workers/Vagrantfile"]));
        assert!(report.removed.is_empty(), "{report:?}");
        assert_eq!(fs::read_to_string(&edited).unwrap(), "workers\n# my tuning\n");
        // From now on no manifest lists it: it is the user's, reported as unknown.
        let report = write_tree(&out, &v2()).unwrap();
        assert_eq!(report.unknown, strings(&["hosts/a/workers/Vagrantfile"]));
        assert!(edited.is_file());
    }

    #[test]
    fn a_file_whose_mode_changed_is_kept_too() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        let file = out.join("hosts/a/workers/Vagrantfile");
        fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
        let report = write_tree(&out, &v2()).unwrap();
        assert_eq!(report.kept, strings(&["hosts/a/workers/Vagrantfile"]));
        assert!(file.is_file());
    }

    #[test]
    fn a_stale_manifest_never_deletes_the_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::write(out.join("kubespray/NOTES.md"), "my notes\n").unwrap();
        list_in_manifest(&out, "kubespray/NOTES.md", b"what gen once wrote\n", "644");
        let report = write_tree(&out, &v1()).unwrap();
        assert_eq!(report.kept, strings(&["kubespray/NOTES.md"]));
        assert_eq!(fs::read_to_string(out.join("kubespray/NOTES.md")).unwrap(), "my notes\n");
        // The same bytes with another mode are not what gen recorded either.
        list_in_manifest(&out, "kubespray/NOTES.md", b"my notes\n", "755");
        let report = write_tree(&out, &v1()).unwrap();
        assert_eq!(report.kept, strings(&["kubespray/NOTES.md"]));
        assert!(out.join("kubespray/NOTES.md").is_file());
    }

    #[test]
    fn an_empty_folder_that_a_manifest_names_is_not_removed() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::create_dir_all(out.join("mydir/sub")).unwrap();
        list_in_manifest(&out, "mydir/sub/gone", b"x", "644");
        let report = write_tree(&out, &v1()).unwrap();
        assert!(report.removed.is_empty() && report.kept.is_empty(), "{report:?}");
        assert!(out.join("mydir/sub").is_dir());
    }

    #[test]
    fn a_manifest_path_with_a_control_character_is_a_corrupt_manifest() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        let before = snapshot(&out);
        for path in ["kubespray/\\u0000deploy.sh", "kubespray/a\\u001bb", "kubespray/x\\ny"] {
            fs::write(out.join(MANIFEST), &v1().0.get(MANIFEST).unwrap().bytes).unwrap();
            list_in_manifest(&out, path, b"deploy\n", "755");
            let err = write_tree(&out, &v2()).unwrap_err();
            assert!(matches!(err, Error::BadManifest { .. }), "{path}: {err}");
            assert!(!err.to_string().chars().any(|c| c.is_control() && c != '\n'), "{err}");
        }
        fs::write(out.join(MANIFEST), &v1().0.get(MANIFEST).unwrap().bytes).unwrap();
        assert_eq!(snapshot(&out), before);
    }

    #[test]
    fn a_folder_where_gen_writes_a_file_is_refused_before_anything_changes() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        write_tree(&out, &v1()).unwrap();
        fs::create_dir_all(out.join("hosts/a/control-plane/Vagrantfile/inside")).unwrap();
        let before = snapshot(&out);
        let err = write_tree(&out, &v2()).unwrap_err();
        assert!(
            matches!(err, Error::NotOurs { what: "a folder where gen writes a file", .. }),
            "{err}"
        );
        assert_eq!(snapshot(&out), before);
    }
}
