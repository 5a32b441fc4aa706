//! `gen check` and `gen diff`: the output folder against a fresh build, through `diff.rs`, so
//! that both agree with `gen build` on what "up to date" means.

use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};

use super::paths::Paths;
use super::print;
use crate::Built;
use crate::colour;
use crate::diff::{self, Disk};
use crate::error::{Result, exit};
use crate::lock;
use crate::write;

pub(super) fn check(paths: &Paths, built: &Built) -> Result<u8> {
    let out = paths.out_label();
    let _lock = lock::shared(&paths.out)?;
    let changes = diff::compare(&paths.out, &built.tree)?;
    if changes.is_empty() {
        print(&format!("`{out}` is up to date with `{}`\n", paths.site.display()));
        return Ok(exit::OK);
    }
    // A record `gen build` cannot read would make "run `gen build`" a fix that fails: say
    // what `gen build` says about it instead.
    super::build::read_record(&paths.out)?;
    let mut text = format!("`{out}` differs from what `{}` gives:\n", paths.site.display());
    let is_temporary = |c: &diff::Change| {
        matches!(c, diff::Change::Extra { what: "a file", .. }) && write::is_temporary(c.path())
    };
    for change in &changes {
        if is_temporary(change) {
            let path = change.path();
            let _ = writeln!(text, "  partial  {out}/{path} (left by an interrupted `gen build`)");
        } else {
            let _ = writeln!(text, "  {}", change.describe(&out));
        }
    }
    text += "fix: run `gen build`, review `git diff`, commit\n";
    if changes.iter().any(|c| matches!(c, diff::Change::Extra { .. }) && !is_temporary(c)) {
        let _ = writeln!(
            text,
            "     extra files that `gen build` reports as unknown are not gen's: move them out \
             of `{out}`"
        );
    }
    print(&text);
    Ok(exit::DIFFERS)
}

pub(super) fn diff(paths: &Paths, built: &Built, no_pager: bool) -> Result<u8> {
    let disk = {
        let _lock = lock::shared(&paths.out)?;
        Disk::read(&paths.out)?
    };
    let changes = diff::compare_trees(&built.tree, &disk);
    if changes.is_empty() {
        print(&format!(
            "no difference: `{}` is what `{}` gives\n",
            paths.out_label(),
            paths.site.display()
        ));
        return Ok(exit::OK);
    }
    let out = paths.out_label();
    let text =
        diff::unified(&changes, &built.tree, &disk, &format!("a/{out}"), &format!("b/{out}"));
    let stdout = std::io::stdout();
    let text = if colour::on(&stdout) { colour::paint_diff(&text) } else { text };
    if no_pager || !stdout.is_terminal() || !page(&text) {
        print(&text);
    }
    Ok(exit::DIFFERS)
}

/// Shows `text` through `$PAGER` (default `less -FRX`: quits when it fits one screen, keeps
/// colour), as git does; `false` when no pager could be started, so the caller prints it.
fn page(text: &str) -> bool {
    let pager = std::env::var("PAGER").ok().filter(|p| !p.trim().is_empty());
    let pager = pager.unwrap_or_else(|| "less -FRX".to_string());
    let child = std::process::Command::new("sh")
        .args(["-c", &format!("exec {pager}")])
        .stdin(std::process::Stdio::piped())
        .spawn();
    let Ok(mut child) = child else { return false };
    if let Some(mut stdin) = child.stdin.take() {
        // The user may quit the pager before reading everything: not an error.
        let _ = stdin.write_all(text.as_bytes());
    }
    child.wait().is_ok()
}
