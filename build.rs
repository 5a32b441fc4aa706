//! Names the commit `gen --version` was built from: `gen 0.1.0 (abcdef123456 2026-12-01)` from a
//! git checkout, plain `gen 0.1.0` otherwise (a tarball, no git installed, a crate copied into
//! some other repository).
//!
//! The date is the commit's committer date in UTC, never the clock, so two builds of one commit
//! give the same binary. git is asked only about this folder and offline; any failure means "not
//! a checkout", never a failed build. `tests/suite/version.rs` includes this file to test
//! `describe` on repositories it makes.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").expect("cargo sets it"));
    let suffix = match describe(&dir) {
        Some(commit) => format!(" ({} {})", commit.hash, commit.date),
        None => String::new(),
    };
    println!("cargo:rustc-env=GEN_COMMIT={suffix}");
    println!("cargo:rerun-if-changed=build.rs");
    // A new commit moves HEAD or the branch it names; only files that exist are named, since
    // cargo reruns a script on every build for a missing one.
    for path in watched(&dir) {
        println!("cargo:rerun-if-changed={}", path.display());
    }
}

/// The commit a source folder is checked out at.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Commit {
    /// The first 12 hex digits of its hash, as cargo and rustc print theirs.
    pub(crate) hash: String,
    /// Its committer date in UTC, `YYYY-MM-DD`.
    pub(crate) date: String,
}

/// The commit `dir` is checked out at, if `dir` is a git checkout whose `Cargo.toml` is tracked
/// (a tarball unpacked inside another repository is not that repository's commit).
pub(crate) fn describe(dir: &Path) -> Option<Commit> {
    git(dir, &["ls-files", "--error-unmatch", "--", "Cargo.toml"])?;
    let line = git(
        dir,
        &["log", "-1", "--no-show-signature", "--format=%H %cd", "--date=format-local:%Y-%m-%d"],
    )?;
    let (hash, date) = line.trim().split_once(' ')?;
    let hex = hash.len() >= 12 && hash.bytes().all(|b| b.is_ascii_hexdigit());
    let dated = date.len() == 10 && date.bytes().all(|b| b.is_ascii_digit() || b == b'-');
    (hex && dated).then(|| Commit { hash: hash[..12].to_string(), date: date.to_string() })
}

/// The files whose change means another commit: HEAD, the branch it points at, packed refs.
fn watched(dir: &Path) -> Vec<PathBuf> {
    let mut paths = vec!["HEAD".to_string(), "packed-refs".to_string()];
    if let Some(branch) = git(dir, &["symbolic-ref", "-q", "HEAD"]) {
        paths.push(branch.trim().to_string());
    }
    paths
        .iter()
        .filter_map(|p| git(dir, &["rev-parse", "--path-format=absolute", "--git-path", p]))
        .map(|p| PathBuf::from(p.trim()))
        .filter(|p| p.is_file())
        .collect()
}

/// git's stdout in `dir`, or `None` if git is missing or fails. `TZ=UTC` makes `format-local`
/// dates UTC; no pager, no prompt, no lock taken on the index.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("TZ", "UTC")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .env("GIT_TERMINAL_PROMPT", "0")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .stdin(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .output()
        .ok()?;
    if !output.status.success() {
        return None;
    }
    String::from_utf8(output.stdout).ok()
}
