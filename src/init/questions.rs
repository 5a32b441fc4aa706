//! The questions `gen init` asks on a terminal for what the flags did not say: a refused answer
//! is asked again, and Ctrl-D stops init.

use std::io::{BufRead as _, Write as _};

use crate::error::{Error, Result};

/// Asks on a terminal for what the flags did not say. Off a terminal nothing is asked: a choice
/// (the cluster's name, how many VMs) takes its default, a fact about the LAN stays a hole.
/// On a terminal an answer `gen build` would refuse is shown why and asked again, so one typo
/// does not cost the answers before it; the end of input (Ctrl-D) stops init with nothing
/// written, as a person who presses it means to leave, not to take whatever comes next.
pub(super) struct Questions {
    pub(super) terminal: bool,
}

/// Why an answer is refused, as shown before the question is asked again; `None` takes it.
pub(super) type Check<'a> = &'a dyn Fn(&str) -> Option<String>;

impl Questions {
    /// A fact: `suggestion` is offered on a terminal, never assumed.
    pub(super) fn ask(
        &self,
        question: &str,
        suggestion: Option<&str>,
        check: Check,
    ) -> Result<Option<String>> {
        if !self.terminal {
            return Ok(None);
        }
        Self::until_taken(question, suggestion, check)
    }

    /// A choice: `default` is taken when nothing is answered, or nothing can be asked.
    pub(super) fn choose(
        &self,
        question: &str,
        default: Option<&str>,
        check: Check,
    ) -> Result<Option<String>> {
        if !self.terminal {
            return Ok(default.map(str::to_string));
        }
        Self::until_taken(question, default, check)
    }

    fn until_taken(question: &str, default: Option<&str>, check: Check) -> Result<Option<String>> {
        let shown = default.map_or(String::new(), |d| format!(" [{d}]"));
        loop {
            eprint!("{question}{shown}: ");
            let _ = std::io::stderr().flush();
            let mut line = String::new();
            if std::io::stdin().lock().read_line(&mut line).unwrap_or(0) == 0 {
                // The terminal echoes nothing for Ctrl-D: end the prompt's line first.
                eprintln!();
                return Err(Error::InitStopped { question: question.to_string() });
            }
            let answer = line.trim();
            let answer =
                if answer.is_empty() { default.map(str::to_string) } else { Some(answer.into()) };
            match answer.as_deref().and_then(check) {
                Some(why) if crate::colour::on(&std::io::stderr()) => {
                    eprintln!("{}", crate::colour::paint(&why));
                }
                Some(why) => eprintln!("{why}"),
                None => return Ok(answer),
            }
        }
    }
}
