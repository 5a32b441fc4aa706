//! The command line: arguments, where `site.toml` and `out/` are, and what each command prints.
//!
//! Every command starts the same way: read the site file, make sure the output folder cannot
//! clobber it, and build the tree in memory. Only `build` writes; `check` and `diff` compare that
//! tree with the disk through `diff.rs`, so all three agree on what "up to date" means.
//! Findings go to stdout, errors to stderr, and the exit status says which (`error::exit`).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::io::{IsTerminal as _, Write as _};
use std::path::{Component, Path, PathBuf};
use std::process::ExitCode;

use clap::{CommandFactory as _, Parser, Subcommand};

use crate::Built;
use crate::change;
use crate::diff::{self, Disk};
use crate::error::{Error, Result, SiteFileProblem, Warning, exit, warn};
use crate::layout;
use crate::lock;
use crate::record::Record;
use crate::review::{self, Review};
use crate::tree::{MANIFEST, Tree};
use crate::write::{self, Written};
use crate::{apply, colour, verbosity};

/// `gen --version`: the crate's version and, when built from a git checkout, the commit and its
/// date (`build.rs`).
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), env!("GEN_COMMIT"));

#[derive(Parser)]
#[command(
    name = "gen",
    version = VERSION,
    about = "Reproducible generator for a home-lab Kubernetes cluster"
)]
struct Arguments {
    /// The site file
    #[arg(long, global = true, value_name = "PATH", default_value = "site.toml")]
    site: PathBuf,
    /// The output folder [default: `out` beside the site file]
    #[arg(long, global = true, value_name = "DIR")]
    out: Option<PathBuf>,
    /// When to write in colour: `auto` follows NO_COLOR, CLICOLOR_FORCE, CLICOLOR and whether
    /// the output is a terminal
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    color: colour::When,
    /// Say only the answer, errors and warnings: no progress, no notes
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    quiet: bool,
    /// Also show each ssh, rsync and ssh-keyscan command gen runs (on stderr)
    #[arg(short, long, global = true)]
    verbose: bool,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Validate the site file and write the output folder: only what changed, pruning what gen
    /// no longer makes; name the kubespray commands the change needs
    Build {
        /// Write a kubespray or Kubernetes downgrade, a skipped minor version, or a version
        /// change together with node changes, which gen otherwise refuses
        #[arg(long)]
        allow_version_change: bool,
        /// Write a node dropped, moved, readdressed or given another role without having gone
        /// through `remove = true` and kubespray's remove-node.yml, which gen otherwise refuses
        #[arg(long)]
        allow_unremoved: bool,
    },
    /// Exit 0 if the output folder is exactly what the site file gives, else 1 naming each
    /// difference
    Check,
    /// Show how the output folder differs from a fresh build, as unified diffs with git's
    /// `a/` (on disk) and `b/` (fresh build) labels; writes nothing. On a terminal: in colour,
    /// through $PAGER (default `less -FRX`)
    Diff {
        /// Print to the terminal directly, not through $PAGER
        #[arg(long)]
        no_pager: bool,
    },
    /// Send a host's tree to it over ssh and run its entrypoint; refuses when `gen check`
    /// would fail. The ssh_config named by GEN_SSH_CONFIG, if set, replaces ~/.ssh/config
    #[command(group = clap::ArgGroup::new("which").required(true))]
    Apply {
        /// The host, as named in the site file
        #[arg(group = "which")]
        host: Option<String>,
        /// Every host of the site file, in parallel
        #[arg(long, group = "which")]
        all: bool,
        /// With --all: how many servers at once
        #[arg(long, value_name = "N", default_value_t = crate::apply::DEFAULT_JOBS,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        jobs: usize,
        /// Show which files would be added, changed or removed on the server and which
        /// entrypoint would run; change nothing
        #[arg(long)]
        dry_run: bool,
        /// Apply even though files under the output folder differ from the commit at HEAD
        /// (changed, deleted, new or ignored): send a tree nobody committed
        #[arg(long)]
        allow_dirty: bool,
        /// Generations kept on the server (the current and previous ones always are)
        #[arg(long, value_name = "N", default_value_t = crate::apply::DEFAULT_KEEP,
              value_parser = clap::builder::RangedU64ValueParser::<usize>::new().range(1..))]
        keep: usize,
        /// With --dry-run: print the plan as JSON, for scripts (shape in the README)
        #[arg(long, requires = "dry_run")]
        json: bool,
    },
    /// Show, per host, whether the generation current there is the one in the output folder;
    /// exit 1 unless every one is
    Status {
        /// Only this host
        host: Option<String>,
        /// Print JSON, for scripts: each server with its VMs (shape in the README)
        #[arg(long)]
        json: bool,
    },
    /// Make a host's previous generation current again and run its entrypoint
    Rollback {
        /// The host, as named in the site file
        host: String,
    },
    /// Print the JSON Schema of the site file, for editors (taplo, Even Better TOML)
    Schema,
    /// Start a lab: write a commented site file (and its schema) from flags, asking on a
    /// terminal for the rest
    Init(crate::init::Arguments),
    /// Start a lab from a kubespray inventory (inventory.ini or hosts.yaml): write a site file
    /// with its nodes, roles and addresses, marking what it does not say
    Import(crate::import::Arguments),
    /// Print the completion script for a shell: `source <(gen completions bash)`, or write it
    /// where your shell loads completions from
    Completions {
        /// The shell
        shell: clap_complete::Shell,
    },
    /// Print gen's manual page (roff): `gen man > gen.1 && man -l gen.1`; `gen man apply` is
    /// the page gen-apply(1) of one command
    Man {
        /// The command whose page to print
        command: Option<String>,
    },
}

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
    let site_text = crate::source::decode(site_bytes, &paths.site.display().to_string())?;
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

