//! What is on disk against what gen would write: the one comparison behind `gen check`,
//! `gen diff`, `gen build`'s plan and the golden tests.
//!
//! A folder is read into a [`Disk`], the same shape as a [`Tree`] but with the raw mode of each
//! file and with symlinks and special files kept as what they are: nothing here follows a
//! symlink, so a link in `out/` can neither hide a difference nor leak a file from elsewhere.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::fs;
use std::io::Read as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;

use similar::TextDiff;
use walkdir::WalkDir;

use crate::error::{Error, Result};
use crate::tree::{Mode, Tree};

/// A folder's contents by relative `/`-separated path, in byte order. Folders are not entries:
/// like git, gen only knows files. They are kept aside, so that whether a path is a folder
/// needs no second look at the disk.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Disk {
    entries: BTreeMap<String, Entry>,
    folders: BTreeSet<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// A regular file, with its permission bits as they are (`0o7777` of the mode).
    File {
        bytes: Vec<u8>,
        mode: u32,
    },
    Symlink,
    /// A socket, fifo or device.
    Special,
}

impl Entry {
    /// How the entry is named to the user.
    pub fn what(&self) -> &'static str {
        match self {
            Entry::File { .. } => "a file",
            Entry::Symlink => "a symlink",
            Entry::Special => "a special file",
        }
    }
}

impl Disk {
    /// Reads everything under `root`. A missing `root` reads as empty, because that is what a
    /// first build starts from; a `root` that is a symlink or not a folder is refused.
    pub fn read(root: &Path) -> Result<Disk> {
        match fs::symlink_metadata(root) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Disk::default()),
            Err(e) => return Err(Error::io(root, "read", e)),
            Ok(meta) if meta.file_type().is_symlink() => {
                return Err(Error::NotOurs { path: root.into(), what: "a symlink, not a folder" });
            }
            Ok(meta) if !meta.is_dir() => {
                return Err(Error::NotOurs { path: root.into(), what: "not a folder" });
            }
            Ok(_) => {}
        }
        let mut entries = BTreeMap::new();
        let mut folders = BTreeSet::new();
        let walk = WalkDir::new(root).min_depth(1).follow_links(false).sort_by_file_name();
        for item in walk {
            let item = item.map_err(|e| {
                let path = e.path().unwrap_or(root).to_path_buf();
                Error::io(path, "read", e.into())
            })?;
            let file_type = item.file_type();
            if file_type.is_dir() {
                folders.insert(relative(root, item.path()));
                continue;
            }
            let entry = if file_type.is_symlink() {
                Entry::Symlink
            } else if file_type.is_file() {
                let path = item.path();
                let (bytes, mode) = read_file(path).map_err(|e| Error::io(path, "read", e))?;
                Entry::File { bytes, mode }
            } else {
                Entry::Special
            };
            entries.insert(relative(root, item.path()), entry);
        }
        Ok(Disk { entries, folders })
    }

    pub fn get(&self, path: &str) -> Option<&Entry> {
        self.entries.get(path)
    }

    /// Whether `path` is a folder (a real one: symlinks are entries).
    pub fn is_folder(&self, path: &str) -> bool {
        self.folders.contains(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &Entry)> {
        self.entries.iter().map(|(p, e)| (p.as_str(), e))
    }
}

/// A file's bytes and permission bits, both from one stat of the open file, which also sizes
/// the buffer. Read through `Take`: `File::read_to_end` would stat the file again, and seek,
/// to size the buffer itself.
fn read_file(path: &Path) -> std::io::Result<(Vec<u8>, u32)> {
    let file = fs::File::open(path)?;
    let meta = file.metadata()?;
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(u64::MAX).read_to_end(&mut bytes)?;
    Ok((bytes, meta.permissions().mode() & 0o7777))
}

/// `path` below `root` as a `/`-separated string. Names that are not UTF-8 can only be reported,
/// never written by gen, so a lossy name is enough.
fn relative(root: &Path, path: &Path) -> String {
    let rel = path.strip_prefix(root).expect("walkdir yields paths below its root");
    rel.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/")
}

