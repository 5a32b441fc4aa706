//! The validated strings of a `Site`: one type per grammar, whose `parse` returns the problem.
//!
//! Each grammar is what every consumer of the value (shell, Ruby, YAML, systemd, ssh) can take
//! verbatim, so a template prints these types with no further check. A value that exists as one
//! of these types has been held to its grammar; nothing re-parses it later.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Deref;
use std::str::FromStr;

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

/// Where `gen apply` reaches a VM server: a dotted-quad IPv4 address (four decimal numbers,
/// no leading zeros) that can name one machine, or a DNS name of RFC 1123 labels whose last
/// label is not all digits. Nothing that a resolver would read as another address passes:
/// glibc's `inet_aton` takes `0xc0a80115`, `0x7f.1`, `3232235797` and `010.1` for IPv4
/// addresses, which would slip past the rule that two machines never share one.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Address(String);

impl Address {
    /// The address, or why `s` is not one gen can connect to.
    pub fn parse(s: &str) -> Result<Address, Problem> {
        let bad = |why| Err(Problem::BadAddress { value: s.to_string(), why });
        if let Ok(ip) = Ipv4Addr::from_str(s) {
            return match unusable_ipv4(ip) {
                Some(why) => bad(why),
                None => Ok(Address(s.to_string())),
            };
        }
        if let Some(ip) = inet_aton(s) {
            return Err(Problem::AddressReadAsIpv4 { value: s.to_string(), ip: ip.to_string() });
        }
        match why_not_dns_name(s) {
            Some(why) => bad(why),
            None => Ok(Address(s.to_string())),
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The address as an IPv4 address, when it is one rather than a DNS name.
    pub fn ipv4(&self) -> Option<Ipv4Addr> {
        Ipv4Addr::from_str(&self.0).ok()
    }
}

impl Deref for Address {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Why no single server can be reached at `ip`, if so. Loopback stays allowed: it is how a
/// server is tested on the machine itself. The LAN's own network and broadcast addresses are
/// refused by the rules over addresses (`rules::check_addresses`), which know the LAN.
fn unusable_ipv4(ip: Ipv4Addr) -> Option<&'static str> {
    if ip.is_unspecified() {
        Some("`0.0.0.0` means \"any address\", not a machine")
    } else if ip.octets()[0] == 0 {
        Some("addresses in 0.0.0.0/8 mean \"this network\" and cannot be connected to")
    } else if ip.is_broadcast() {
        Some("`255.255.255.255` is the broadcast address of every network")
    } else if ip.is_multicast() {
        Some("it is a multicast address (224.0.0.0/4), which names a group, not a machine")
    } else if ip.octets()[0] >= 240 {
        Some("addresses in 240.0.0.0/4 are reserved and not routed")
    } else {
        None
    }
}

/// The IPv4 address glibc's `inet_aton` (behind `getaddrinfo`, so behind ssh and rsync) reads
/// `s` as: one to four parts separated by dots, each decimal, octal (a leading `0`) or hex
/// (`0x`), the last part filling the bytes that remain.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    let parts: Vec<&str> = s.split('.').collect();
    if parts.len() > 4 {
        return None;
    }
    let mut values = Vec::with_capacity(parts.len());
    for part in &parts {
        let lower = part.to_ascii_lowercase();
        let value = if let Some(hex) = lower.strip_prefix("0x") {
            // `0x` with no digit is refused (glibc checks the character after the prefix).
            if hex.is_empty() { None } else { u64::from_str_radix(hex, 16).ok() }
        } else if lower.len() > 1 && lower.starts_with('0') {
            u64::from_str_radix(&lower[1..], 8).ok()
        } else if !lower.is_empty() && lower.bytes().all(|b| b.is_ascii_digit()) {
            lower.parse().ok()
        } else {
            None
        };
        // Digits only: `from_str_radix` would also take a sign.
        let digits_only = lower.trim_start_matches("0x").bytes().all(|b| b.is_ascii_hexdigit());
        values.push(value.filter(|_| digits_only)?);
    }
    let (last, init) = values.split_last()?;
    if init.iter().any(|v| *v > 255) || *last >= 1u64 << (8 * (4 - init.len())) {
        return None;
    }
    let mut n = *last;
    for (i, v) in init.iter().enumerate() {
        n |= v << (24 - 8 * i);
    }
    u32::try_from(n).ok().map(Ipv4Addr::from)
}

/// Why `s` is not a DNS name gen accepts, if so.
fn why_not_dns_name(s: &str) -> Option<&'static str> {
    let labels: Vec<&str> = s.split('.').collect();
    if s.is_empty() {
        Some("it is empty")
    } else if s.len() > 253 {
        Some("a DNS name has at most 253 characters")
    } else if s.bytes().all(|b| b.is_ascii_digit() || b == b'.') {
        Some("an IPv4 address is four decimal numbers from 0 to 255, without leading zeros")
    } else if labels.iter().any(|l| l.is_empty()) {
        Some("a DNS name has no empty part (no leading, trailing or double `.`)")
    } else if labels.iter().any(|l| l.len() > 63) {
        Some("each part of a DNS name has at most 63 characters")
    } else if !s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.') {
        Some("a DNS name has only letters, digits, `-` and `.`")
    } else if labels.iter().any(|l| l.starts_with('-') || l.ends_with('-')) {
        Some("no part of a DNS name starts or ends with `-`")
    } else if labels.last().is_some_and(|l| l.bytes().all(|b| b.is_ascii_digit())) {
        Some("the last part of a DNS name is not all digits")
    } else {
        None
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: &str = "AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy";

    #[test]
    fn an_address_is_a_dotted_quad_or_a_dns_name() {
        for ok in ["192.168.1.10", "127.0.0.1", "vmhost1", "VMHost1.lan", "a-b.example.org", "1a"] {
            assert_eq!(Address::parse(ok).map(|a| a.to_string()), Ok(ok.to_string()));
        }
        for bad in [
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "239.1.1.1",
            "240.0.0.1",
            "1.2.3.256",
            "1.2.3.4.5",
            "host.",
            ".host",
            "a..b",
            "-host",
            "host-",
            "a_b",
            "host:22",
            "[::1]",
            "user@host",
            "h.123",
            "",
        ] {
            assert!(
                matches!(Address::parse(bad), Err(Problem::BadAddress { .. })),
                "{bad}: {:?}",
                Address::parse(bad)
            );
        }
    }

    #[test]
    fn what_a_resolver_reads_as_another_address_is_refused_with_that_address() {
        for (form, ip) in [
            ("0xc0a80115", "192.168.1.21"),
            ("0x7f.1", "127.0.0.1"),
            ("3232235797", "192.168.1.21"),
            ("192.168.001.10", "192.168.1.10"),
            ("010.1.1.1", "8.1.1.1"),
            ("1.2.3", "1.2.0.3"),
            ("0XC0.0xA8.1.0x15", "192.168.1.21"),
        ] {
            assert_eq!(
                Address::parse(form),
                Err(Problem::AddressReadAsIpv4 { value: form.into(), ip: ip.into() }),
                "{form}"
            );
        }
        // Not numbers to inet_aton, so a resolver asks DNS: a name.
        assert!(Address::parse("0x1g").is_ok());
        assert!(matches!(Address::parse("08.1.1.1"), Err(Problem::BadAddress { .. })));
    }

    #[test]
    fn a_host_key_is_taken_as_users_paste_it_and_kept_as_type_and_key() {
        let want = format!("ssh-ed25519 {KEY}");
        for pasted in [
            format!("ssh-ed25519 {KEY}"),
            format!("ssh-ed25519 {KEY} root@vmhost1"),
            format!("ssh-ed25519 {KEY} a comment with spaces"),
            format!("192.168.1.10 ssh-ed25519 {KEY}"),
            format!("[vmhost1]:2222,192.168.1.10 ssh-ed25519 {KEY}\n"),
            format!("  ssh-ed25519\t{KEY}  "),
        ] {
            assert_eq!(
                HostKey::parse(&pasted).map(|k| k.to_string()),
                Ok(want.clone()),
                "{pasted}"
            );
        }
        for (bad, why) in [
            ("ssh-ed25519 AAAAAAAAAAAAAAAA".to_string(), "does not decode to a `ssh-ed25519` key"),
            (format!("ssh-rsa {KEY}"), "the key is an `ssh-ed25519` key, not `ssh-rsa`"),
            (format!("@revoked vmhost1 ssh-ed25519 {KEY}"), "marked `@revoked`"),
            (format!("ssh-dss {KEY}"), "`ssh-dss` is not a key type"),
            ("vmhost1 ssh-ed25519".to_string(), "the base64 key after `ssh-ed25519` is missing"),
            (KEY.to_string(), "expected `TYPE BASE64`"),
            (format!("ssh-ed25519 {KEY} \u{1b}[2J"), "control character"),
        ] {
            match HostKey::parse(&bad) {
                Err(Problem::BadKey { why: got, host: true, .. }) => {
                    assert!(got.contains(why), "{bad}: {got}");
                }
                other => panic!("{bad}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_authorized_key_is_decoded_too() {
        let line = format!("ssh-ed25519 {KEY} me@laptop");
        assert_eq!(AuthorizedKey::parse(&line).map(|k| k.to_string()), Ok(line));
        assert!(matches!(
            AuthorizedKey::parse("ssh-ed25519 AAAAAAAAAAAAAAAA me@laptop"),
            Err(Problem::BadKey { host: false, .. })
        ));
    }
}