/// The manual page gen(1), or gen-COMMAND(1), the page the SUBCOMMANDS section of gen(1) names.
/// An unknown command is clap's usage error (exit 2), with the commands there are.
fn manual(command: Option<&str>) -> String {
    let mut top = Arguments::command();
    top.build();
    let page = match command {
        None => top,
        Some(name) => {
            if let Some(sub) = top.find_subcommand(name) {
                sub.clone().display_name(format!("gen-{name}"))
            } else {
                let names: Vec<&str> = top.get_subcommands().map(clap::Command::get_name).collect();
                let message = format!("no command `{name}`; there are: {}", names.join(", "));
                top.error(clap::error::ErrorKind::InvalidValue, message).exit()
            }
        }
    };
    let mut text = Vec::new();
    clap_mangen::Man::new(page).render(&mut text).expect("writing to memory does not fail");
    String::from_utf8_lossy(&text).into_owned()
}

/// The site file is refused unless it is a regular file: `/dev/zero` would be read forever.
const SITE_LIMIT: u64 = 16 << 20;

/// Reads the bytes of the site file, refusing what is not a regular file of at most `SITE_LIMIT` bytes
/// before reading a byte. It is opened non-blocking, so a FIFO with no writer cannot hang the
/// open, and the limit also holds for a file that grows while it is read.
fn read_site(path: &Path) -> Result<Vec<u8>> {
    use rustix::fs::{FileType, OFlags};
    use std::io::Read as _;
    let flags = OFlags::RDONLY | OFlags::NONBLOCK | OFlags::CLOEXEC;
    let file = match rustix::fs::open(path, flags, rustix::fs::Mode::empty()) {
        Ok(fd) => std::fs::File::from(fd),
        Err(rustix::io::Errno::NOENT) => {
            return Err(Error::SiteFile { path: path.into(), problem: SiteFileProblem::Missing });
        }
        Err(e) => return Err(Error::io(path, "read", e.into())),
    };
    let io = |e| Error::io(path, "read", e);
    use SiteFileProblem::{NotAFile, TooLarge};
    let meta = file.metadata().map_err(io)?;
    let not_a_file = |what| Err(Error::SiteFile { path: path.into(), problem: NotAFile(what) });
    match FileType::from_raw_mode(std::os::unix::fs::MetadataExt::mode(&meta)) {
        FileType::RegularFile => {}
        FileType::Directory => return not_a_file("a folder"),
        FileType::Fifo => return not_a_file("a FIFO"),
        FileType::Socket => return not_a_file("a socket"),
        FileType::CharacterDevice | FileType::BlockDevice => return not_a_file("a device"),
        _ => return not_a_file("not a file"),
    }
    let too_large = || Error::SiteFile { path: path.into(), problem: TooLarge(SITE_LIMIT) };
    if meta.len() > SITE_LIMIT {
        return Err(too_large());
    }
    let mut bytes = Vec::with_capacity(usize::try_from(meta.len()).unwrap_or(0));
    file.take(SITE_LIMIT + 1).read_to_end(&mut bytes).map_err(io)?;
    if bytes.len() as u64 > SITE_LIMIT {
        return Err(too_large());
    }
    Ok(bytes)
}

