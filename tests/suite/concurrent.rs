//! Two gen processes on one `out/`: the lock makes them take turns (`src/lock.rs`).
//!
//! Two `gen build` of different sites start together, 50 times, on the two sites of
//! `crash.rs` (they add, change and prune files and folders). Both must succeed, the final tree
//! must be exactly one of the two sites' trees (nothing torn, nothing of the other, no file no
//! manifest lists), and the next single build and `gen check` must be clean. A command that
//! finds the lock held must say that it waits, wait, and go on when it is released.

use std::io::Read as _;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use labgen::diff::compare;

use crate::crash::Lab;

const TRIES: usize = 50;

fn finish(child: Child) -> (bool, String) {
    let output = child.wait_with_output().unwrap();
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    (output.status.success(), text)
}

#[test]
fn two_builds_at_once_take_turns_and_leave_one_sites_tree() {
    let lab = Lab::new();
    for i in 0..TRIES {
        // Start from either tree, so the pair both adds and prunes.
        lab.build(i % 2);
        let spawn = |site| {
            let mut command = lab.command(site, "build");
            command.stdout(Stdio::piped()).stderr(Stdio::piped());
            command.spawn().unwrap()
        };
        let a = spawn(0);
        let b = spawn(1);
        let (a, b) = (finish(a), finish(b));
        assert!(a.0 && b.0, "try {i}: a build failed:\n{}\n{}", a.1, b.1);
        let matches: Vec<usize> = (0..2)
            .filter(|&site| compare(&lab.out, &lab.trees[site]).unwrap().is_empty())
            .collect();
        assert_eq!(matches.len(), 1, "try {i}: out/ is neither site's tree:\n{}\n{}", a.1, b.1);
        lab.check(matches[0]).unwrap();
        // And the next single build, of either site, is clean.
        let next = (i + 1) % 2;
        let stdout = lab.build(next);
        assert!(!stdout.contains("unknown") && !stdout.contains("kept"), "try {i}: {stdout}");
        assert!(compare(&lab.out, &lab.trees[next]).unwrap().is_empty(), "try {i}");
    }
}

#[test]
fn a_build_waits_while_another_gen_holds_out_and_says_so() {
    let lab = Lab::new();
    lab.build(0);
    for (held, command) in [("exclusive", "build"), ("exclusive", "check"), ("shared", "build")] {
        let lock = if held == "exclusive" {
            labgen::lock::exclusive(&lab.out).unwrap()
        } else {
            labgen::lock::shared(&lab.out).unwrap().unwrap()
        };
        let mut child = lab.command(1, command);
        let mut child = child.stdout(Stdio::null()).stderr(Stdio::piped()).spawn().unwrap();
        let mut stderr = child.stderr.take().unwrap();
        let mut said = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(30);
        // The first bytes it prints are the notice; it must not finish while the lock is held.
        let mut byte = [0u8; 1];
        while !said.ends_with(b"\n") && Instant::now() < deadline {
            if stderr.read(&mut byte).unwrap() == 0 {
                break;
            }
            said.push(byte[0]);
        }
        let said = String::from_utf8_lossy(&said).into_owned();
        assert!(said.starts_with("waiting: another gen is using"), "{command}: {said:?}");
        std::thread::sleep(Duration::from_millis(300));
        assert!(child.try_wait().unwrap().is_none(), "{command} did not wait for the lock");
        drop(lock);
        let status = child.wait().unwrap();
        let expected = if command == "check" { Some(1) } else { Some(0) };
        assert_eq!(status.code(), expected, "{command} after {held}");
        lab.build(0);
    }
    // Two readers do not wait for each other.
    let _shared = labgen::lock::shared(&lab.out).unwrap().unwrap();
    let output = lab.command(0, "check").output().unwrap();
    assert!(output.status.success() && output.stderr.is_empty(), "{output:?}");
}
