//! Crash safety: `gen build` killed with SIGKILL at random moments while it rewrites `out/`.
//!
//! Two sites that share little (the example lab, and a variant with another cluster name, a
//! host renamed, workers renamed and other addresses) are built in turn into one folder, so
//! every run adds, changes and prunes files and folders. Each run is killed after a delay: an
//! offset drawn from a fixed seed around an aim that moves towards the span in which the build
//! writes (a kill before any write moves it later, one after the build earlier), so most kills
//! land mid-write on any machine. After every kill:
//! - no file is torn: each file is byte for byte (and mode) that path's file in one of the two
//!   full builds, or a temporary file of gen's; `manifest.toml` may also be the interim
//!   manifest a build writes before its first new file (one build's header, files of both);
//! - every file that is not a temporary is listed in the manifest on disk, so the next build
//!   owns it: it can prune it, never mistake it for the user's;
//! - `gen check` exits 0, or 1 naming every path that differs;
//!
//! And now and then (and at the end) a full `gen build` runs and must leave exactly the site's
//! tree: `gen check` exits 0, no temporary file, nothing unknown.
//!
//! The folder is in /dev/shm when there is one, so a run is quick and the kills are many.

use std::fs;
use std::os::unix::process::ExitStatusExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use labgen::Tree;
use labgen::diff::{Disk, Entry, compare};
use labgen::manifest::{self, Manifest};
use labgen::tree::MANIFEST;

/// How many builds are killed.
const KILLS: usize = 300;
/// The delays' seed: change it to see other moments, never to make a failure go away.
const SEED: u64 = 0x6765_6e20_6372_6173;
/// Every this many kills, `out/` is deleted so that first builds are killed too.
const FRESH_EVERY: usize = 60;
/// Kills land within this much of the aim, either side.
const SPREAD_US: u64 = 300;
/// How far the aim moves after a kill that landed before or after the writing.
const STEP_US: u64 = 40;
/// Workers added to both sites, so that a build writes many files and the span of writing is
/// long against the jitter of starting a process.
const EXTRA_WORKERS: usize = 40;
/// A hang or a pathological slowdown fails the test instead of stalling CI.
const DEADLINE: Duration = Duration::from_secs(120);

/// SplitMix64: a few lines, a fixed sequence for a fixed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

pub(crate) struct Lab {
    _dir: tempfile::TempDir,
    pub(crate) sites: [PathBuf; 2],
    pub(crate) trees: [Tree; 2],
    manifests: [Manifest; 2],
    pub(crate) out: PathBuf,
}

/// A folder for the lab: in memory when the machine has /dev/shm.
fn scratch() -> tempfile::TempDir {
    let shm = Path::new("/dev/shm");
    let builder = tempfile::Builder::new().prefix("gen-crash-").to_owned();
    if shm.is_dir() {
        if let Ok(dir) = builder.tempdir_in(shm) {
            return dir;
        }
    }
    builder.tempdir().unwrap()
}

/// The example with another cluster name (every unit and VM name changes), `vmhost2`
/// renamed (its folder goes, another comes), workers renamed and addresses moved.
fn variant(example: &str) -> String {
    let mut text = example.replacen("name = \"lab\"", "name = \"lab2\"", 1);
    text = text.replace("vmhost2", "vmhost9").replace("k8s-w-", "k8s-worker-");
    for n in 1..=3 {
        text = text.replace(&format!("\"192.168.1.2{n}\""), &format!("\"192.168.1.12{n}\""));
    }
    for n in 1..=7 {
        text = text.replace(&format!("\"192.168.1.3{n}\""), &format!("\"192.168.1.13{n}\""));
    }
    text
}

/// The example lab with `EXTRA_WORKERS` more workers on `vmhost1`.
fn example() -> String {
    let mut text =
        fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("site.toml")).unwrap();
    for i in 0..EXTRA_WORKERS {
        let (n, ip) = (8 + i, 150 + i);
        text += &format!(
            "\n[nodes.k8s-w-{n}]\nhost = \"vmhost1\"\nrole = \"worker\"\nip = \"192.168.1.{ip}\"\n"
        );
    }
    text
}