struct Paths {
    site: PathBuf,
    out: PathBuf,
}

impl Paths {
    /// `out` defaults to the folder beside the site file, not the current one, so that
    /// `gen --site lab/site.toml build` run from anywhere writes `lab/out`.
    fn resolve(site: PathBuf, out: Option<PathBuf>) -> Paths {
        let out = out.unwrap_or_else(|| site_folder(&site).join("out"));
        Paths { site, out }
    }

    /// `build` prunes and `--out` is free text: an output folder that holds the site file could
    /// turn a typo into a deleted input. A site file that is a symlink is in two folders, the
    /// one it is named in and the one it really is in: neither may be below `out`.
    fn refuse_out_containing_site(&self) -> Result<()> {
        let folder = site_folder(&self.site);
        let folder = if folder.as_os_str().is_empty() { Path::new(".") } else { folder };
        let named_in = folder.canonicalize().map_err(|e| Error::io(folder, "read", e))?;
        let real = self.site.canonicalize().map_err(|e| Error::io(&self.site, "read", e))?;
        let real_in = real.parent().unwrap_or(Path::new("/"));
        let out = resolve_lexically_below_existing(&self.out)?;
        if named_in.starts_with(&out) || real_in.starts_with(&out) {
            return Err(Error::OutContainsSite { out: self.out.clone(), site: self.site.clone() });
        }
        Ok(())
    }

    fn out_label(&self) -> String {
        self.out.display().to_string()
    }
}

fn site_folder(site: &Path) -> &Path {
    site.parent().unwrap_or(Path::new(""))
}

/// The absolute form of a path that may not exist yet: its longest existing ancestor with
/// symlinks resolved, then the rest. The rest does not exist, so it holds no symlink and `..`
/// in it can be taken lexically.
fn resolve_lexically_below_existing(path: &Path) -> Result<PathBuf> {
    let absolute = std::path::absolute(path).map_err(|e| Error::io(path, "read", e))?;
    let components: Vec<Component> = absolute.components().collect();
    for existing in (1..=components.len()).rev() {
        let head: PathBuf = components[..existing].iter().collect();
        let Ok(mut resolved) = head.canonicalize() else { continue };
        for component in &components[existing..] {
            match component {
                Component::ParentDir => {
                    resolved.pop();
                }
                Component::Normal(name) => resolved.push(name),
                _ => {}
            }
        }
        return Ok(resolved);
    }
    Ok(absolute)
}

