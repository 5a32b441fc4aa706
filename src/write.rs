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
use std::path::Path;

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

mod atomic;

pub use atomic::is_temporary;
use atomic::{Out, write_file, write_manifest};

#[cfg(test)]
mod tests;

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
