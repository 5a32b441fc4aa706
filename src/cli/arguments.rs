//! The command line itself: the arguments clap parses, and the manual page it writes from them.

use std::path::PathBuf;

use clap::{CommandFactory as _, Parser, Subcommand};

use super::VERSION;
use crate::colour;

#[derive(Parser)]
#[command(
    name = "gen",
    version = VERSION,
    about = "Reproducible generator for a home-lab Kubernetes cluster"
)]
pub(super) struct Arguments {
    /// The site file
    #[arg(long, global = true, value_name = "PATH", default_value = "site.toml")]
    pub(super) site: PathBuf,
    /// The output folder [default: `out` beside the site file]
    #[arg(long, global = true, value_name = "DIR")]
    pub(super) out: Option<PathBuf>,
    /// When to write in colour: `auto` follows NO_COLOR, CLICOLOR_FORCE, CLICOLOR and whether
    /// the output is a terminal
    #[arg(long, global = true, value_name = "WHEN", default_value = "auto")]
    pub(super) color: colour::When,
    /// Say only the answer, errors and warnings: no progress, no notes
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub(super) quiet: bool,
    /// Also show each ssh, rsync and ssh-keyscan command gen runs (on stderr)
    #[arg(short, long, global = true)]
    pub(super) verbose: bool,
    #[command(subcommand)]
    pub(super) command: Command,
}

#[derive(Subcommand)]
pub(super) enum Command {
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

/// The manual page gen(1), or gen-COMMAND(1), the page the SUBCOMMANDS section of gen(1) names.
/// An unknown command is clap's usage error (exit 2), with the commands there are.
pub(super) fn manual(command: Option<&str>) -> String {
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
