//! End to end: the `gen` binary on a real folder, for what only a whole run can show: exit
//! codes, what is printed, and what is (and is not) on disk afterwards.
//!
//! Each test copies an example site into its own temporary folder `lab/` and works on `lab/out`.

use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{PermissionsExt as _, symlink};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, SystemTime};

use walkdir::WalkDir;

use crate::support::{Run, run_gen};

struct Lab {
    root: tempfile::TempDir,
}

impl Lab {
    fn new() -> Lab {
        let root = tempfile::tempdir().unwrap();
        fs::create_dir(root.path().join("lab")).unwrap();
        fs::copy(example_site(), root.path().join("lab/site.toml")).unwrap();
        Lab { root }
    }

    fn site_folder(&self) -> PathBuf {
        self.root.path().join("lab")
    }

    fn out(&self) -> PathBuf {
        self.site_folder().join("out")
    }

    /// Runs `gen` in the site's folder, as a user would.
    fn run(&self, args: &[&str]) -> Run {
        self.run_in(&self.site_folder(), args)
    }

    fn run_in(&self, cwd: &Path, args: &[&str]) -> Run {
        run_gen(cwd, args)
    }

    fn built() -> Lab {
        let lab = Lab::new();
        lab.run(&["build"]).ok();
        lab
    }

    /// A file gen wrote, as its path relative to `out/`.
    fn some_file(&self) -> String {
        let text = fs::read_to_string(self.out().join("manifest.toml")).unwrap();
        let manifest = labgen::manifest::parse(&text).unwrap();
        manifest.files.keys().next().expect("the example builds some file").clone()
    }
}

/// The repository's example site if it has one, else the first golden case that builds.
fn example_site() -> PathBuf {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR"));
    for candidate in [repo.join("site.toml"), repo.join("examples/site.toml")] {
        if candidate.is_file() {
            return candidate;
        }
    }
    let mut cases: Vec<PathBuf> = fs::read_dir(repo.join("golden-tests"))
        .into_iter()
        .flatten()
        .map(|entry| entry.unwrap().path())
        .filter(|case| case.join("expected").is_dir())
        .collect();
    cases.sort();
    let case = cases.first().expect("an example site: `site.toml` or a golden case that builds");
    case.join("site.toml")
}

/// Everything under `root` (links not followed): kind, bytes or link target, mode, mtime.
fn snapshot(root: &Path) -> BTreeMap<PathBuf, (String, Vec<u8>, u32, SystemTime)> {
    let mut entries = BTreeMap::new();
    for entry in WalkDir::new(root).follow_links(false).sort_by_file_name() {
        let entry = entry.unwrap();
        let meta = entry.path().symlink_metadata().unwrap();
        let (kind, bytes) = if meta.is_symlink() {
            let target = fs::read_link(entry.path()).unwrap();
            ("link", target.into_os_string().into_encoded_bytes())
        } else if meta.is_dir() {
            ("dir", Vec::new())
        } else {
            ("file", fs::read(entry.path()).unwrap())
        };
        let key = entry.path().strip_prefix(root).unwrap().to_path_buf();
        let mode = meta.permissions().mode();
        entries.insert(key, (kind.to_string(), bytes, mode, meta.modified().unwrap()));
    }
    entries
}

/// Sets every mtime under `root` far into the past, so that any later write shows, however
/// coarse the file system's clock.
fn age(root: &Path) {
    let past = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    for entry in WalkDir::new(root).follow_links(false).contents_first(true) {
        let entry = entry.unwrap();
        if entry.path_is_symlink() {
            continue;
        }
        let file = if entry.file_type().is_dir() {
            fs::File::open(entry.path())
        } else {
            fs::File::options().append(true).open(entry.path())
        };
        file.unwrap().set_modified(past).unwrap();
    }
}

#[test]
fn a_second_build_writes_nothing() {
    let lab = Lab::new();
    lab.run(&["build"]).ok().stdout_has("added");
    assert!(lab.out().join("manifest.toml").is_file());
    age(&lab.out());
    let before = snapshot(&lab.out());
    lab.run(&["build"]).ok().stdout_has("`out` is up to date");
    assert_eq!(snapshot(&lab.out()), before);
}

