//! Where `gen apply` reaches a server: an address held to what ssh, rsync and the resolver
//! behind them read as that one machine.

use std::fmt;
use std::net::Ipv4Addr;
use std::ops::Deref;
use std::str::FromStr;

use crate::problem::Problem;

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
