//! What several test modules need, written once: a finished run of a command and its asserts,
//! `gen` run in a folder, an ssh key made for a test, the problems of a site, and what a test
//! does when a tool it needs is missing.

use std::path::Path;
use std::process::{Command, Output, Stdio};

use labgen::error::Error;
use labgen::problem::Problem;

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
    Run::from(gen_output(dir, args))
}

/// What `gen ARGS` in `dir` gave, with no terminal on stdin, as bytes: for output that need not
/// be UTF-8 (`run_gen` insists that it is).
pub(crate) fn gen_output(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_gen"))
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap()
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

/// The problems of a site, each as the dotted key it is at and the problem; empty when it is
/// valid. Any other error is the test's mistake.
pub(crate) fn site_problems(site: &toml::Table) -> Vec<(String, Problem)> {
    let text = toml::to_string(site).unwrap();
    match labgen::site::Site::from_toml(&text, "site.toml") {
        Ok(_) => vec![],
        Err(Error::InvalidSite { diagnostics, .. }) => {
            diagnostics.into_iter().map(|d| (d.key, d.problem)).collect()
        }
        Err(e) => panic!("not a site error: {e}"),
    }
}

/// Says SKIPPED: `what` cannot run here, and `why`. When `CI` is set this fails instead: CI
/// installs every tool (`.ci/install-tools`), so a missing one there is a broken setup, not a
/// pass.
#[track_caller]
pub(crate) fn skip(what: &str, why: &str) {
    assert!(std::env::var_os("CI").is_none(), "{what} cannot run: {why}");
    eprintln!("SKIPPED: {what} {why}");
}

/// Whether `tool` starts here (`tool ARG`); when it does not, `what` is skipped (`skip`),
/// naming the package that has it.
#[track_caller]
pub(crate) fn tool_runs(tool: &str, arg: &str, what: &str, package: &str) -> bool {
    let runs = Command::new(tool).arg(arg).output().is_ok();
    if !runs {
        skip(what, &format!("needs `{tool}` ({package})"));
    }
    runs
}