#[test]
fn check_names_each_difference() {
    let lab = Lab::built();
    lab.run(&["check"]).ok().stdout_has("up to date");
    let file = lab.some_file();
    let path = lab.out().join(&file);
    let shown = format!("out/{file}");

    let mut bytes = fs::read(&path).unwrap();
    bytes.push(b'#');
    fs::write(&path, bytes).unwrap();
    lab.run(&["check"]).code(1).stdout_has(&format!("changed  {shown}")).stdout_has("gen build");
    lab.run(&["build"]).ok().stdout_has(&format!("changed  {shown}"));
    lab.run(&["check"]).ok();

    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).unwrap();
    lab.run(&["check"]).code(1).stdout_has(&format!("mode     {shown} (600, gen writes"));
    lab.run(&["build"]).ok();
    lab.run(&["check"]).ok();

    fs::remove_file(&path).unwrap();
    lab.run(&["check"]).code(1).stdout_has(&format!("missing  {shown}"));
    lab.run(&["build"]).ok().stdout_has(&format!("added    {shown}"));
    lab.run(&["check"]).ok();

    fs::write(lab.out().join("notes.txt"), "mine\n").unwrap();
    lab.run(&["check"]).code(1).stdout_has("extra    out/notes.txt");
}

#[test]
fn diff_shows_the_change_and_writes_nothing() {
    let lab = Lab::built();
    lab.run(&["diff"]).ok().stdout_has("no difference: `out` is what `site.toml` gives\n");
    let file = lab.some_file();
    fs::write(lab.out().join(&file), "a hand edit\n").unwrap();
    age(&lab.out());
    let before = snapshot(&lab.out());
    lab.run(&["diff"])
        .code(1)
        .stdout_has(&format!("--- a/out/{file}\n+++ b/out/{file}\n"))
        .stdout_has("\n-a hand edit\n");
    assert_eq!(snapshot(&lab.out()), before);
}

#[test]
fn an_invalid_site_changes_nothing() {
    let lab = Lab::built();
    let site = lab.site_folder().join("site.toml");
    let text = fs::read_to_string(&site).unwrap();
    fs::write(&site, format!("not_a_key = true\n{text}")).unwrap();
    age(&lab.out());
    let before = snapshot(&lab.out());
    for command in ["build", "check", "diff"] {
        lab.run(&[command]).code(2).stderr_has("error");
    }
    assert_eq!(snapshot(&lab.out()), before);
}

#[test]
fn an_out_that_holds_the_site_is_refused() {
    let lab = Lab::new();
    let folder = lab.site_folder();
    let absolute = folder.display().to_string();
    for out in [".", "..", "../lab/", absolute.as_str()] {
        lab.run(&["--out", out, "build"]).code(2).stderr_has("contains the site file");
    }
    assert_eq!(fs::read_dir(&folder).unwrap().count(), 1, "only site.toml is there");
}

#[test]
fn out_is_beside_the_site_from_any_folder() {
    let lab = Lab::new();
    lab.run_in(lab.root.path(), &["--site", "lab/site.toml", "build"]).ok().stdout_has("lab/out/");
    assert!(lab.out().join("manifest.toml").is_file());
    assert!(!lab.root.path().join("out").exists());
    lab.run_in(lab.root.path(), &["check", "--site", "lab/site.toml"]).ok();
}

