//! Whether gen writes in colour, and the few styles it uses outside error excerpts.
//!
//! `--color auto|always|never`; with `auto`, the rules clap and cargo follow (anstream's):
//! `NO_COLOR` turns colour off, `CLICOLOR_FORCE` on, `CLICOLOR=0` off, else colour only on a
//! terminal. Files, pipes and golden cases get plain text.

use std::io::IsTerminal;

use anstyle::{AnsiColor, Effects, Style};

/// The `--color` choice.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum When {
    Auto,
    Always,
    Never,
}

/// Records the choice for the whole process; call once, before anything is printed.
pub fn choose(when: When) {
    let choice = match when {
        When::Auto => anstream::ColorChoice::Auto,
        When::Always => anstream::ColorChoice::Always,
        When::Never => anstream::ColorChoice::Never,
    };
    choice.write_global();
}

/// Whether text for `stream` is to be in colour.
pub fn on<S: anstream::stream::RawStream + IsTerminal>(stream: &S) -> bool {
    anstream::AutoStream::choice(stream) != anstream::ColorChoice::Never
}

pub const ERROR: Style = AnsiColor::BrightRed.on_default().effects(Effects::BOLD);
pub const WARNING: Style = AnsiColor::BrightYellow.on_default().effects(Effects::BOLD);
pub const FIX: Style = AnsiColor::BrightCyan.on_default().effects(Effects::BOLD);
pub const ADDED: Style = AnsiColor::Green.on_default();
pub const REMOVED: Style = AnsiColor::Red.on_default();
pub const HEADER: Style = Style::new().effects(Effects::BOLD);
pub const HUNK: Style = AnsiColor::Cyan.on_default();

/// A message gen wrote in plain text, with its `error:`, `warning:` and `fix:` labels styled
/// as cargo styles them.
pub fn paint(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 32);
    for line in text.split_inclusive('\n') {
        let indent = line.len() - line.trim_start().len();
        let rest = &line[indent..];
        let label = [("error:", ERROR), ("warning:", WARNING), ("fix:", FIX)]
            .into_iter()
            .find(|(label, _)| rest.starts_with(label));
        match label {
            Some((label, style)) => {
                out += &line[..indent];
                out += &format!("{style}{label}{style:#}");
                out += &rest[label.len()..];
            }
            None => out += line,
        }
    }
    out
}

/// A unified diff with its headers, hunks, removed and added lines styled as git styles them.
pub fn paint_diff(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.split_inclusive('\n') {
        let style = if line.starts_with("---") || line.starts_with("+++") {
            HEADER
        } else if line.starts_with("@@") {
            HUNK
        } else if line.starts_with('-') {
            REMOVED
        } else if line.starts_with('+') {
            ADDED
        } else {
            out += line;
            continue;
        };
        let body = line.trim_end_matches('\n');
        out += &format!("{style}{body}{style:#}{}", &line[body.len()..]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_at_the_start_of_a_line_are_styled_and_nothing_else() {
        let painted = paint("error: no host `a`\n  fix: use `b`\nnot an error: here\n");
        assert_eq!(
            painted,
            "\u{1b}[1m\u{1b}[91merror:\u{1b}[0m no host `a`\n  \u{1b}[1m\u{1b}[96mfix:\u{1b}[0m use \
             `b`\nnot an error: here\n"
        );
    }
}
