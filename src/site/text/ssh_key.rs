//! ssh keys in `site.toml`: a key allowed to log in to the guests, and the host key a server
//! must present; each held to its grammar, then decoded and checked as a key of its type.

use std::fmt;
use std::ops::Deref;

use super::AuthorizedKey;
use crate::problem::Problem;
use crate::site::key_blob;

impl AuthorizedKey {
    /// The key, or the problem: the grammar first (the line lands verbatim in
    /// `authorized_keys`), then the key itself.
    pub fn parse(s: &str) -> Result<AuthorizedKey, Problem> {
        let key = AuthorizedKey::parse_grammar(s)?;
        let mut fields = s.split(' ');
        let (kind, body) = (fields.next().unwrap_or_default(), fields.next().unwrap_or_default());
        match key_blob::check(kind, body, key_blob::Use::Login) {
            Ok(()) => Ok(key),
            Err(why) => Err(Problem::BadKey { value: s.to_string(), why, host: false }),
        }
    }
}

/// A VM server's ssh host key as a known_hosts line holds it after the host field:
/// `type base64`, its key decoded and of the shape its type has.
///
/// What users paste is accepted too and reduced to that: a trailing comment, and the whole
/// line `ssh-keyscan` prints (`host type base64`), whose host field is dropped (gen writes its
/// own, from `address` and `port`). A `@revoked` or `@cert-authority` line is refused: it does
/// not say "trust this key".
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct HostKey(String);

impl HostKey {
    /// The key as `type base64`, or why `s` is not a host key gen can trust.
    pub fn parse(s: &str) -> Result<HostKey, Problem> {
        let bad = |why: String| Err(Problem::BadKey { value: s.to_string(), why, host: true });
        if let Some(c) = s.chars().find(|c| c.is_control() && !c.is_whitespace()) {
            return bad(format!("it holds the control character {c:?}"));
        }
        let fields: Vec<&str> = s.split_whitespace().collect();
        if let Some(marker) = fields.first().filter(|f| f.starts_with('@')) {
            return bad(format!(
                "a line marked `{marker}` does not say to trust the key; paste the key alone"
            ));
        }
        let is_type = |i: usize| fields.get(i).is_some_and(|f| key_blob::is_known_type(f));
        let at = if is_type(0) && fields.len() >= 2 {
            0
        } else if is_type(1) && fields.len() >= 3 {
            1
        } else {
            let looks_like_type =
                |f: &&&str| ["ssh-", "ecdsa-", "sk-"].iter().any(|p| f.starts_with(p));
            return bad(match fields.iter().take(2).find(looks_like_type) {
                Some(kind) if key_blob::is_known_type(kind) => {
                    format!("the base64 key after `{kind}` is missing")
                }
                Some(kind) => format!("`{kind}` is not a key type OpenSSH uses for host keys"),
                None => "expected `TYPE BASE64`, as `ssh-keyscan -t ed25519 HOST` prints it \
                         after the host name"
                    .into(),
            });
        };
        let (kind, body) = (fields[at], fields[at + 1]);
        match key_blob::check(kind, body, key_blob::Use::Host) {
            Ok(()) => Ok(HostKey(format!("{kind} {body}"))),
            Err(why) => bad(why),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for HostKey {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for HostKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}
