//! Everything that can be wrong with a `site.toml`, and what to do about it.
//!
//! Each variant is one rule. `Display` says what is wrong in the user's words; `fix` says what to
//! change; both are in `problem/text.rs`. The location (file, line, column, key) is added by
//! `error::Diagnostic`, so messages never repeat it.

use std::sync::Arc;

use crate::suggest;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    /// The file is not TOML.
    Syntax {
        message: String,
    },
    /// A key set twice in one table; the excerpt shows where it was set first, when known.
    DuplicateKey {
        key: String,
    },
    /// The file is not UTF-8 text, as TOML must be.
    NotUtf8 {
        byte: u8,
        offset: usize,
    },
    /// An optional table, like `metallb`, written as a switch.
    TableAsSwitch {
        name: &'static str,
        off: bool,
        example: &'static str,
    },
    UnknownKey {
        suggestion: Option<String>,
        allowed: Vec<&'static str>,
    },
    WrongType {
        expected: &'static str,
        found: &'static str,
    },
    Missing {
        what: &'static str,
    },
    /// A name that must be an RFC 1123 label (DNS name, hostname, unit and VM name part).
    NotALabel {
        value: String,
        why: &'static str,
    },
    /// A value outside the grammar its consumer accepts.
    BadSyntax {
        value: String,
        expected: &'static str,
    },
    NotAnIpv4 {
        value: String,
    },
    /// An ssh public key whose base64 is not a key of its type; `host` for `host_key`, else an
    /// authorized key.
    BadKey {
        value: String,
        why: String,
        host: bool,
    },
    /// A host address that is neither a usable IPv4 address nor a DNS name.
    BadAddress {
        value: String,
        why: &'static str,
    },
    /// A host address that is not a dotted quad but that a resolver reads as the IPv4 address
    /// `ip` (`0xc0a80115`, `0x7f.1`).
    AddressReadAsIpv4 {
        value: String,
        ip: String,
    },
    NotACidr {
        value: String,
    },
    CidrHasHostBits {
        value: String,
        network: String,
    },
    CidrTooSmall {
        value: String,
    },
    CidrOverlaps {
        cidr: String,
        other: &'static str,
        other_cidr: &'static str,
    },
    OutOfRange {
        value: i64,
        min: i64,
        max: i64,
        /// Where the bounds come from, when they are not the type's own.
        why: Option<&'static str>,
    },
    /// A control-plane node with fewer CPUs than kubeadm's preflight requires.
    TooFewCpus {
        value: u32,
        min: u32,
    },
    NotInNetwork {
        ip: String,
        cidr: String,
    },
    ReservedAddress {
        ip: String,
        what: &'static str,
    },
    DuplicateAddress {
        ip: String,
        other: String,
    },
    /// Made by [`Problem::unknown_host`], which decides the suggestion once; `known` is
    /// shared, so 10,000 nodes on a misspelt host hold one list of the hosts, not 10,000.
    UnknownHost {
        name: String,
        meant: Option<String>,
        known: Arc<[String]>,
    },
    UnknownRole {
        value: String,
    },
    /// A node name the inventory already uses for something else.
    ReservedName {
        value: String,
        meaning: &'static str,
    },
    UnknownRelease {
        value: String,
        known: Vec<&'static str>,
    },
    UnsupportedKubeVersion {
        value: String,
        release: &'static str,
        newest: &'static str,
        oldest: &'static str,
    },
    UnsupportedChoice {
        value: String,
        release: &'static str,
        allowed: &'static [&'static str],
    },
    NoControlPlane,
    EvenEtcd {
        count: usize,
    },
    MemoryTooLow {
        value: u32,
        min: u32,
        role: &'static str,
        release: &'static str,
    },
    EmptyList,
    BadRange {
        value: String,
    },
    RangeOutsideNetwork {
        range: String,
        cidr: String,
    },
    RangeOverlaps {
        range: String,
        ip: String,
        what: String,
    },
    /// A value that is not one of the few a key takes (`provider`, `libvirt_driver`).
    UnknownChoice {
        value: String,
        allowed: &'static [&'static str],
    },
    /// `libvirt_driver` on a host whose provider is VirtualBox.
    DriverWithoutLibvirt,
    /// The LAN overlaps the NAT network vagrant-libvirt gives every VM (`libvirt.rs`).
    OverlapsManagementNetwork {
        host: String,
        management: &'static str,
    },
}

impl Problem {
    /// A node or command names a host `[hosts]` does not have. The suggestion is looked up
    /// here, once per name, not each time the message is written.
    pub fn unknown_host(name: &str, known: Arc<[String]>) -> Problem {
        let meant = suggest::closest(name, &known).map(str::to_string);
        Problem::UnknownHost { name: name.to_string(), meant, known }
    }
}

impl Problem {
    /// Whether the file could not be read as TOML at all; such a problem comes alone.
    pub fn is_syntax(&self) -> bool {
        matches!(
            self,
            Problem::Syntax { .. } | Problem::DuplicateKey { .. } | Problem::NotUtf8 { .. }
        )
    }

    /// The label of the earlier place an excerpt shows besides the offending one.
    pub fn context_label(&self) -> Option<&'static str> {
        match self {
            Problem::DuplicateKey { .. } => Some("first set here"),
            _ => None,
        }
    }
}

mod text;