/// One way the disk differs from the tree. A file can have both `Bytes` and `Mode`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// The tree has the file; the disk does not.
    Missing(String),
    /// The disk has something the tree does not.
    Extra { path: String, what: &'static str },
    /// The tree has a file; the disk has a symlink or special file there.
    NotAFile { path: String, what: &'static str },
    /// Same path, other bytes.
    Bytes(String),
    /// Same path, other permission bits (including modes gen never writes).
    Mode { path: String, expected: Mode, actual: u32 },
}

impl Change {
    pub fn path(&self) -> &str {
        match self {
            Change::Missing(path)
            | Change::Extra { path, .. }
            | Change::NotAFile { path, .. }
            | Change::Bytes(path)
            | Change::Mode { path, .. } => path,
        }
    }

    /// One line for a list of differences, with the path shown below `root` (e.g. `out`).
    pub fn describe(&self, root: &str) -> String {
        let path = format!("{root}/{}", self.path());
        match self {
            Change::Missing(_) => format!("missing  {path}"),
            Change::Extra { what: "a file", .. } => format!("extra    {path}"),
            Change::Extra { what, .. } => format!("extra    {path} ({what})"),
            Change::NotAFile { what, .. } => {
                format!("changed  {path} (on disk {what}, gen writes a file)")
            }
            Change::Bytes(_) => format!("changed  {path}"),
            Change::Mode { expected, actual, .. } => {
                format!("mode     {path} ({actual:o}, gen writes {expected})")
            }
        }
    }
}

/// Every difference between the files gen makes (`expected`) and a folder's contents
/// (`actual`), in path order.
pub fn compare_trees(expected: &Tree, actual: &Disk) -> Vec<Change> {
    let paths: BTreeSet<&str> =
        expected.paths().chain(actual.entries.keys().map(String::as_str)).collect();
    let mut changes = Vec::new();
    for path in paths {
        let owned = path.to_string();
        match (expected.get(path), actual.get(path)) {
            (Some(_), None) => changes.push(Change::Missing(owned)),
            (None, Some(entry)) => changes.push(Change::Extra { path: owned, what: entry.what() }),
            (Some(file), Some(Entry::File { bytes, mode })) => {
                if *bytes != file.bytes {
                    changes.push(Change::Bytes(owned.clone()));
                }
                if *mode != file.mode.bits() {
                    changes.push(Change::Mode { path: owned, expected: file.mode, actual: *mode });
                }
            }
            (Some(_), Some(entry)) => {
                changes.push(Change::NotAFile { path: owned, what: entry.what() });
            }
            (None, None) => unreachable!("every path comes from one side"),
        }
    }
    changes
}

/// Every difference between `out` on disk and `tree`.
pub fn compare(out: &Path, tree: &Tree) -> Result<Vec<Change>> {
    Ok(compare_trees(tree, &Disk::read(out)?))
}

/// The changes as unified diffs, disk side first: `--- <disk_root>/<path>` against
/// `+++ <fresh_root>/<path>`. Files that are not text get one line saying they differ.
pub fn unified(
    changes: &[Change],
    expected: &Tree,
    actual: &Disk,
    disk_root: &str,
    fresh_root: &str,
) -> String {
    let mut text = String::new();
    for change in changes {
        let path = change.path();
        let old_label = format!("{disk_root}/{path}");
        let new_label = format!("{fresh_root}/{path}");
        let old_bytes = match actual.get(path) {
            Some(Entry::File { bytes, .. }) => bytes.as_slice(),
            _ => &[],
        };
        let new_bytes = expected.get(path).map_or(&[][..], |f| f.bytes.as_slice());
        match change {
            Change::Missing(_) => text += &text_diff("/dev/null", &[], &new_label, new_bytes),
            Change::Extra { what: "a file", .. } => {
                text += &text_diff(&old_label, old_bytes, "/dev/null", &[]);
            }
            Change::Extra { what, .. } => {
                let _ = writeln!(text, "{old_label} is {what}; gen makes no such thing there");
            }
            Change::NotAFile { what, .. } => {
                let _ = writeln!(text, "{old_label} is {what}; gen writes a regular file there");
            }
            Change::Bytes(_) => text += &text_diff(&old_label, old_bytes, &new_label, new_bytes),
            Change::Mode { expected, actual, .. } => {
                let _ = writeln!(text, "mode of {old_label}: {actual:o}, {new_label}: {expected}");
            }
        }
    }
    text
}

fn text_diff(old_label: &str, old: &[u8], new_label: &str, new: &[u8]) -> String {
    match (as_text(old), as_text(new)) {
        // An empty file added or removed has no hunk, but it is still a difference to show.
        (Some(""), Some("")) => format!("--- {old_label}\n+++ {new_label}\n"),
        (Some(old), Some(new)) => {
            TextDiff::from_lines(old, new).unified_diff().header(old_label, new_label).to_string()
        }
        _ => format!("Binary files {old_label} and {new_label} differ\n"),
    }
}

/// Text is UTF-8 without NUL bytes; anything else is shown as binary.
fn as_text(bytes: &[u8]) -> Option<&str> {
    std::str::from_utf8(bytes).ok().filter(|s| !s.contains('\0'))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::tree::File;
    use std::os::unix::fs::symlink;

    fn tree() -> Tree {
        let mut tree = Tree::new();
        tree.insert_text("a/apply.sh", "one\ntwo\nthree");
        tree.insert_text("b.yaml", "b");
        tree
    }

    fn write(root: &Path, path: &str, bytes: &[u8], mode: u32) {
        let path = root.join(path);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(&path, bytes).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    }

    fn write_tree(root: &Path, tree: &Tree) {
        for (path, file) in tree.iter() {
            write(root, path, &file.bytes, file.mode.bits());
        }
    }

    #[test]
    fn same_folder_has_no_changes() {
        let dir = tempfile::tempdir().unwrap();
        write_tree(dir.path(), &tree());
        assert_eq!(compare(dir.path(), &tree()).unwrap(), vec![]);
    }

    #[test]
    fn missing_folder_reads_as_empty() {
        let dir = tempfile::tempdir().unwrap();
        let changes = compare(&dir.path().join("out"), &tree()).unwrap();
        let missing = vec![Change::Missing("a/apply.sh".into()), Change::Missing("b.yaml".into())];
        assert_eq!(changes, missing);
    }

    #[test]
    fn finds_every_kind_of_change_in_both_directions() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        write(root, "a/apply.sh", b"one\nTWO\nthree\n", 0o700);
        write(root, "c.txt~", b"backup\n", 0o644);
        symlink("/etc/hostname", root.join("b.yaml")).unwrap();
        symlink("/etc", root.join("etc")).unwrap();
        let changes = compare(root, &tree()).unwrap();
        assert_eq!(
            changes,
            vec![
                Change::Bytes("a/apply.sh".into()),
                Change::Mode {
                    path: "a/apply.sh".into(),
                    expected: Mode::Executable,
                    actual: 0o700
                },
                Change::NotAFile { path: "b.yaml".into(), what: "a symlink" },
                Change::Extra { path: "c.txt~".into(), what: "a file" },
                Change::Extra { path: "etc".into(), what: "a symlink" },
            ]
        );
        let lines: Vec<String> = changes.iter().map(|c| c.describe("out")).collect();
        assert_eq!(
            lines,
            [
                "changed  out/a/apply.sh",
                "mode     out/a/apply.sh (700, gen writes 755)",
                "changed  out/b.yaml (on disk a symlink, gen writes a file)",
                "extra    out/c.txt~",
                "extra    out/etc (a symlink)",
            ]
        );
    }

    #[test]
    fn a_symlinked_root_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        fs::create_dir(dir.path().join("real")).unwrap();
        symlink("real", dir.path().join("out")).unwrap();
        let err = compare(&dir.path().join("out"), &tree()).unwrap_err();
        assert!(matches!(err, Error::NotOurs { .. }), "{err}");
    }

    #[test]
    fn unified_shows_each_change() {
        let mut disk = Disk::default();
        let file = |bytes: &[u8], mode| Entry::File { bytes: bytes.to_vec(), mode };
        disk.entries.insert("a/apply.sh".into(), file(b"one\nTWO\nthree\n", 0o644));
        disk.entries.insert("z.bin".into(), file(b"\xff\x00", 0o644));
        disk.entries.insert("empty".into(), file(b"", 0o644));
        let mut expected = tree();
        expected.insert("z.bin".into(), File { bytes: vec![0xfe], mode: Mode::Regular });
        let changes = compare_trees(&expected, &disk);
        let text = unified(&changes, &expected, &disk, "out", "<fresh build>");
        assert_eq!(
            text,
            "--- out/a/apply.sh\n\
             +++ <fresh build>/a/apply.sh\n\
             @@ -1,3 +1,3 @@\n \
             one\n\
             -TWO\n\
             +two\n \
             three\n\
             mode of out/a/apply.sh: 644, <fresh build>/a/apply.sh: 755\n\
             --- /dev/null\n\
             +++ <fresh build>/b.yaml\n\
             @@ -0,0 +1 @@\n\
             +b\n\
             --- out/empty\n\
             +++ /dev/null\n\
             Binary files out/z.bin and <fresh build>/z.bin differ\n"
        );
    }
}
