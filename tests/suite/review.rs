//! Only reviewed trees reach a server: `gen apply` against real git repositories in temporary
//! folders. The example's hosts are moved to loopback addresses on a closed port, and gen runs
//! in a network namespace of its own with only loopback up (`unshare -n`) where that is
//! possible, so an apply that gets past the git check reaches nothing.

use std::fs;
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use labgen::error::ChangeKind;
use labgen::review::{Review, review};

use crate::support::tool_runs;

struct Lab {
    root: tempfile::TempDir,
}

impl Lab {
    /// The example, with its hosts on 127.0.0.2 and .3 port 9, built (not in git yet).
    fn built() -> Option<Lab> {
        if !tool_runs("git", "--version", "the review test", "git") {
            return None;
        }
        let root = tempfile::tempdir().unwrap();
        let site = fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml"))
            .unwrap()
            .replace("address = \"192.168.1.10\"", "address = \"127.0.0.2\"\nport = 9")
            .replace("address = \"192.168.1.11\"", "address = \"127.0.0.3\"\nport = 9");
        fs::write(root.path().join("site.toml"), site).unwrap();
        let lab = Lab { root };
        assert!(lab.run(&["build"]).status.success());
        Some(lab)
    }

    fn dir(&self) -> &Path {
        self.root.path()
    }

    fn out(&self) -> PathBuf {
        self.dir().join("out")
    }

    /// `gen ARGS` in the lab, in a namespace with only loopback when `unshare -n` works here.
    fn run(&self, args: &[&str]) -> Output {
        let binary = env!("CARGO_BIN_EXE_gen");
        let isolated =
            Command::new("unshare").args(["-n", "true"]).status().is_ok_and(|s| s.success());
        let mut command = if isolated {
            let mut c = Command::new("unshare");
            c.args(["-n", "sh", "-c", "ip link set lo up 2>/dev/null; exec \"$0\" \"$@\"", binary]);
            c
        } else {
            // Without a namespace the addresses are still loopback and the port closed.
            Command::new(binary)
        };
        command
            .args(args)
            .current_dir(self.dir())
            .env("GEN_SSH_CONFIG", "/dev/null")
            .output()
            .unwrap()
    }

    fn git(&self, args: &[&str]) -> String {
        let output = Command::new("git")
            .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
            .args(args)
            .current_dir(self.dir())
            .env_remove("GIT_DIR")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8(output.stdout).unwrap()
    }

    fn commit_all(&self) -> String {
        self.git(&["add", "-A"]);
        self.git(&["commit", "-q", "-m", "lab"]);
        self.git(&["rev-parse", "HEAD"]).trim().to_string()
    }

