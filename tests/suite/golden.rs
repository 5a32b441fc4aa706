//! Golden trees: every byte gen writes, pinned per case and reviewed like code.
//!
//! A case is a folder `golden-tests/<case>/` holding `site.toml` and one of
//! - `expected/`: the whole tree `labgen::build` must give, `manifest.toml` included, each file
//!   with its mode on disk (git keeps the exec bit);
//! - `error.txt`: the exact message of the error the build must fail with, then one newline.
//!
//! The example lab is a case too, without a copy: the repository's own `site.toml`, whose
//! expected tree is the committed `out/`.
//!
//! Every case is built in-process, twice, and compared in both directions (missing and extra
//! files, bytes, modes) by `labgen::diff`, the code behind `gen check`. All cases run before the
//! test fails once with every difference. `BLESS=1` replaces `expected/` or `error.txt` wholly,
//! so a file gen stopped making disappears from the case too.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};

use labgen::Tree;
use labgen::diff::{Disk, compare_trees, unified};

const SITE: &str = "site.toml";
const EXPECTED: &str = "expected";
const ERROR: &str = "error.txt";

#[test]
fn golden_trees() {
    let bless = bless_requested();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("golden-tests");
    let folders = case_folders(&root);
    assert!(!folders.is_empty(), "no cases in `{}`", root.display());
    let repository = root.parent().unwrap();
    let example = Case {
        label: "site.toml -> out".to_string(),
        site: repository.join(SITE),
        expected: repository.join("out"),
        error: None,
    };
    let cases = folders.iter().map(|folder| Case {
        label: format!("golden-tests/{}", folder.file_name().unwrap().to_string_lossy()),
        site: folder.join(SITE),
        expected: folder.join(EXPECTED),
        error: Some(folder.join(ERROR)),
    });

    let mut failures = String::new();
    for case in std::iter::once(example).chain(cases) {
        let problems = run_case(&case, bless);
        if !problems.is_empty() {
            failures += &format!("=== {}\n{problems}\n", case.label);
        }
    }
    assert!(
        failures.is_empty(),
        "{failures}run `BLESS=1 cargo test --test golden` and review `git diff golden-tests/`"
    );
}

/// Blessing rewrites what reviewers rely on, so it is asked for exactly and never done by CI.
fn bless_requested() -> bool {
    let bless = match std::env::var("BLESS").as_deref() {
        Err(_) => false,
        Ok("1") => true,
        Ok(other) => panic!("BLESS={other:?}: set `BLESS=1` to rewrite the golden files"),
    };
    assert!(
        !(bless && std::env::var_os("CI").is_some()),
        "refusing to bless with CI set: golden files change in a reviewed commit, not in CI"
    );
    bless
}

fn case_folders(root: &Path) -> Vec<PathBuf> {
    let mut cases: Vec<PathBuf> = fs::read_dir(root)
        .unwrap_or_else(|e| panic!("cannot read `{}`: {e}", root.display()))
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

/// A site file and what it must build to.
struct Case {
    label: String,
    site: PathBuf,
    expected: PathBuf,
    /// Where the expected error is kept; `None` for a case that must build.
    error: Option<PathBuf>,
}

/// Everything wrong with one case, as text; empty when it passes.
fn run_case(case: &Case, bless: bool) -> String {
    let site = match fs::read_to_string(&case.site) {
        Ok(site) => site,
        Err(e) => return format!("cannot read `{SITE}`: {e}\n"),
    };
    let build = || labgen::build(&site, SITE).map(|built| built.tree);
    let built = build();
    let mut problems = determinism(&built, &build());
    if let Ok(tree) = &built {
        problems += &text_rules(tree);
    }
    if bless {
        rewrite(case, &built);
    } else {
        problems += &compare(case, &built);
    }
    problems
}

fn determinism(first: &labgen::Result<Tree>, second: &labgen::Result<Tree>) -> String {
    let same = match (first, second) {
        (Ok(a), Ok(b)) => a == b,
        (Err(a), Err(b)) => a.to_string() == b.to_string(),
        _ => false,
    };
    if same { String::new() } else { "two builds of the same site.toml differ\n".to_string() }
}

/// The output rules every golden case enforces, whatever the expected files say.
fn text_rules(tree: &Tree) -> String {
    let machine_path = env!("CARGO_MANIFEST_DIR");
    let mut problems = String::new();
    for (path, file) in tree.iter() {
        let Ok(text) = std::str::from_utf8(&file.bytes) else { continue };
        if !text.ends_with('\n') || text.ends_with("\n\n") {
            problems += &format!("`{path}` does not end with exactly one newline\n");
        }
        if text.contains(machine_path) {
            problems += &format!("`{path}` contains this machine's path `{machine_path}`\n");
        }
    }
    problems
}

fn compare(case: &Case, built: &labgen::Result<Tree>) -> String {
    let expected = &case.expected;
    let error = case.error.as_deref().unwrap_or(Path::new(""));
    match (built, expected.is_dir(), error.is_file()) {
        (_, true, true) => format!("has both `{EXPECTED}/` and `{ERROR}`; keep one\n"),
        (Ok(tree), true, false) => {
            let disk = Disk::read(expected).unwrap_or_else(|e| panic!("{e}"));
            let changes = compare_trees(tree, &disk);
            let label = format!(
                "{}",
                expected.strip_prefix(env!("CARGO_MANIFEST_DIR")).unwrap_or(expected).display()
            );
            let mut text = String::new();
            for change in &changes {
                text += &format!("{}\n", change.describe(&label));
            }
            text + &unified(&changes, tree, &disk, &label, "<build>")
        }
        (Ok(_), false, true) => format!("the build succeeded but the case expects `{ERROR}`\n"),
        (Ok(_), false, false) => format!("has neither `{EXPECTED}/` nor `{ERROR}`\n"),
        (Err(e), _, true) => {
            let want = fs::read_to_string(error).unwrap_or_else(|e| panic!("{e}"));
            let got = format!("{e}\n");
            if want == got {
                return String::new();
            }
            similar::TextDiff::from_lines(&want, &got)
                .unified_diff()
                .header(ERROR, "<build error>")
                .to_string()
        }
        (Err(e), _, false) => format!("the build failed:\n{e}\n"),
    }
}

/// Replaces the case's expectation with what the build gave, removing the old one first.
fn rewrite(case: &Case, built: &labgen::Result<Tree>) {
    let expected = &case.expected;
    if expected.exists() {
        fs::remove_dir_all(expected).unwrap();
    }
    if let Some(error) = case.error.as_ref().filter(|e| e.exists()) {
        fs::remove_file(error).unwrap();
    }
    match built {
        Ok(tree) => {
            for (path, file) in tree.iter() {
                let target = expected.join(path);
                fs::create_dir_all(target.parent().unwrap()).unwrap();
                fs::write(&target, &file.bytes).unwrap();
                fs::set_permissions(&target, fs::Permissions::from_mode(file.mode.bits())).unwrap();
            }
        }
        Err(e) => match &case.error {
            Some(error) => fs::write(error, format!("{e}\n")).unwrap(),
            None => panic!("{}: the build failed, and this case must build:\n{e}", case.label),
        },
    }
}
