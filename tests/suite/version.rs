//! `gen --version` names the commit it was built from, and only from the commit: `build.rs`'s
//! `describe` on repositories made here (dates in other time zones, untracked crates, no
//! commits), the binary's own line against this checkout, and the build script run in a copy of
//! the source without `.git`, as a tarball is.

use std::fs;
use std::path::Path;
use std::process::Command;

#[path = "../../build.rs"]
#[allow(dead_code)]
mod build_script;

fn git(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .envs(env.iter().copied())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .output()
        .expect("git runs");
    assert!(output.status.success(), "git {args:?}: {}", String::from_utf8_lossy(&output.stderr));
    String::from_utf8(output.stdout).unwrap()
}

/// A repository with `Cargo.toml` committed at `date` (committer and author).
fn repository(dir: &Path, date: &str) {
    git(dir, &["init", "-q", "-b", "main"], &[]);
    fs::write(dir.join("Cargo.toml"), "[package]\n").unwrap();
    git(dir, &["add", "Cargo.toml"], &[]);
    let who = [
        ("GIT_AUTHOR_NAME", "t"),
        ("GIT_AUTHOR_EMAIL", "t@example.invalid"),
        ("GIT_COMMITTER_NAME", "t"),
        ("GIT_COMMITTER_EMAIL", "t@example.invalid"),
        ("GIT_AUTHOR_DATE", date),
        ("GIT_COMMITTER_DATE", date),
    ];
    git(dir, &["commit", "-q", "-m", "one"], &who);
}

/// The UTC calendar date of a Unix time (Howard Hinnant's civil_from_days), computed here
/// rather than asked of git, so the test does not share the build script's method.
fn utc_date(seconds: i64) -> String {
    let z = seconds.div_euclid(86_400) + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}")
}

#[test]
fn the_date_is_the_commits_in_utc_not_the_clock_nor_the_local_zone() {
    let dir = tempfile::tempdir().unwrap();
    // 23:30 at UTC-5 is the next day in UTC.
    repository(dir.path(), "2001-02-03T23:30:00-05:00");
    let head = git(dir.path(), &["rev-parse", "HEAD"], &[]);
    let commit = build_script::describe(dir.path()).expect("a checkout");
    assert_eq!(commit.hash, head.trim()[..12]);
    assert_eq!(commit.date, "2001-02-04");
    assert_eq!(build_script::describe(dir.path()), Some(commit), "the same answer twice");
}

#[test]
fn a_folder_that_is_not_the_crates_checkout_gives_no_commit() {
    // No git at all: a tarball.
    let plain = tempfile::tempdir().unwrap();
    fs::write(plain.path().join("Cargo.toml"), "[package]\n").unwrap();
    assert_eq!(build_script::describe(plain.path()), None);
    // A crate unpacked inside some other repository: that repository's commit is not its own.
    let outer = tempfile::tempdir().unwrap();
    repository(outer.path(), "2001-02-03T12:00:00Z");
    let inner = outer.path().join("unpacked");
    fs::create_dir(&inner).unwrap();
    fs::write(inner.join("Cargo.toml"), "[package]\n").unwrap();
    assert_eq!(build_script::describe(&inner), None);
    // A repository with no commit yet.
    let empty = tempfile::tempdir().unwrap();
    git(empty.path(), &["init", "-q"], &[]);
    fs::write(empty.path().join("Cargo.toml"), "[package]\n").unwrap();
    git(empty.path(), &["add", "Cargo.toml"], &[]);
    assert_eq!(build_script::describe(empty.path()), None);
}

#[test]
fn gen_version_names_the_commit_of_this_checkout() {
    let output = Command::new(env!("CARGO_BIN_EXE_gen")).arg("--version").output().unwrap();
    assert!(output.status.success());
    let line = String::from_utf8(output.stdout).unwrap();
    let version = env!("CARGO_PKG_VERSION");
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let checkout = Command::new("git")
        .arg("-C")
        .arg(repo)
        .args(["rev-parse", "HEAD"])
        .output()
        .is_ok_and(|o| o.status.success());
    if !checkout {
        assert!(std::env::var_os("CI").is_none(), "CI runs on a git clone");
        assert_eq!(line, format!("gen {version}\n"));
        return;
    }
    let head = git(repo, &["log", "-1", "--format=%H %ct"], &[]);
    let (hash, seconds) = head.trim().split_once(' ').unwrap();
    let date = utc_date(seconds.parse().unwrap());
    assert_eq!(line, format!("gen {version} ({} {date})\n", &hash[..12]));
}

/// The build script, compiled on its own and run as cargo runs it, in a copy of this source
/// without `.git`: it succeeds and names no commit. (A full `cargo install` of such a copy is
/// what the script then feeds; the walk-through test runs a real install in CI.)
#[test]
fn in_a_copy_without_git_the_build_script_succeeds_and_names_no_commit() {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    let copy = tempfile::tempdir().unwrap();
    for name in ["Cargo.toml", "build.rs"] {
        fs::copy(repo.join(name), copy.path().join(name)).unwrap();
    }
    let binary = copy.path().join("build-script");
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".to_string());
    let compiled = Command::new(rustc)
        .args(["--edition", "2024", "-o"])
        .arg(&binary)
        .arg(copy.path().join("build.rs"))
        .output()
        .unwrap();
    assert!(compiled.status.success(), "{}", String::from_utf8_lossy(&compiled.stderr));
    let run = |dir: &Path| {
        let output = Command::new(&binary).env("CARGO_MANIFEST_DIR", dir).output().unwrap();
        assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
        String::from_utf8(output.stdout).unwrap()
    };
    let said = run(copy.path());
    assert!(said.lines().any(|l| l == "cargo:rustc-env=GEN_COMMIT="), "{said}");
    assert!(!said.contains(".git"), "nothing to watch without git: {said}");
    // The same script in this checkout names HEAD and watches it.
    let said = run(repo);
    let head = git(repo, &["rev-parse", "HEAD"], &[]);
    let line = said.lines().find(|l| l.starts_with("cargo:rustc-env=GEN_COMMIT=")).unwrap();
    assert!(line.starts_with(&format!("cargo:rustc-env=GEN_COMMIT= ({} ", &head[..12])), "{said}");
    assert!(said.contains("cargo:rerun-if-changed=") && said.contains("HEAD"), "{said}");
}
