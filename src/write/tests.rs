//! Unit tests of `write`: what a build writes, keeps and prunes, and what it refuses.

use std::os::unix::fs::PermissionsExt as _;

use super::*;
use crate::diff::compare;
use std::os::unix::fs::symlink;
use std::time::{Duration, SystemTime};

fn built(files: &[(&str, &str)]) -> (Tree, Manifest) {
    let mut tree = Tree::new();
    for (path, text) in files {
        tree.insert_text(*path, text);
    }
    let hosts: BTreeSet<&str> =
        files.iter().filter_map(|(p, _)| p.strip_prefix("hosts/")?.split('/').next()).collect();
    let manifest = Manifest::of(&tree, "site", &hosts.into_iter().collect::<Vec<_>>());
    tree.insert_text(MANIFEST, &manifest.to_toml());
    (tree, manifest)
}

fn write_tree(out: &Path, (tree, manifest): &(Tree, Manifest)) -> Result<Written> {
    super::write_tree(out, tree, manifest)
}

fn v1() -> (Tree, Manifest) {
    built(&[
        ("hosts/a/apply.sh", "apply a"),
        ("hosts/a/workers/Vagrantfile", "workers"),
        ("kubespray/deploy.sh", "deploy"),
    ])
}

fn v2() -> (Tree, Manifest) {
    built(&[
        ("hosts/a/apply.sh", "apply a, changed"),
        ("hosts/a/control-plane/Vagrantfile", "cp"),
        ("kubespray/deploy.sh", "deploy"),
    ])
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(std::string::ToString::to_string).collect()
}

fn snapshot(root: &Path) -> Disk {
    Disk::read(root).unwrap()
}

#[test]
fn first_write_creates_everything() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let report = write_tree(&out, &v1()).unwrap();
    assert_eq!(
        report.added,
        strings(&[
            "hosts/a/apply.sh",
            "hosts/a/workers/Vagrantfile",
            "kubespray/deploy.sh",
            "manifest.toml",
        ])
    );
    assert_eq!(compare(&out, &v1().0).unwrap(), vec![]);
}

#[test]
fn unchanged_files_are_not_touched() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    let old = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000);
    let apply = out.join("hosts/a/apply.sh");
    fs::File::options().write(true).open(&apply).unwrap().set_modified(old).unwrap();
    let report = write_tree(&out, &v1()).unwrap();
    assert!(report.is_up_to_date(), "{report:?}");
    assert_eq!(fs::metadata(&apply).unwrap().modified().unwrap(), old);
}

#[test]
fn changes_prunes_and_keeps_unknown_files() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::write(out.join("hosts/a/workers/notes.txt~"), "mine").unwrap();
    fs::write(out.join("hosts/a/workers/Vagrantfile~"), "backup").unwrap();
    fs::set_permissions(out.join("kubespray/deploy.sh"), fs::Permissions::from_mode(0o700))
        .unwrap();
    let report = write_tree(&out, &v2()).unwrap();
    assert_eq!(report.added, strings(&["hosts/a/control-plane/Vagrantfile"]));
    assert_eq!(
        report.changed,
        strings(&["hosts/a/apply.sh", "kubespray/deploy.sh", "manifest.toml"])
    );
    assert_eq!(report.removed, strings(&["hosts/a/workers/Vagrantfile"]));
    assert_eq!(
        report.unknown,
        strings(&["hosts/a/workers/Vagrantfile~", "hosts/a/workers/notes.txt~"])
    );
    // The folder still holds the user's files, so it stays.
    assert!(out.join("hosts/a/workers/notes.txt~").is_file());
    let extras: Vec<_> =
        compare(&out, &v2().0).unwrap().iter().map(|c| c.path().to_string()).collect();
    assert_eq!(extras, report.unknown);
}

#[test]
fn folders_left_empty_by_pruning_go_and_others_stay() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::create_dir_all(out.join("hosts/empty-before")).unwrap();
    write_tree(&out, &v2()).unwrap();
    assert!(!out.join("hosts/a/workers").exists());
    assert!(out.join("hosts/empty-before").is_dir());
    assert_eq!(compare(&out, &v2().0).unwrap(), vec![]);
    // A host that disappears takes its whole folder with it.
    write_tree(&out, &built(&[("kubespray/deploy.sh", "deploy")])).unwrap();
    assert!(!out.join("hosts/a").exists());
    assert!(out.join("hosts/empty-before").is_dir());
}

