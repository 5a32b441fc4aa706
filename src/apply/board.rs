//! What an apply shows while it runs. On a terminal, `gen apply --all` keeps one live line per
//! server: the step it is at and how long that step has taken so far, redrawn in place, so a
//! lab of ten servers booting VMs for minutes reads as ten lines, not a scroll of steps. Piped
//! or logged (CI), and for a single server, each step is a plain line as it starts, which is
//! what a log wants.
//!
//! The live lines are progress (`verbosity.rs`): `-q` hides them with the rest, and they go to
//! stdout like the plain lines they stand for. They are cleared at the end; the summary lines
//! that follow are the same on a terminal and in a log.

use std::io::IsTerminal as _;
use std::time::{Duration, Instant};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};

use crate::verbosity::{self, Level};

/// The most of a step's latest output line a live line shows.
const EXCERPT: usize = 40;

/// How often the spinner and the elapsed time are redrawn when nothing else happens.
const TICK: Duration = Duration::from_millis(200);

pub(super) enum Board {
    /// A line per step, printed as the step starts.
    Lines,
    /// A live line per server worked on (`None` for the others), and when the apply began.
    Live { multi: MultiProgress, bars: Vec<Option<ProgressBar>>, began: Instant },
}

impl Board {
    /// `names[i]` is server `i`'s name when this apply works on it. Live lines are worth it only
    /// when several servers are worked on, progress is shown, and a person watches.
    pub(super) fn new(names: &[Option<&str>], several: bool) -> Board {
        let watched = std::io::stdout().is_terminal()
            && std::env::var_os("TERM").is_none_or(|term| term != "dumb");
        if !(several && watched && verbosity::level() >= Level::Normal) {
            return Board::Lines;
        }
        let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout());
        // `wide_msg`: the message is cut to what the terminal's width leaves, so that a line
        // never wraps (the redraw counts one row a server).
        let style = ProgressStyle::with_template("{spinner} {wide_msg} {elapsed}")
            .expect("the template is valid");
        let bars = names
            .iter()
            .map(|name| {
                name.map(|name| {
                    let bar = multi.add(ProgressBar::new_spinner().with_style(style.clone()));
                    bar.set_message(format!("{name}: waiting"));
                    bar.enable_steady_tick(TICK);
                    bar
                })
            })
            .collect();
        Board::Live { multi, bars, began: Instant::now() }
    }

    /// Server `server` starts what `line` says; its elapsed time starts again from zero.
    pub(super) fn step(&self, server: usize, line: &str) {
        match self {
            Board::Lines => verbosity::progress(&format!("{line}\n")),
            Board::Live { bars, .. } => {
                if let Some(bar) = &bars[server] {
                    bar.reset_elapsed();
                    bar.set_message(line.to_string());
                }
            }
        }
    }

    /// Server `server` is at what `line` says, shown live only: a plain line is printed when
    /// the step is done (a send's line says how many files it sent).
    pub(super) fn pending(&self, server: usize, line: &str) {
        if let Board::Live { bars, .. } = self {
            if let Some(bar) = &bars[server] {
                bar.set_message(line.to_string());
            }
        }
    }

    /// The step of server `server` printed `line` (Vagrant's, say a box download's progress):
    /// its live line shows `head` (the server, the step's word and node) and the latest line,
    /// cut to [`EXCERPT`] characters. Plain lines keep the output for the error, as before.
    pub(super) fn output(&self, server: usize, head: &str, line: &str) {
        let line = line.trim();
        if line.is_empty() {
            return;
        }
        if let Board::Live { bars, .. } = self {
            if let Some(bar) = &bars[server] {
                let mut excerpt: String = line.chars().take(EXCERPT).collect();
                if line.chars().nth(EXCERPT).is_some() {
                    excerpt.push('…');
                }
                bar.set_message(format!("{head}: {excerpt}"));
            }
        }
    }

    /// Server `server` has nothing more to do in this apply: its line stops with `line` and
    /// how long the apply had run by then (a step's time would say only its last step's).
    pub(super) fn done(&self, server: usize, line: &str) {
        if let Board::Live { bars, began, .. } = self {
            if let Some(bar) = &bars[server] {
                let style = ProgressStyle::with_template("  {msg}").expect("the template is valid");
                bar.set_style(style);
                bar.finish_with_message(format!("{line} after {}s", began.elapsed().as_secs()));
            }
        }
    }

    /// The live lines give way to what is printed next.
    pub(super) fn clear(self) {
        if let Board::Live { multi, bars, .. } = self {
            for bar in bars.into_iter().flatten() {
                bar.finish_and_clear();
            }
            let _ = multi.clear();
        }
    }
}