#[test]
fn what_gen_no_longer_makes_is_pruned_and_unknown_files_are_kept() {
    let lab = Lab::built();
    let out = lab.out();
    // Pretend an earlier build made `hosts/gone/old.txt`: list it in the manifest (`[files]`
    // is its last table) and put it on disk.
    // A second listed file no longer has the bytes the manifest recorded: the user's now.
    let hash = labgen::tree::sha256_hex(b"old\n");
    let other = labgen::tree::sha256_hex(b"what gen wrote\n");
    let mut manifest = fs::read_to_string(out.join("manifest.toml")).unwrap();
    manifest += &format!("\"hosts/gone/old.txt\" = {{ mode = \"644\", sha256 = \"{hash}\" }}\n");
    manifest += &format!("\"kubespray/NOTES.md\" = {{ mode = \"644\", sha256 = \"{other}\" }}\n");
    fs::write(out.join("manifest.toml"), manifest).unwrap();
    fs::create_dir_all(out.join("hosts/gone")).unwrap();
    fs::write(out.join("hosts/gone/old.txt"), "old\n").unwrap();
    fs::write(out.join("kubespray/NOTES.md"), "my notes\n").unwrap();
    fs::write(out.join("notes.txt~"), "mine\n").unwrap();

    lab.run(&["build"])
        .ok()
        .stdout_has("removed  out/hosts/gone/old.txt")
        .stdout_has("kept     out/kubespray/NOTES.md")
        .stdout_has("unknown  out/notes.txt~");
    assert!(!out.join("hosts/gone").exists());
    assert_eq!(fs::read_to_string(out.join("notes.txt~")).unwrap(), "mine\n");
    assert_eq!(fs::read_to_string(out.join("kubespray/NOTES.md")).unwrap(), "my notes\n");
    fs::remove_file(out.join("kubespray/NOTES.md")).unwrap();
    lab.run(&["build"]).ok().stdout_has("up to date").stdout_has("unknown  out/notes.txt~");
}

#[test]
fn symlinks_in_out_are_refused_and_not_followed() {
    let lab = Lab::built();
    let out = lab.out();
    let file = lab.some_file();
    let outside = lab.root.path().join("outside.txt");
    fs::write(&outside, "outside\n").unwrap();
    fs::remove_file(out.join(&file)).unwrap();
    symlink(&outside, out.join(&file)).unwrap();

    lab.run(&["build"]).code(2).stderr_has("is a symlink");
    lab.run(&["check"]).code(1).stdout_has(&format!("out/{file} (on disk a symlink"));
    assert_eq!(fs::read_to_string(&outside).unwrap(), "outside\n");

    // A symlinked folder is refused too, and what it points at is left as it was.
    fs::remove_file(out.join(&file)).unwrap();
    lab.run(&["build"]).ok();
    let top = file.split('/').next().unwrap();
    let elsewhere = lab.root.path().join("elsewhere");
    fs::rename(out.join(top), &elsewhere).unwrap();
    symlink(&elsewhere, out.join(top)).unwrap();
    age(&elsewhere);
    let before = snapshot(&elsewhere);
    lab.run(&["build"]).code(2).stderr_has("is a symlink");
    assert_eq!(snapshot(&elsewhere), before);
}

/// `gen` on a `--site` that is no site file: refused at once with exit 2, never read forever
/// or blocked on. A run that hangs is killed and fails the test.
#[test]
fn a_site_that_is_missing_not_a_file_or_too_large_is_refused_at_once() {
    let lab = Lab::new();
    let folder = lab.site_folder();
    let fifo = folder.join("fifo.toml");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    // Just over the limit.
    let big = folder.join("big.toml");
    fs::write(&big, "#".repeat((16 << 20) + 1)).unwrap();
    let cases = [
        ("missing.toml", "there is no site file `missing.toml`"),
        ("/dev/zero", "is a device, not a regular file"),
        ("fifo.toml", "is a FIFO, not a regular file"),
        ("out", "is a folder, not a regular file"),
        ("big.toml", "is larger than 16 MiB, gen's limit"),
    ];
    fs::create_dir(lab.out()).unwrap();
    for (site, says) in cases {
        for command in ["build", "check"] {
            let mut child = Command::new(env!("CARGO_BIN_EXE_gen"))
                .args(["--site", site, "--out", "elsewhere", command])
                .current_dir(&folder)
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            let deadline = std::time::Instant::now() + Duration::from_secs(20);
            while child.try_wait().unwrap().is_none() {
                if std::time::Instant::now() > deadline {
                    child.kill().unwrap();
                    panic!("`gen --site {site} {command}` hangs");
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            let output = child.wait_with_output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert_eq!(output.status.code(), Some(2), "{site}: {stderr}");
            assert!(stderr.contains(says), "{site}: {stderr}");
            assert!(!folder.join("elsewhere").exists());
        }
    }
}