#[test]
fn symlinks_are_refused_before_anything_changes() {
    type Break = fn(&Path, &Path);
    let cases: [(&str, Break); 3] = [
        ("kubespray/deploy.sh", |out, elsewhere| {
            fs::remove_file(out.join("kubespray/deploy.sh")).unwrap();
            symlink(elsewhere.join("target"), out.join("kubespray/deploy.sh")).unwrap();
        }),
        ("hosts/a", |out, elsewhere| {
            fs::rename(out.join("hosts/a"), elsewhere.join("a")).unwrap();
            symlink(elsewhere.join("a"), out.join("hosts/a")).unwrap();
        }),
        ("manifest.toml", |out, elsewhere| {
            fs::rename(out.join("manifest.toml"), elsewhere.join("m")).unwrap();
            symlink(elsewhere.join("m"), out.join("manifest.toml")).unwrap();
        }),
    ];
    for (path, break_it) in cases {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        write_tree(&out, &v1()).unwrap();
        break_it(&out, &elsewhere);
        let before = (snapshot(&out), snapshot(&elsewhere));
        match write_tree(&out, &v2()).unwrap_err() {
            Error::NotOurs { path: p, .. } => assert_eq!(p, out.join(path)),
            other => panic!("{other}"),
        }
        assert_eq!((snapshot(&out), snapshot(&elsewhere)), before, "{path}");
    }
}

#[test]
fn a_symlinked_out_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    fs::create_dir(dir.path().join("real")).unwrap();
    symlink("real", dir.path().join("out")).unwrap();
    let err = write_tree(&dir.path().join("out"), &v1()).unwrap_err();
    assert!(matches!(err, Error::NotOurs { .. }), "{err}");
    assert_eq!(fs::read_dir(dir.path().join("real")).unwrap().count(), 0);
}

#[test]
fn a_manifest_that_does_not_parse_stops_the_write() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::write(out.join(MANIFEST), "generator = 3\n").unwrap();
    let before = snapshot(&out);
    let err = write_tree(&out, &v2()).unwrap_err();
    assert!(matches!(err, Error::BadManifest { .. }), "{err}");
    assert_eq!(snapshot(&out), before);
}

#[test]
fn a_listed_path_that_escapes_out_is_never_pruned() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::write(dir.path().join("precious"), "keep").unwrap();
    let manifest = fs::read_to_string(out.join(MANIFEST)).unwrap();
    let hash = crate::tree::sha256_hex(b"keep");
    let evil = format!("{manifest}\"../precious\" = {{ mode = \"644\", sha256 = \"{hash}\" }}\n");
    fs::write(out.join(MANIFEST), evil).unwrap();
    assert!(matches!(write_tree(&out, &v2()), Err(Error::BadManifest { .. })));
    assert!(dir.path().join("precious").is_file());
}

#[test]
fn a_crash_after_new_files_leaves_them_owned() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    // Simulate a crash right after v2's files landed: interim manifest and files, no final
    // manifest.
    let (tree, manifest) = v2();
    let plan = plan(&out, &tree, &manifest, manifest.to_toml().as_bytes()).unwrap();
    let interim = plan.interim_manifest.expect("v2 adds a file");
    let to = Out { named: &out, absolute: out.clone() };
    write_manifest(&to, interim.as_bytes(), Mode::Regular).unwrap();
    let cp = v2().0.get("hosts/a/control-plane/Vagrantfile").unwrap().clone();
    write_file(&to, "hosts/a/control-plane/Vagrantfile", &cp.bytes, cp.mode, false).unwrap();
    // The user goes back to v1: the file that only v2 made must be pruned, not kept.
    let report = write_tree(&out, &v1()).unwrap();
    assert_eq!(report.removed, strings(&["hosts/a/control-plane/Vagrantfile"]));
    assert!(report.unknown.is_empty(), "{report:?}");
    assert!(!out.join("hosts/a/control-plane").exists());
    assert_eq!(compare(&out, &v1().0).unwrap(), vec![]);
}

#[test]
fn temporaries_of_an_interrupted_build_are_deleted_and_lookalikes_kept() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    // A build of v2 killed while writing its first file in a new folder, and one killed
    // while writing a file of v1.
    fs::create_dir_all(out.join("hosts/a/control-plane")).unwrap();
    fs::write(out.join("hosts/a/control-plane/.gen-AbC123.tmp"), "c").unwrap();
    fs::write(out.join("kubespray/.gen-x1Y2z3.tmp"), "dep").unwrap();
    // Named alike but not gen's: a link, a folder, a name of another length.
    symlink("deploy.sh", out.join("kubespray/.gen-link00.tmp")).unwrap();
    fs::create_dir(out.join("kubespray/.gen-fold00.tmp")).unwrap();
    fs::write(out.join("kubespray/.gen-abcdefg.tmp"), "mine").unwrap();
    let report = write_tree(&out, &v1()).unwrap();
    assert!(report.is_up_to_date(), "{report:?}");
    assert_eq!(
        report.temporaries,
        strings(&["hosts/a/control-plane/.gen-AbC123.tmp", "kubespray/.gen-x1Y2z3.tmp"])
    );
    assert_eq!(
        report.unknown,
        strings(&["kubespray/.gen-abcdefg.tmp", "kubespray/.gen-link00.tmp"])
    );
    assert!(!out.join("hosts/a/control-plane").exists());
    assert!(out.join("kubespray/.gen-fold00.tmp").is_dir());
    assert!(is_temporary(".gen-AbC123.tmp") && is_temporary("a/b/.gen-000000.tmp"));
    assert!(!is_temporary(".gen-AbC12.tmp") && !is_temporary(".gen-AbC12-.tmp"));
}

