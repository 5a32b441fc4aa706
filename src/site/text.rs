//! The validated strings of a `Site`: one type per grammar, whose `parse` returns the problem.
//!
//! Each grammar is what every consumer of the value (shell, Ruby, YAML, systemd, ssh) can take
//! verbatim, so a template prints these types with no further check. A value that exists as one
//! of these types has been held to its grammar; nothing re-parses it later.

use std::fmt;
use std::ops::Deref;

use super::key_blob;
use crate::problem::Problem;

/// An RFC 1123 label: 1–63 of `a-z 0-9 -`, not starting or ending with `-`. Safe verbatim in
/// every output language.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label(String);

impl Label {
    /// The label, or why `s` is not one.
    pub fn parse(s: &str) -> Result<Label, Problem> {
        match Label::why_not(s) {
            None => Ok(Label(s.to_string())),
            Some(why) => Err(Problem::NotALabel { value: s.to_string(), why }),
        }
    }

    fn why_not(s: &str) -> Option<&'static str> {
        if s.is_empty() {
            Some("it is empty")
        } else if s.len() > 63 {
            Some("it is longer than 63 characters")
        } else if !s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            Some("only lowercase letters, digits and `-` are allowed")
        } else if s.starts_with('-') || s.ends_with('-') {
            Some("it starts or ends with `-`")
        } else {
            None
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Label {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A string type held to one grammar: `accepts` decides, `expected` describes it to the user.
macro_rules! grammar_type {
    ($(#[$doc:meta])* $name:ident, accepts: $accepts:expr, expected: $expected:expr $(,)?) => {
        grammar_type!($(#[$doc])* $name, parse, accepts: $accepts, expected: $expected);
    };
    ($(#[$doc:meta])* $name:ident, $parse:ident, accepts: $accepts:expr, expected: $expected:expr $(,)?) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub struct $name(String);

        impl $name {
            /// What the user is told a value must be.
            pub const EXPECTED: &'static str = $expected;

            /// The value, or the problem that names the grammar it misses.
            pub fn $parse(s: &str) -> Result<$name, Problem> {
                let accepts: fn(&str) -> bool = $accepts;
                if accepts(s) {
                    Ok($name(s.to_string()))
                } else {
                    Err(Problem::BadSyntax { value: s.to_string(), expected: $name::EXPECTED })
                }
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl Deref for $name {
            type Target = str;
            fn deref(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

grammar_type!(
    /// A Vagrant box `owner/name`, of `[A-Za-z0-9._-]`.
    BoxName,
    accepts: is_box_name,
    expected: "a box name `owner/name` of letters, digits, `.`, `_` and `-`",
);
grammar_type!(
    /// A box version: dotted digits.
    BoxVersion,
    accepts: is_dotted_number,
    expected: "a box version of digits and dots, e.g. `202502.21.0`",
);
grammar_type!(
    /// An OpenSSH public key `type base64 [comment]`, comment of `[A-Za-z0-9@._+:=-]`, whose
    /// key decodes to a key of its type (`AuthorizedKey::parse`).
    AuthorizedKey,
    parse_grammar,
    accepts: is_authorized_key,
    expected: "an OpenSSH public key `type base64 [comment]` with a comment of letters, digits \
               and `@._+:=-`",
);
grammar_type!(
    /// A POSIX user name (`[a-z_][a-z0-9_-]*`, at most 32).
    UserName,
    accepts: is_user_name,
    expected: "a user name of lowercase letters, digits, `_` and `-` (at most 32, not starting \
               with a digit or `-`)",
);
grammar_type!(
    /// A Linux interface name (`[A-Za-z0-9_.-]`, at most 15).
    InterfaceName,
    accepts: is_interface_name,
    expected: "a network interface name of at most 15 letters, digits, `_`, `.` and `-`",
);
grammar_type!(
    /// An absolute path of `[A-Za-z0-9._/-]` with no `.` or `..` component.
    RemoteRoot,
    accepts: is_remote_root,
    expected: "an absolute path of letters, digits and `._-/` without `.` or `..` parts",
);

mod address;
mod ssh_key;

pub use address::Address;
pub use ssh_key::HostKey;

#[cfg(test)]
mod tests;

impl RemoteRoot {
    /// Where a host keeps its generations when `root` is not given. Units need an absolute path
    /// at build time, so this assumes the conventional home; DESIGN.md's `~user` cannot be
    /// resolved offline. A user name and a label make a path of the grammar.
    pub fn default_for(user: &UserName, cluster: &Label) -> RemoteRoot {
        RemoteRoot(format!("/home/{user}/gen/{cluster}"))
    }
}

fn is_box_name(s: &str) -> bool {
    let part = |p: &str| {
        !p.is_empty()
            && !p.starts_with(['.', '-'])
            && p.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    };
    s.len() <= 128 && s.split_once('/').is_some_and(|(o, n)| part(o) && part(n))
}

fn is_dotted_number(s: &str) -> bool {
    s.len() <= 64 && s.split('.').all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_user_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=32).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0] == b'_')
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'_' || *c == b'-')
}

fn is_interface_name(s: &str) -> bool {
    (1..=15).contains(&s.len())
        && s != "."
        && s != ".."
        && !s.starts_with('-')
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

fn is_key_body(kind: &str, body: &str) -> bool {
    key_blob::is_known_type(kind)
        && body.len() >= 16
        && body.len() % 4 == 0
        && body.starts_with("AAAA")
        && body.bytes().all(|b| b.is_ascii_alphanumeric() || b"+/=".contains(&b))
}

fn is_authorized_key(s: &str) -> bool {
    let parts: Vec<&str> = s.split(' ').collect();
    let comment_ok = |c: &str| {
        !c.is_empty() && c.bytes().all(|b| b.is_ascii_alphanumeric() || b"@._+:=-".contains(&b))
    };
    match parts.as_slice() {
        [kind, body] => is_key_body(kind, body),
        [kind, body, comment] => is_key_body(kind, body) && comment_ok(comment),
        _ => false,
    }
}

fn is_remote_root(s: &str) -> bool {
    s.len() <= 200
        && s.len() > 1
        && s.starts_with('/')
        && !s.ends_with('/')
        && s[1..].split('/').all(|c| !c.is_empty() && c != "." && c != "..")
        && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-/".contains(&b))
}