/// Judges the change against the record `out/` holds, then writes: a change kubespray cannot
/// make leaves `out/` as it was.
fn build(paths: &Paths, built: &Built, allow: change::Allow) -> Result<u8> {
    let _lock = lock::exclusive(&paths.out)?;
    let new = Record::of_tree(&built.tree);
    let old = read_record(&paths.out)?;
    let judgement = change::judge(old.as_ref(), &new, allow)
        .map_err(|refusals| Error::UnsafeChange { refusals })?;
    let report = write::write_tree(&paths.out, &built.tree, &built.manifest)?;
    for refusal in judgement.allowed {
        warn(&Warning::Allowed(refusal));
    }
    if let Some(majority) = change::etcd_majority(&new) {
        warn(&Warning::EtcdMajority(majority));
    }
    verbosity::progress(&summary(&report, &built.tree, &paths.out_label(), &judgement.steps));
    Ok(exit::OK)
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

/// The record of what `out/` deploys now; `None` when there is none (nothing built yet, or a
/// tree from a gen that wrote no record).
fn read_record(out: &Path) -> Result<Option<Record>> {
    let path = out.join(layout::RECORD);
    match std::fs::read_to_string(&path) {
        Ok(text) => {
            Record::parse(&text).map(Some).map_err(|reason| Error::BadRecord { path, reason })
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(Error::io(&path, "read", e)),
    }
}

fn check(paths: &Paths, built: &Built) -> Result<u8> {
    let out = paths.out_label();
    let _lock = lock::shared(&paths.out)?;
    let changes = diff::compare(&paths.out, &built.tree)?;
    if changes.is_empty() {
        print(&format!("`{out}` is up to date with `{}`\n", paths.site.display()));
        return Ok(exit::OK);
    }
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

fn diff(paths: &Paths, built: &Built, no_pager: bool) -> Result<u8> {
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

/// A command's answer (`verbosity.rs`), out whole.
fn print(text: &str) {
    verbosity::answer(text);
}

/// Whom a change concerns: each host's `gen apply`, the kubespray run from the laptop, or
/// neither (`out/README.md`). Hosts sort first, by name; kubespray last, so that its commands
/// are the summary's last steps.
#[derive(PartialEq, Eq, PartialOrd, Ord)]
enum Group<'a> {
    Host(&'a str),
    Other,
    Kubespray,
}

impl<'a> Group<'a> {
    fn of(path: &'a str) -> Group<'a> {
        if let Some(host) = layout::host_of(path) {
            return Group::Host(host);
        }
        if layout::is_kubespray(path) { Group::Kubespray } else { Group::Other }
    }
}

/// What `gen build` did, by whom it concerns, with the next step for each: `steps` are the
/// kubespray commands the change needs.
fn summary(report: &Written, tree: &Tree, out: &str, steps: &[change::Step]) -> String {
    let mut groups: BTreeMap<Group, Vec<(&str, &str)>> = BTreeMap::new();
    let changes =
        [("added", &report.added), ("changed", &report.changed), ("removed", &report.removed)];
    for (verb, paths) in changes {
        for path in paths.iter().filter(|p| *p != MANIFEST) {
            groups.entry(Group::of(path)).or_default().push((verb, path));
        }
    }

    let mut text = String::new();
    if report.is_up_to_date() {
        let _ = writeln!(text, "`{out}` is up to date");
    } else if groups.is_empty() {
        let _ = writeln!(
            text,
            "updated `{out}/{MANIFEST}`: the site file changed, the files it gives did not"
        );
    }
    for (group, mut files) in groups {
        files.sort_by_key(|(_, path)| *path);
        let counts = ["added", "changed", "removed"]
            .into_iter()
            .filter_map(|verb| {
                let n = files.iter().filter(|(v, _)| *v == verb).count();
                (n > 0).then(|| format!("{n} {verb}"))
            })
            .collect::<Vec<_>>()
            .join(", ");
        let _ = match group {
            Group::Host(host) if tree.subtree(&layout::host_dir(host)).next().is_none() => {
                writeln!(text, "host {host}: {counts}; it is no longer in the site file")
            }
            Group::Host(host) => writeln!(text, "host {host}: {counts}; run `gen apply {host}`"),
            Group::Kubespray => writeln!(text, "kubespray: {counts}"),
            Group::Other => writeln!(text, "other: {counts}"),
        };
        for (verb, path) in files {
            let _ = writeln!(text, "  {verb:<8} {out}/{path}");
        }
        if group == Group::Kubespray {
            // A change the record does not show (group_vars) still needs kubespray to run.
            let rerun = [change::Step::Rerun];
            let steps = if steps.is_empty() { &rerun[..] } else { steps };
            let _ = writeln!(text, "then, from this machine, in order:");
            text += &change::commands(steps, out);
        }
    }
    if !report.unknown.is_empty() {
        let n = report.unknown.len();
        let files = if n == 1 { "file" } else { "files" };
        let _ = writeln!(text, "unknown: {n} {files} that gen did not make, kept");
        for path in &report.unknown {
            let _ = writeln!(text, "  unknown  {out}/{path}");
        }
    }
    if !report.kept.is_empty() {
        let n = report.kept.len();
        let (files, them) = if n == 1 { ("file", "it") } else { ("files", "them") };
        let _ = writeln!(
            text,
            "kept: {n} {files} that gen no longer makes but that changed since gen wrote {them}"
        );
        for path in &report.kept {
            let _ = writeln!(text, "  kept     {out}/{path}");
        }
        let _ = writeln!(
            text,
            "  fix: {them} may hold your edits: move {them} out of `{out}`, or delete {them} if \
             not"
        );
    }
    if !report.temporaries.is_empty() {
        let n = report.temporaries.len();
        let files = if n == 1 { "file" } else { "files" };
        let _ = writeln!(text, "deleted {n} temporary {files} left by an interrupted build");
    }
    if !report.is_up_to_date() {
        text += "review `git diff out/`, then `git add out/` and commit before you apply\n";
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(std::string::ToString::to_string).collect()
    }

    #[test]
    fn summary_groups_by_host_and_names_the_next_step() {
        let mut tree = Tree::new();
        tree.insert_text("hosts/a/apply.sh", "x");
        tree.insert_text("kubespray/deploy.sh", "x");
        let report = Written {
            added: strings(&["hosts/a/apply.sh", "manifest.toml"]),
            changed: strings(&["kubespray/inventory/hosts.yaml"]),
            removed: strings(&["hosts/a/workers/Vagrantfile", "hosts/b/apply.sh"]),
            unknown: strings(&["notes.txt"]),
            kept: vec![],
            temporaries: vec![],
        };
        assert_eq!(
            summary(
                &report,
                &tree,
                "out",
                &[change::Step::Upgrade { from: "a".into(), to: "b".into() }]
            ),
            "host a: 1 added, 1 removed; run `gen apply a`\n\
            \x20 added    out/hosts/a/apply.sh\n\
            \x20 removed  out/hosts/a/workers/Vagrantfile\n\
             host b: 1 removed; it is no longer in the site file\n\
            \x20 removed  out/hosts/b/apply.sh\n\
             kubespray: 1 changed\n\
            \x20 changed  out/kubespray/inventory/hosts.yaml\n\
             then, from this machine, in order:\n\
            \x20 1. out/kubespray/deploy.sh upgrade-cluster.yml\n\
             unknown: 1 file that gen did not make, kept\n\
            \x20 unknown  out/notes.txt\n\
             review `git diff out/`, then `git add out/` and commit before you apply\n"
        );
    }

    #[test]
    fn summary_says_up_to_date_and_still_lists_unknown_files() {
        let report = Written { unknown: strings(&["a~", "b~"]), ..Written::default() };
        assert_eq!(
            summary(&report, &Tree::new(), "lab/out", &[]),
            "`lab/out` is up to date\n\
             unknown: 2 files that gen did not make, kept\n\
            \x20 unknown  lab/out/a~\n\
            \x20 unknown  lab/out/b~\n"
        );
    }

    #[test]
    fn summary_explains_a_manifest_only_change() {
        let report = Written { changed: strings(&["manifest.toml"]), ..Written::default() };
        assert_eq!(
            summary(&report, &Tree::new(), "out", &[]),
            "updated `out/manifest.toml`: the site file changed, the files it gives did not\n\
             review `git diff out/`, then `git add out/` and commit before you apply\n"
        );
    }

    #[test]
    fn out_defaults_to_the_site_files_folder() {
        let paths = Paths::resolve("lab/site.toml".into(), None);
        assert_eq!(paths.out, Path::new("lab/out"));
        let paths = Paths::resolve("site.toml".into(), None);
        assert_eq!(paths.out, Path::new("out"));
    }

    #[test]
    fn paths_that_do_not_exist_yet_resolve_lexically() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        let path = root.join("new/deeper/../../other");
        assert_eq!(resolve_lexically_below_existing(&path).unwrap(), root.join("other"));
        assert_eq!(resolve_lexically_below_existing(&root.join("new/..")).unwrap(), root);
    }
}
