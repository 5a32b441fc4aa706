//! The output tree in memory and its identity.
//!
//! A `Tree` is what `gen build` means by `out/`: an ordered map from a relative, `/`-separated
//! path to bytes and a mode. Everything that compares, writes or hashes the output works on this
//! one type, so `build`, `check`, `diff` and the golden tests cannot disagree about what a tree is.
//!
//! The hash of a set of files is defined so that anyone can recompute it with coreutils (see the
//! README, "The tree hash"): sha256 over the lines `MODE SHA256 PATH\n`, one per file, sorted by
//! path in byte order, where MODE is the octal permission (`644` or `755`), SHA256 the lowercase
//! hex digest of the file's bytes and PATH the path relative to the hashed folder.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use sha2::{Digest, Sha256};

use crate::layout;

pub use crate::layout::MANIFEST;

/// The two modes gen ever writes. Anything else on disk is a difference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Mode {
    /// 0644: every generated file that is read, not run.
    Regular,
    /// 0755: entrypoints (`*.sh`).
    Executable,
}

impl Mode {
    pub fn bits(self) -> u32 {
        match self {
            Mode::Regular => 0o644,
            Mode::Executable => 0o755,
        }
    }

    /// The mode gen gives a path: scripts are executable, everything else is not.
    pub fn for_path(path: &str) -> Mode {
        if path.ends_with(".sh") { Mode::Executable } else { Mode::Regular }
    }

    pub fn from_bits(bits: u32) -> Option<Mode> {
        match bits & 0o7777 {
            0o644 => Some(Mode::Regular),
            0o755 => Some(Mode::Executable),
            _ => None,
        }
    }
}

impl std::fmt::Display for Mode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:o}", self.bits())
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct File {
    pub bytes: Vec<u8>,
    pub mode: Mode,
}

impl File {
    pub fn sha256(&self) -> String {
        sha256_hex(&self.bytes)
    }
}

/// Relative `/`-separated path → file, in byte order of the path.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tree {
    files: BTreeMap<String, File>,
}

impl Tree {
    pub fn new() -> Tree {
        Tree::default()
    }

    /// Adds a text file. This is the one place that enforces the text rules of the output:
    /// exactly one trailing newline (askama strips the template's own) and the mode by extension.
    pub fn insert_text(&mut self, path: impl Into<String>, text: &str) {
        let path = path.into();
        let mut bytes = text.trim_end_matches('\n').as_bytes().to_vec();
        bytes.push(b'\n');
        let mode = Mode::for_path(&path);
        self.insert(path, File { bytes, mode });
    }

    pub fn insert(&mut self, path: String, file: File) {
        debug_assert!(is_clean_relative(&path), "not a clean relative path: {path}");
        let previous = self.files.insert(path, file);
        debug_assert!(previous.is_none(), "a path was rendered twice");
    }

    pub fn get(&self, path: &str) -> Option<&File> {
        self.files.get(path)
    }

    pub fn iter(&self) -> impl Iterator<Item = (&str, &File)> {
        self.files.iter().map(|(p, f)| (p.as_str(), f))
    }

    pub fn paths(&self) -> impl Iterator<Item = &str> {
        self.files.keys().map(String::as_str)
    }

    pub fn len(&self) -> usize {
        self.files.len()
    }

    pub fn is_empty(&self) -> bool {
        self.files.is_empty()
    }

    /// The files under `prefix/` with `prefix/` removed from their paths.
    pub fn subtree<'a>(&'a self, prefix: &'a str) -> impl Iterator<Item = (&'a str, &'a File)> {
        let start = format!("{prefix}/");
        self.files
            .range(start.clone()..)
            .take_while(move |(p, _)| p.starts_with(&start))
            .map(move |(p, f)| (&p[prefix.len() + 1..], f))
    }

    /// Hash of every file except the manifest (README, "The tree hash").
    pub fn hash(&self) -> String {
        hash_files(self.iter().filter(|(p, _)| *p != MANIFEST))
    }

    /// Hash of `hosts/<host>/`, with paths relative to that folder: the identity of what
    /// `gen apply <host>` sends, and the name of its generation on the server.
    pub fn host_hash(&self, host: &str) -> String {
        hash_files(self.subtree(&layout::host_dir(host)))
    }
}

/// sha256 over `MODE SHA256 PATH\n` lines, in the iterator's order (callers pass byte order).
pub fn hash_files<'a>(files: impl Iterator<Item = (&'a str, &'a File)>) -> String {
    let hashed: Vec<(&str, Mode, String)> = files.map(|(p, f)| (p, f.mode, f.sha256())).collect();
    hash_listing(hashed.iter().map(|(p, mode, sha)| (*p, *mode, sha.as_str())))
}

/// [`hash_files`] of files whose sha256 (lowercase hex) is already known: `(path, mode, sha256)`.
/// This is the one implementation of the tree hash: the manifest, `Tree::hash` and apply's check
/// of a folder on a server (whose modes arrive as text) all end here.
pub fn hash_listing<'a, M: std::fmt::Display>(
    files: impl Iterator<Item = (&'a str, M, &'a str)>,
) -> String {
    let mut listing = String::new();
    for (path, mode, sha256) in files {
        let _ = writeln!(listing, "{mode} {sha256} {path}");
    }
    sha256_hex(listing.as_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(64);
    for b in &digest {
        let _ = write!(hex, "{b:02x}");
    }
    hex
}

/// No empty, `.` or `..` component, no leading `/`, no backslash: safe to join under `out/`.
pub fn is_clean_relative(path: &str) -> bool {
    !path.is_empty()
        && !path.contains('\\')
        && path.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_files_end_with_exactly_one_newline() {
        let mut t = Tree::new();
        t.insert_text("a.yaml", "x\n\n\n");
        t.insert_text("b.sh", "y");
        assert_eq!(t.get("a.yaml").unwrap().bytes, b"x\n");
        assert_eq!(t.get("b.sh").unwrap().bytes, b"y\n");
        assert_eq!(t.get("b.sh").unwrap().mode, Mode::Executable);
        assert_eq!(t.get("a.yaml").unwrap().mode, Mode::Regular);
    }

    #[test]
    fn hash_matches_the_documented_coreutils_recipe() {
        // printf '644 <sha of "x\n"> a.yaml\n' | sha256sum
        let mut t = Tree::new();
        t.insert_text("a.yaml", "x");
        let line = format!("644 {} a.yaml\n", sha256_hex(b"x\n"));
        assert_eq!(t.hash(), sha256_hex(line.as_bytes()));
    }

    #[test]
    fn host_hash_uses_paths_relative_to_the_host_folder() {
        let mut t = Tree::new();
        t.insert_text("hosts/a/apply.sh", "echo");
        t.insert_text("hosts/ab/apply.sh", "other");
        t.insert_text("kubespray/deploy.sh", "x");
        let mut only = Tree::new();
        only.insert_text("apply.sh", "echo");
        assert_eq!(t.host_hash("a"), only.hash());
    }
}
