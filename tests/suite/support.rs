//! What several test modules need, written once: a finished run of a command and its asserts,
//! `gen` run in a folder, and an ssh key made for a test.

use std::path::Path;
use std::process::{Command, Output, Stdio};

/// A finished run of `gen` (or another command): its exit code and what it printed.
pub(crate) struct Run {
    pub(crate) code: i32,
    pub(crate) stdout: String,
    pub(crate) stderr: String,
}

impl Run {
    /// A run from its output; a run killed by a signal has code -1.
    pub(crate) fn from(output: Output) -> Run {
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8(output.stdout).unwrap(),
            stderr: String::from_utf8(output.stderr).unwrap(),
        }
    }

    #[track_caller]
    pub(crate) fn code(&self, code: i32) -> &Run {
        assert_eq!(self.code, code, "stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr);
        self
    }

    #[track_caller]
    pub(crate) fn ok(&self) -> &Run {
        self.code(0)
    }

    #[track_caller]
    pub(crate) fn stdout_has(&self, needle: &str) -> &Run {
        assert!(self.stdout.contains(needle), "no {needle:?} in stdout:\n{}", self.stdout);
        self
    }

    #[track_caller]
    pub(crate) fn stderr_has(&self, needle: &str) -> &Run {
        assert!(self.stderr.contains(needle), "no {needle:?} in stderr:\n{}", self.stderr);
        self
    }

    /// `text` on stdout or stderr.
    #[track_caller]
    pub(crate) fn says(&self, text: &str) -> &Run {
        assert!(
            self.stdout.contains(text) || self.stderr.contains(text),
            "expected {text:?} in\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }

    /// `text` on neither stdout nor stderr.
    #[track_caller]
    pub(crate) fn never_says(&self, text: &str) -> &Run {
        assert!(
            !self.stdout.contains(text) && !self.stderr.contains(text),
            "unexpected {text:?} in\nstdout:\n{}\nstderr:\n{}",
            self.stdout,
            self.stderr
        );
        self
    }
}

/// `gen ARGS` in `dir`, with no terminal on stdin.
pub(crate) fn run_gen(dir: &Path, args: &[&str]) -> Run {
    let output = Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    Run::from(output)
}

/// A new ed25519 key pair at `path` (and `path.pub`), without a passphrase or comment.
pub(crate) fn keygen(path: &Path) {
    let status = Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "", "-f"])
        .arg(path)
        .status()
        .unwrap();
    assert!(status.success());
}

/// Whether the tests run as root (the real uid), as the namespaces and mounts of some need.
pub(crate) fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| s.lines().find(|l| l.starts_with("Uid:")).map(str::to_string))
        .is_some_and(|l| l.split_whitespace().nth(1) == Some("0"))
}