#[test]
fn a_crash_between_file_and_folder_removal_leaves_only_an_empty_folder() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::remove_file(out.join("hosts/a/workers/Vagrantfile")).unwrap();
    let report = write_tree(&out, &v2()).unwrap();
    assert!(report.removed.is_empty() && report.kept.is_empty(), "{report:?}");
    // gen cannot tell that empty folder from one of the user's, so it stays; folders are
    // not part of what `gen check` compares.
    assert!(out.join("hosts/a/workers").is_dir());
    assert_eq!(compare(&out, &v2().0).unwrap(), vec![]);
}

/// `out/manifest.toml` with one more `[files]` entry (the table is last).
fn list_in_manifest(out: &Path, path: &str, bytes: &[u8], mode: &str) {
    let manifest = fs::read_to_string(out.join(MANIFEST)).unwrap();
    let hash = crate::tree::sha256_hex(bytes);
    let line = format!("\"{path}\" = {{ mode = \"{mode}\", sha256 = \"{hash}\" }}\n");
    fs::write(out.join(MANIFEST), manifest + &line).unwrap();
}

#[test]
fn a_file_gen_made_and_the_user_edited_is_kept_when_gen_stops_making_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    let edited = out.join("hosts/a/workers/Vagrantfile");
    fs::write(&edited, "workers\n# my tuning\n").unwrap();
    let report = write_tree(&out, &v2()).unwrap();
    assert_eq!(report.kept, strings(&["hosts/a/workers/Vagrantfile"]));
    assert!(report.removed.is_empty(), "{report:?}");
    assert_eq!(fs::read_to_string(&edited).unwrap(), "workers\n# my tuning\n");
    // From now on no manifest lists it: it is the user's, reported as unknown.
    let report = write_tree(&out, &v2()).unwrap();
    assert_eq!(report.unknown, strings(&["hosts/a/workers/Vagrantfile"]));
    assert!(edited.is_file());
}

#[test]
fn a_file_whose_mode_changed_is_kept_too() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    let file = out.join("hosts/a/workers/Vagrantfile");
    fs::set_permissions(&file, fs::Permissions::from_mode(0o600)).unwrap();
    let report = write_tree(&out, &v2()).unwrap();
    assert_eq!(report.kept, strings(&["hosts/a/workers/Vagrantfile"]));
    assert!(file.is_file());
}

#[test]
fn a_stale_manifest_never_deletes_the_users_file() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::write(out.join("kubespray/NOTES.md"), "my notes\n").unwrap();
    list_in_manifest(&out, "kubespray/NOTES.md", b"what gen once wrote\n", "644");
    let report = write_tree(&out, &v1()).unwrap();
    assert_eq!(report.kept, strings(&["kubespray/NOTES.md"]));
    assert_eq!(fs::read_to_string(out.join("kubespray/NOTES.md")).unwrap(), "my notes\n");
    // The same bytes with another mode are not what gen recorded either.
    list_in_manifest(&out, "kubespray/NOTES.md", b"my notes\n", "755");
    let report = write_tree(&out, &v1()).unwrap();
    assert_eq!(report.kept, strings(&["kubespray/NOTES.md"]));
    assert!(out.join("kubespray/NOTES.md").is_file());
}

#[test]
fn an_empty_folder_that_a_manifest_names_is_not_removed() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::create_dir_all(out.join("mydir/sub")).unwrap();
    list_in_manifest(&out, "mydir/sub/gone", b"x", "644");
    let report = write_tree(&out, &v1()).unwrap();
    assert!(report.removed.is_empty() && report.kept.is_empty(), "{report:?}");
    assert!(out.join("mydir/sub").is_dir());
}

#[test]
fn a_manifest_path_with_a_control_character_is_a_corrupt_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    let before = snapshot(&out);
    for path in ["kubespray/\\u0000deploy.sh", "kubespray/a\\u001bb", "kubespray/x\\ny"] {
        fs::write(out.join(MANIFEST), &v1().0.get(MANIFEST).unwrap().bytes).unwrap();
        list_in_manifest(&out, path, b"deploy\n", "755");
        let err = write_tree(&out, &v2()).unwrap_err();
        assert!(matches!(err, Error::BadManifest { .. }), "{path}: {err}");
        assert!(!err.to_string().chars().any(|c| c.is_control() && c != '\n'), "{err}");
    }
    fs::write(out.join(MANIFEST), &v1().0.get(MANIFEST).unwrap().bytes).unwrap();
    assert_eq!(snapshot(&out), before);
}

#[test]
fn a_folder_where_gen_writes_a_file_is_refused_before_anything_changes() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    write_tree(&out, &v1()).unwrap();
    fs::create_dir_all(out.join("hosts/a/control-plane/Vagrantfile/inside")).unwrap();
    let before = snapshot(&out);
    let err = write_tree(&out, &v2()).unwrap_err();
    assert!(
        matches!(err, Error::NotOurs { what: "a folder where gen writes a file", .. }),
        "{err}"
    );
    assert_eq!(snapshot(&out), before);
}
