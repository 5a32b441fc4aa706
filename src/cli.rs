//! The command line: arguments, where `site.toml` and `out/` are, and what each command prints.
//!
//! Every command starts the same way: read the site file, make sure the output folder cannot
//! clobber it, and build the tree in memory. Only `build` writes; `check` and `diff` compare that
//! tree with the disk through `diff.rs`, so all three agree on what "up to date" means.
//! Findings go to stdout, errors to stderr, and the exit status says which (`error::exit`).

mod arguments;
mod build;
mod compare;
mod paths;

use std::io::Write as _;
use std::path::Path;
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser as _};

use crate::change;
use crate::error::{Error, Result, Warning, exit, warn};
use crate::lock;
use crate::review::{self, Review};
use crate::{apply, colour, verbosity};

use arguments::{Arguments, Command, manual};
use build::build;
use compare::{check, diff};
use paths::{Paths, read_site};

/// `gen --version`: the crate's version and, when built from a git checkout, the commit and its
/// date (`build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("GEN_COMMIT"));

pub fn main() -> ExitCode {
    let arguments = match Arguments::try_parse() {
        Ok(arguments) => arguments,
        Err(e) => {
            // Help and version are "errors" to clap too; it knows their exit status.
            let _ = e.print();
            return ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(exit::INVALID));
        }
    };
    colour::choose(arguments.color);
    verbosity::set(match (arguments.quiet, arguments.verbose) {
        (true, _) => verbosity::Level::Quiet,
        (false, true) => verbosity::Level::Verbose,
        (false, false) => verbosity::Level::Normal,
    });
    match run(arguments) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            let text = if colour::on(&std::io::stderr()) {
                // `{:#}` renders a site's excerpts in colour; `paint` styles the labels.
                colour::paint(&format!("{e:#}"))
            } else {
                e.to_string()
            };
            let _ = writeln!(std::io::stderr().lock(), "{text}");
            ExitCode::from(e.exit_code())
        }
    }
}

fn run(arguments: Arguments) -> Result<u8> {
    // Commands that need no site file.
    match arguments.command {
        Command::Schema => {
            print(&crate::schema::json());
            return Ok(exit::OK);
        }
        Command::Init(init) => return crate::init::run(init, &arguments.site),
        Command::Import(import) => return crate::import::run(import, &arguments.site),
        Command::Completions { shell } => {
            let mut text = Vec::new();
            clap_complete::generate(shell, &mut Arguments::command(), "gen", &mut text);
            print(&String::from_utf8_lossy(&text));
            return Ok(exit::OK);
        }
        Command::Man { command } => {
            print(&manual(command.as_deref()));
            return Ok(exit::OK);
        }
        _ => {}
    }
    let paths = Paths::resolve(arguments.site, arguments.out);
    let site_bytes = read_site(&paths.site)?;
    let site_text = crate::site::decode(site_bytes, &paths.site.display().to_string())?;
    paths.refuse_out_containing_site()?;
    let built = crate::build(&site_text, &paths.site.display().to_string())?;
    let context =
        apply::Context { site: &built.site, tree: &built.tree, out: &paths.out, commit: None };
    match arguments.command {
        Command::Build { allow_version_change, allow_unremoved } => {
            let allow =
                change::Allow { version_change: allow_version_change, unremoved: allow_unremoved };
            build(&paths, &built, allow)
        }
        Command::Check => check(&paths, &built),
        Command::Diff { no_pager } => diff(&paths, &built, no_pager),
        // An apply sends what `out/` holds, and status reads it: no build may change it meanwhile.
        Command::Apply { host, all: _, jobs, dry_run, allow_dirty, keep, json } => {
            let _lock = lock::shared(&paths.out)?;
            let commit = reviewed_commit(&paths.out, allow_dirty)?;
            let context = apply::Context { commit, ..context };
            let options = apply::Options { dry_run, json, keep, jobs };
            apply::apply(&context, host.as_deref(), &options)
        }
        Command::Status { host, json } => {
            let _lock = lock::shared(&paths.out)?;
            apply::status(&context, host.as_deref(), json)
        }
        Command::Rollback { host } => apply::rollback(&context, &host),
        Command::Schema
        | Command::Init(_)
        | Command::Import(_)
        | Command::Completions { .. }
        | Command::Man { .. } => unreachable!("matched above"),
    }
}

/// The commit `gen apply` sends, after making sure `out/` is exactly it (`review.rs`); a tree
/// that differs from HEAD is refused unless `allow_dirty`.
fn reviewed_commit(out: &Path, allow_dirty: bool) -> Result<Option<String>> {
    if !out.is_dir() {
        // `gen apply` refuses a missing out/ itself, with the fix (`gen build`).
        return Ok(None);
    }
    match review::review(out) {
        Ok(Review::Committed { commit }) => Ok(Some(commit)),
        Ok(Review::NotGit { why }) => {
            warn(&Warning::NotGit { out: out.to_path_buf(), why });
            Ok(None)
        }
        Ok(Review::Differs { changes, .. }) if allow_dirty => {
            warn(&Warning::Dirty { out: out.to_path_buf(), changes: changes.len() });
            Ok(None)
        }
        Ok(Review::Differs { commit, changes }) => {
            Err(Error::Unreviewed { out: out.to_path_buf(), commit, changes })
        }
        Err(_) if allow_dirty => Ok(None),
        Err(e) => Err(e),
    }
}

/// A command's answer (`verbosity.rs`), out whole.
fn print(text: &str) {
    verbosity::answer(text);
}
