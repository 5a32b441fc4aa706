//! Only reviewed trees reach a server: is `out/` exactly what the commit at HEAD holds?
//!
//! `gen check` proves that `out/` is what `site.toml` gives, but not that anyone looked at it: a
//! `git commit -am` leaves new generated files untracked, and `gen apply` would send them all the
//! same. So in a git work tree `gen apply` (and its dry run) first asks git whether anything under
//! `out/` differs from HEAD: a file changed, staged, deleted, new and untracked, or new and ignored
//! (an ignored file is not in the commit either). It runs the system's `git`, which knows the
//! index, `.gitignore` and `core.fileMode` exactly as the user's own `git diff` does.
//!
//! Outside a git work tree there is nothing to compare with: gen says so and goes on, so that a
//! lab kept without git (or in another version control system) still works.

use std::path::Path;
use std::process::Command;

use crate::error::{Change, ChangeKind, Error, Result};

/// What git says about `out/`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Review {
    /// `out/` is exactly the commit at HEAD (its full hash).
    Committed { commit: String },
    /// Something under `out/` differs from HEAD. `commit` is `None` before the first commit.
    Differs { commit: Option<String>, changes: Vec<Change> },
    /// `out/` is not inside a git work tree, or git is not installed.
    NotGit { why: &'static str },
}

/// Asks git about the folder `out` (which exists).
pub fn review(out: &Path) -> Result<Review> {
    let inside = match git(out, &["rev-parse", "--is-inside-work-tree"]) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Review::NotGit { why: "git is not installed" });
        }
        Err(e) => return Err(Error::io(out, "run git in", e)),
        Ok(o) => o,
    };
    if !inside.status.success() || String::from_utf8_lossy(&inside.stdout).trim() != "true" {
        let stderr = String::from_utf8_lossy(&inside.stderr);
        // Anything else (a repository git refuses to read, say) must not pass for "no git".
        if stderr.contains("not a git repository") || inside.status.success() {
            return Ok(Review::NotGit { why: "it is not in a git work tree" });
        }
        return Err(git_failed(out, "rev-parse", &stderr));
    }
    let head = git(out, &["rev-parse", "--verify", "--quiet", "HEAD^{commit}"])
        .map_err(|e| Error::io(out, "run git in", e))?;
    let commit =
        head.status.success().then(|| String::from_utf8_lossy(&head.stdout).trim().to_string());
    let status = git(
        out,
        &[
            "status",
            "--porcelain=v1",
            "-z",
            "--untracked-files=all",
            "--ignored=matching",
            "--",
            ".",
        ],
    )
    .map_err(|e| Error::io(out, "run git in", e))?;
    if !status.status.success() {
        return Err(git_failed(out, "status", &String::from_utf8_lossy(&status.stderr)));
    }
    let mut changes = parse_status(&status.stdout);
    if commit.is_none() {
        // Before the first commit every file is new, whatever the index says.
        for c in &mut changes {
            if c.kind == ChangeKind::Changed {
                c.kind = ChangeKind::New;
            }
        }
    }
    Ok(match (commit, changes.is_empty()) {
        (Some(commit), true) => Review::Committed { commit },
        (commit, _) => Review::Differs { commit, changes },
    })
}

fn git(dir: &Path, args: &[&str]) -> std::io::Result<std::process::Output> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        // The user's pager, colours and locale must not change what gen parses.
        .env("GIT_PAGER", "cat")
        .env("LC_ALL", "C")
        .env_remove("GIT_DIR")
        .env_remove("GIT_WORK_TREE")
        .output()
}

fn git_failed(out: &Path, what: &str, stderr: &str) -> Error {
    Error::Git { out: out.to_path_buf(), command: what.to_string(), detail: stderr.trim().into() }
}

/// `git status --porcelain=v1 -z`: `XY path\0`, with a rename's or copy's old path after it.
fn parse_status(bytes: &[u8]) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut fields = bytes.split(|b| *b == 0).filter(|f| !f.is_empty());
    while let Some(field) = fields.next() {
        if field.len() < 4 {
            continue;
        }
        let (x, y) = (field[0], field[1]);
        let path = String::from_utf8_lossy(&field[3..]).into_owned();
        let kind = match (x, y) {
            (b'?', b'?') => ChangeKind::New,
            (b'!', b'!') => ChangeKind::Ignored,
            (b'D', _) | (_, b'D') => ChangeKind::Deleted,
            (b'A', _) => ChangeKind::New,
            _ => ChangeKind::Changed,
        };
        if matches!(x, b'R' | b'C') {
            // The old path of a staged rename is gone from the work tree as HEAD had it.
            if let Some(old) = fields.next() {
                let old = String::from_utf8_lossy(old).into_owned();
                changes.push(Change { kind: ChangeKind::Deleted, path: old });
            }
            changes.push(Change { kind: ChangeKind::New, path });
            continue;
        }
        changes.push(Change { kind, path });
    }
    changes.sort_by(|a, b| a.path.cmp(&b.path));
    changes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn porcelain_entries_are_classified() {
        let status = b"?? out/new\0!! out/ignored\0 M out/changed\0D  out/staged-delete\0 D \
                       out/deleted\0A  out/added\0R  out/b\0out/a\0MM out/both\0";
        let changes = parse_status(status);
        let got: Vec<(&str, &str)> = changes.iter().map(|c| (c.kind.word(), &*c.path)).collect();
        assert_eq!(
            got,
            [
                ("deleted", "out/a"),
                ("new", "out/added"),
                ("new", "out/b"),
                ("changed", "out/both"),
                ("changed", "out/changed"),
                ("deleted", "out/deleted"),
                ("ignored", "out/ignored"),
                ("new", "out/new"),
                ("deleted", "out/staged-delete"),
            ]
        );
    }
}
