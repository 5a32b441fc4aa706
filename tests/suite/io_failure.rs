//! An I/O failure in the middle of `gen build`: the error says what was already written and
//! deleted and that `out/` is now mixed, the exit status is 1 (not 2, which means invalid
//! input), and the next build repairs `out/` completely, with either site.
//!
//! The failure is real: one file of `out/` is made immutable with `chattr +i` (root, on ext4 or
//! tmpfs), so renaming the new file over it fails; where that is not allowed, its folder is
//! made read-only instead (which stops a user who is not root).

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use labgen::diff::{Disk, Entry, compare};

use crate::crash::Lab;

/// What was done to make a file impossible to replace, undone on drop.
enum Frozen {
    Immutable(PathBuf),
    ReadOnlyFolder(PathBuf),
}

impl Frozen {
    fn new(file: &Path) -> Option<Frozen> {
        let chattr = Command::new("chattr").arg("+i").arg(file).output();
        if chattr.is_ok_and(|o| o.status.success()) {
            return Some(Frozen::Immutable(file.to_path_buf()));
        }
        let folder = file.parent().unwrap().to_path_buf();
        fs::set_permissions(&folder, fs::Permissions::from_mode(0o555)).unwrap();
        let frozen = Frozen::ReadOnlyFolder(folder.clone());
        // Root ignores the mode: then this machine cannot make a write fail.
        fs::write(folder.join("probe"), "").is_err().then_some(frozen)
    }
}

impl Drop for Frozen {
    fn drop(&mut self) {
        match self {
            Frozen::Immutable(file) => {
                let _ = Command::new("chattr").arg("-i").arg(&*file).status();
            }
            Frozen::ReadOnlyFolder(folder) => {
                let _ = fs::set_permissions(&*folder, fs::Permissions::from_mode(0o755));
                let _ = fs::remove_file(folder.join("probe"));
            }
        }
    }
}

#[test]
fn a_write_that_fails_midway_is_reported_exactly_and_the_next_build_repairs() {
    let lab = Lab::new();
    let [a, b] = &lab.trees;
    for next_site in [1, 0] {
        lab.build(0);
        // A file both sites make, with other bytes, late in path order: some files are written
        // before it fails.
        let changed: Vec<&str> = b
            .paths()
            .filter(|p| *p != "manifest.toml")
            .filter(|p| a.get(p).is_some_and(|f| f.bytes != b.get(p).unwrap().bytes))
            .collect();
        let victim = changed[changed.len() * 2 / 3];
        let Some(frozen) = Frozen::new(&lab.out.join(victim)) else {
            assert!(std::env::var_os("CI").is_none(), "cannot make a write fail here");
            eprintln!("SKIPPED: neither chattr +i nor a read-only folder stops writes here");
            return;
        };

        let output = lab.command(1, "build").output().unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(1), "{stderr}");
        let out = lab.out.display();
        assert!(stderr.contains(&format!("could not replace `{out}/{victim}`")), "{stderr}");
        assert!(stderr.contains(&format!("so `{out}` now mixes the previous build")), "{stderr}");
        assert!(stderr.contains("run `gen build` again"), "{stderr}");
        // It counts every file it wrote and names the first ones: those are the new site's,
        // the others still the old site's.
        let wrote: Vec<&str> = stderr
            .lines()
            .filter_map(|l| l.trim().strip_prefix("wrote"))
            .map(|l| l.trim().strip_prefix(&format!("{out}/")).unwrap())
            .collect();
        let count: usize = stderr
            .split_once("it had written ")
            .and_then(|(_, rest)| rest.split_once(' '))
            .and_then(|(n, _)| n.parse().ok())
            .unwrap_or_else(|| panic!("no count in {stderr}"));
        assert!(count > 2 && !wrote.is_empty() && wrote.len() <= count, "{stderr}");
        assert!(stderr.contains("and deleted 0 in"), "{stderr}");
        let disk = Disk::read(&lab.out).unwrap();
        let mut new = 0;
        for (path, entry) in disk.iter().filter(|(p, _)| *p != "manifest.toml") {
            let Entry::File { bytes, .. } = entry else { panic!("{path} is {}", entry.what()) };
            let of = |tree: &labgen::Tree| tree.get(path).is_some_and(|f| f.bytes == *bytes);
            let is_new = of(b) && !of(a);
            assert!(of(a) || of(b), "{path} is neither site's");
            assert!(is_new || !wrote.contains(&path), "{path} is named as written but is not");
            new += usize::from(is_new);
        }
        let manifest_written = usize::from(wrote.contains(&"manifest.toml"));
        assert_eq!(new + manifest_written, count, "{stderr}");
        lab.check(1).unwrap();

        // The cause removed, one build of either site repairs everything.
        drop(frozen);
        let stdout = lab.build(next_site);
        assert!(!stdout.contains("unknown") && !stdout.contains("kept"), "{stdout}");
        assert!(compare(&lab.out, &lab.trees[next_site]).unwrap().is_empty());
        lab.check(next_site).unwrap();
    }
}