impl Lab {
    pub(crate) fn new() -> Lab {
        let dir = scratch();
        let example = example();
        let texts = [example.clone(), variant(&example)];
        let sites = [dir.path().join("a.toml"), dir.path().join("b.toml")];
        let mut trees = Vec::new();
        let mut manifests = Vec::new();
        for (site, text) in sites.iter().zip(&texts) {
            fs::write(site, text).unwrap();
            let built = labgen::build(text, "site.toml").expect("both sites build");
            manifests.push(built.manifest);
            trees.push(built.tree);
        }
        let [a, b] = [&trees[0], &trees[1]];
        let only_a = a.paths().filter(|p| b.get(p).is_none()).count();
        let only_b = b.paths().filter(|p| a.get(p).is_none()).count();
        let changed = a.paths().filter(|p| b.get(p).is_some_and(|f| *f != *a.get(p).unwrap()));
        assert!(only_a > 5 && only_b > 5 && changed.count() > 5, "the two sites must differ");
        Lab {
            out: dir.path().join("out"),
            _dir: dir,
            sites,
            trees: trees.try_into().unwrap(),
            manifests: manifests.try_into().unwrap(),
        }
    }

    pub(crate) fn command(&self, site: usize, command: &str) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_gen"));
        cmd.arg("--site").arg(&self.sites[site]).arg("--out").arg(&self.out).arg(command);
        if command == "build" {
            // The two sites swap whole node sets; this test is about torn writes, not about
            // whether kubespray could follow such a change.
            cmd.arg("--allow-unremoved");
        }
        cmd.stdin(Stdio::null());
        cmd
    }

    /// A whole build; its output.
    pub(crate) fn build(&self, site: usize) -> String {
        let output = self.command(site, "build").output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "a full build failed: {}\n{stdout}{}",
            output.status,
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    }

    /// `gen check` exits 0 when `out/` is the site's tree, else 1 naming each differing path.
    pub(crate) fn check(&self, site: usize) -> Result<(), String> {
        let output = self.command(site, "check").output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let differences = compare(&self.out, &self.trees[site]).map_err(|e| e.to_string())?;
        match output.status.code() {
            Some(0) if differences.is_empty() => Ok(()),
            Some(1) if !differences.is_empty() => {
                for d in &differences {
                    let named = format!("{}/{}", self.out.display(), d.path());
                    if !stdout.contains(&named) {
                        return Err(format!("`gen check` does not name {named}:\n{stdout}"));
                    }
                }
                Ok(())
            }
            _ => Err(format!(
                "`gen check` exited {} with {} differences:\n{stdout}{}",
                output.status,
                differences.len(),
                String::from_utf8_lossy(&output.stderr)
            )),
        }
    }

    /// Whatever moment a build was killed at, nothing on disk is torn or unowned.
    fn check_no_torn_file(&self) -> Result<usize, String> {
        let disk = Disk::read(&self.out).map_err(|e| e.to_string())?;
        let mut temporaries = 0;
        let mut listed = None;
        for (path, entry) in disk.iter() {
            let Entry::File { bytes, mode } = entry else {
                return Err(format!("`{path}` is {}", entry.what()));
            };
            if labgen::write::is_temporary(path) {
                temporaries += 1;
            } else if path == MANIFEST {
                listed = Some(self.check_manifest(bytes)?);
            } else {
                let fits = self.trees.iter().any(|tree| {
                    tree.get(path).is_some_and(|f| f.bytes == *bytes && f.mode.bits() == *mode)
                });
                if !fits {
                    return Err(format!("`{path}` is torn: neither site's file ({mode:o})"));
                }
            }
        }
        for (path, _) in disk.iter() {
            if path == MANIFEST || labgen::write::is_temporary(path) {
                continue;
            }
            let owned = listed.as_ref().is_some_and(|m: &Manifest| m.files.contains_key(path));
            if !owned {
                return Err(format!("`{path}` is on disk but not in the manifest there"));
            }
        }
        Ok(temporaries)
    }

    /// One of the two manifests, or an interim one: the header of one and a file list that
    /// holds all of that one's files, each entry as one of the two builds has it.
    fn check_manifest(&self, bytes: &[u8]) -> Result<Manifest, String> {
        let text = std::str::from_utf8(bytes).map_err(|_| "manifest.toml is not UTF-8")?;
        let m = manifest::parse(text).map_err(|e| format!("manifest.toml is torn: {e}"))?;
        let same_header = |x: &Manifest| {
            (&x.generator, &x.site_sha256, &x.tree_sha256, &x.hosts)
                == (&m.generator, &m.site_sha256, &m.tree_sha256, &m.hosts)
        };
        let Some(target) = self.manifests.iter().find(|t| same_header(t)) else {
            return Err("manifest.toml has neither site's header".into());
        };
        for (path, entry) in &m.files {
            if !self.manifests.iter().any(|t| t.files.get(path) == Some(entry)) {
                return Err(format!("manifest.toml lists `{path}` as neither site has it"));
            }
        }
        if let Some(path) = target.files.keys().find(|p| !m.files.contains_key(*p)) {
            return Err(format!("manifest.toml lacks `{path}` of the site it names"));
        }
        Ok(m)
    }

    /// A full build leaves exactly the site's tree.
    fn restore(&self, site: usize) -> Result<(), String> {
        let stdout = self.build(site);
        if stdout.contains("unknown") {
            return Err(format!("the build found files it did not make:\n{stdout}"));
        }
        let differences = compare(&self.out, &self.trees[site]).map_err(|e| e.to_string())?;
        if !differences.is_empty() {
            let d: Vec<_> = differences.iter().map(|d| d.describe("out")).collect();
            return Err(format!("after a full build:\n{}", d.join("\n")));
        }
        self.check(site)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Moment {
    Before,
    Mid,
    After,
}

#[derive(Default, Debug)]
struct Landed {
    /// Nothing on disk had changed yet.
    before: usize,
    /// Some files written, others not.
    mid_write: usize,
    /// The build had finished (or had only to exit).
    after: usize,
    /// Kills that left a temporary file behind.
    with_temporaries: usize,
    restores: usize,
}

#[test]
fn killed_builds_leave_no_torn_or_orphan_file_and_the_next_build_repairs_all() {
    let start = Instant::now();
    let lab = Lab::new();
    let mut rng = Rng(SEED);

    // How long a build that rewrites the tree takes here: delays are drawn over that span.
    let mut spans = Vec::new();
    for i in 0..8 {
        let t = Instant::now();
        lab.build(i % 2);
        spans.push(t.elapsed());
    }
    spans.sort();
    let span = spans[spans.len() / 2];
    // The aim moves later after a kill that came before any write and earlier after one that
    // came after the build: it settles where both are as likely, amid the writing, and follows
    // the machine if it gets slower or faster.
    let mut aim = span.as_micros() as u64 / 2;
    let (mut earliest, mut latest) = (u64::MAX, 0);

    let mut landed = Landed::default();
    let mut target = 0;
    for kill in 0..KILLS {
        assert!(start.elapsed() < DEADLINE, "past the deadline after {kill} kills: {landed:?}");
        if kill % FRESH_EVERY == 0 {
            let _ = fs::remove_dir_all(&lab.out);
        }
        let before = Disk::read(&lab.out).unwrap();
        assert!(!compare(&lab.out, &lab.trees[target]).unwrap().is_empty(), "no work to kill");
        let delay = aim.saturating_sub(SPREAD_US) + rng.below(2 * SPREAD_US + 1);
        (earliest, latest) = (earliest.min(delay), latest.max(delay));
        let delay = Duration::from_micros(delay);
        let mut child = lab.command(target, "build").stdout(Stdio::null()).spawn().unwrap();
        std::thread::sleep(delay);
        let _ = child.kill();
        let status = child.wait().unwrap();
        assert!(
            status.success() || status.signal() == Some(9),
            "build {kill} failed by itself: {status}"
        );

        let temporaries =
            lab.check_no_torn_file().unwrap_or_else(|e| panic!("kill {kill} after {delay:?}: {e}"));
        lab.check(target).unwrap_or_else(|e| panic!("kill {kill} after {delay:?}: {e}"));
        let now = Disk::read(&lab.out).unwrap();
        let moment = if now == before {
            landed.before += 1;
            aim += STEP_US;
            Moment::Before
        } else if compare(&lab.out, &lab.trees[target]).unwrap().is_empty() {
            landed.after += 1;
            aim = aim.saturating_sub(STEP_US);
            Moment::After
        } else {
            landed.mid_write += 1;
            Moment::Mid
        };
        // The next build must have work to do: the other site, unless this one wrote nothing.
        if moment != Moment::Before {
            target = 1 - target;
        }
        landed.with_temporaries += usize::from(temporaries > 0);

        // Half the time the next build runs whole; otherwise it too is killed, from this state.
        if rng.below(2) == 0 {
            let site = rng.below(2) as usize;
            lab.restore(site).unwrap_or_else(|e| panic!("repair after kill {kill}: {e}"));
            landed.restores += 1;
            target = 1 - site;
        }
    }
    for site in [0, 1] {
        lab.restore(site).unwrap_or_else(|e| panic!("final repair: {e}"));
    }

    eprintln!(
        "crash: {KILLS} kills of `gen build` after {earliest}–{latest} µs (a whole build takes \
         {span:?}): {} before any write, {} mid-write ({} left a temporary file), {} after; {} full builds \
         repaired the tree; {:.1} s",
        landed.before,
        landed.mid_write,
        landed.with_temporaries,
        landed.after,
        landed.restores + 2,
        start.elapsed().as_secs_f64()
    );
    assert!(landed.mid_write >= KILLS / 5, "too few kills landed mid-write: {landed:?}");
}
