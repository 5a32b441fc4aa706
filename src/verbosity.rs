//! How much gen says: the one place that defines what `-q` and `-v` show, and the functions
//! everything but errors and warnings is printed through.
//!
//! | what                                   | `-q` | default | `-v` | where  |
//! |----------------------------------------|------|---------|------|--------|
//! | errors, warnings                       | yes  | yes     | yes  | stderr |
//! | the answer a command is asked for      | yes  | yes     | yes  | stdout |
//! | progress: what gen did and does        | no   | yes     | yes  | stdout |
//! | notes: said in passing                 | no   | yes     | yes  | stderr |
//! | each ssh, rsync, ssh-keyscan gen runs  | no   | no      | yes  | stderr |
//!
//! The answer is what a command exists to print: `check`'s verdict and differences, `diff`,
//! `status`'s table, `apply --dry-run`'s plan, `schema`, `completions`, `man`, any `--json`, and
//! what `init` asks the user to compare (host key fingerprints). Progress is the rest of a
//! command that changes something: `build`'s summary of written files and next steps, each step
//! of `apply` and `rollback` as it runs, a server's entrypoint output, the closing counts. Notes
//! are remarks that do not change the answer: waiting for a lock, `out/` being stale for
//! `status`, a plan's remark about etcd quorum. A command line is shown as `+ ssh -o … host 'sh
//! -s'`, each word quoted for sh only where it needs it, as `sh -x` shows what it runs.

use std::ffi::OsStr;
use std::io::Write as _;
use std::process::Command;
use std::sync::atomic::{AtomicU8, Ordering};

/// `-q`, nothing, or `-v`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Level {
    Quiet = 0,
    Normal = 1,
    Verbose = 2,
}

static LEVEL: AtomicU8 = AtomicU8::new(Level::Normal as u8);

/// Records the level for the whole process; call once, before anything is printed.
pub fn set(level: Level) {
    LEVEL.store(level as u8, Ordering::Relaxed);
}

pub fn level() -> Level {
    match LEVEL.load(Ordering::Relaxed) {
        0 => Level::Quiet,
        1 => Level::Normal,
        _ => Level::Verbose,
    }
}

/// The answer: always shown.
pub fn answer(text: &str) {
    out(text);
}

/// Progress: hidden by `-q`.
pub fn progress(text: &str) {
    if level() >= Level::Normal {
        out(text);
    }
}

/// A note: hidden by `-q`; on stderr, so that an answer on stdout (`--json`) stays clean.
pub fn note(text: &str) {
    if level() >= Level::Normal {
        let _ = std::io::stderr().lock().write_all(text.as_bytes());
    }
}

/// With `-v`, shows `command` as it is about to run.
pub fn command(command: &Command) {
    if level() >= Level::Verbose {
        let _ = writeln!(std::io::stderr().lock(), "+ {}", shown(command));
    }
}

/// A command line as `sh -x` would show it: words quoted only when sh would need it.
pub fn shown(command: &Command) -> String {
    std::iter::once(command.get_program())
        .chain(command.get_args())
        .map(word)
        .collect::<Vec<_>>()
        .join(" ")
}

fn word(word: &OsStr) -> String {
    let text = word.to_string_lossy();
    let plain = |c: char| c.is_ascii_alphanumeric() || "-_./=:@,+%^".contains(c);
    if !text.is_empty() && text.chars().all(plain) {
        text.into_owned()
    } else {
        crate::quote::sh(&text)
    }
}

/// One write per message, so that lines from parallel servers never interleave; a closed
/// stdout (`gen status | head`) is not worth failing for.
fn out(text: &str) {
    let _ = std::io::stdout().lock().write_all(text.as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_command_line_quotes_only_the_words_that_need_it() {
        let mut command = Command::new("ssh");
        command.args(["-o", "BatchMode=yes", "-T", "lab@10.0.0.2", "sh -s", "it's"]);
        assert_eq!(shown(&command), r"ssh -o BatchMode=yes -T lab@10.0.0.2 'sh -s' 'it'\''s'");
    }
}