    fn append(&self, text: &str) {
        let path = self.dir().join("site.toml");
        let site = fs::read_to_string(&path).unwrap();
        fs::write(path, site + text).unwrap();
    }
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn kinds(r: &Review) -> Vec<(ChangeKind, String)> {
    match r {
        Review::Differs { changes, .. } => {
            changes.iter().map(|c| (c.kind, c.path.clone())).collect()
        }
        other => panic!("expected differences, got {other:?}"),
    }
}

const WORKER_8: &str =
    "\n[nodes.k8s-w-8]\nhost = \"vmhost2\"\nrole = \"worker\"\nip = \"192.168.1.38\"\n";

#[test]
fn git_tells_what_under_out_differs_from_head() {
    let Some(lab) = Lab::built() else { return };
    assert!(matches!(review(&lab.out()).unwrap(), Review::NotGit { .. }));

    lab.git(&["init", "-q"]);
    let r = review(&lab.out()).unwrap();
    assert!(matches!(&r, Review::Differs { commit: None, changes } if changes.len() > 10), "{r:?}");

    let head = lab.commit_all();
    assert_eq!(review(&lab.out()).unwrap(), Review::Committed { commit: head.clone() });
    // Files outside out/ do not matter.
    fs::write(lab.dir().join("notes.txt"), "mine\n").unwrap();
    assert_eq!(review(&lab.out()).unwrap(), Review::Committed { commit: head });

    // Every kind of difference, each named.
    fs::write(lab.out().join("hosts/vmhost1/apply.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    fs::remove_file(lab.out().join("kubespray/requirements.txt")).unwrap();
    fs::write(lab.out().join("new.txt"), "x\n").unwrap();
    fs::write(lab.dir().join(".gitignore"), "*.secret\n").unwrap();
    fs::write(lab.out().join("hosts/vmhost2/key.secret"), "x\n").unwrap();
    assert_eq!(
        kinds(&review(&lab.out()).unwrap()),
        [
            (ChangeKind::Changed, "out/hosts/vmhost1/apply.sh".to_string()),
            (ChangeKind::Ignored, "out/hosts/vmhost2/key.secret".to_string()),
            (ChangeKind::Deleted, "out/kubespray/requirements.txt".to_string()),
            (ChangeKind::New, "out/new.txt".to_string()),
        ]
    );
    // Staged is not committed.
    lab.git(&["checkout", "--", "out"]);
    fs::remove_file(lab.out().join("new.txt")).unwrap();
    fs::remove_file(lab.out().join("hosts/vmhost2/key.secret")).unwrap();
    fs::write(lab.out().join("hosts/vmhost1/apply.sh"), "#!/bin/sh\nexit 0\n").unwrap();
    lab.git(&["add", "out"]);
    assert_eq!(
        kinds(&review(&lab.out()).unwrap()),
        [(ChangeKind::Changed, "out/hosts/vmhost1/apply.sh".to_string())]
    );
    // A mode change is a change too.
    lab.git(&["reset", "-q", "--hard"]);
    let script = lab.out().join("hosts/vmhost1/apply.sh");
    fs::set_permissions(&script, fs::Permissions::from_mode(0o644)).unwrap();
    assert_eq!(
        kinds(&review(&lab.out()).unwrap()),
        [(ChangeKind::Changed, "out/hosts/vmhost1/apply.sh".to_string())]
    );
}

#[test]
fn commit_am_leaves_new_files_out_and_apply_refuses_them() {
    let Some(lab) = Lab::built() else { return };
    lab.git(&["init", "-q"]);
    lab.commit_all();
    lab.append(WORKER_8);
    assert!(lab.run(&["build"]).status.success());
    // The old README's workflow: tracked files only.
    lab.git(&["commit", "-q", "-am", "lab: add a worker"]);
    for args in [&["apply", "vmhost2"][..], &["apply", "vmhost2", "--dry-run"], &["apply", "--all"]]
    {
        let run = lab.run(args);
        let text = stderr(&run);
        assert_eq!(run.status.code(), Some(1), "{args:?}: {text}");
        assert!(text.starts_with("error: `out` differs from the commit at HEAD ("), "{text}");
        assert!(text.contains("\n  new      out/"), "{text}");
        assert!(text.contains("k8s-w-8"), "{text}");
        assert!(text.contains("`git add out/`") && text.contains("--allow-dirty"), "{text}");
        assert!(!text.contains("reach"), "it tried the server: {text}");
    }
    // --allow-dirty gets past git (and then finds nothing listening on loopback port 9).
    let run = lab.run(&["apply", "vmhost2", "--allow-dirty"]);
    let text = stderr(&run);
    assert_eq!(run.status.code(), Some(1), "{text}");
    assert!(text.starts_with("warning: `out` differs from the commit at HEAD in "), "{text}");
    assert!(text.contains("cannot reach `vmhost2`"), "{text}");
    // Committing the new files too (the README's workflow) is what apply wants.
    lab.git(&["add", "out/"]);
    lab.git(&["commit", "-q", "-m", "lab: the new worker's files"]);
    let run = lab.run(&["apply", "vmhost2"]);
    let text = stderr(&run);
    assert!(!text.contains("differs from the commit"), "{text}");
    assert!(text.contains("cannot reach `vmhost2`"), "{text}");
}

#[test]
fn outside_git_apply_says_so_and_goes_on() {
    let Some(lab) = Lab::built() else { return };
    let run = lab.run(&["apply", "vmhost1", "--dry-run"]);
    let text = stderr(&run);
    assert!(
        text.starts_with(
            "warning: `out` is not checked against a commit: it is not in a git work tree; gen \
             applies it as it is on disk\n"
        ),
        "{text}"
    );
    assert!(text.contains("cannot reach `vmhost1`"), "{text}");
}
