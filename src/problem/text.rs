//! What each `Problem` says, and its fix: the one place a site problem is worded.

use std::fmt;

use super::Problem;
use crate::escape::{self, Budget, value as shown};
use crate::suggest;
use crate::wording::List;

// Both `Display` and `fix` match on every variant; they name them from this one list.
use super::Problem::{
    AddressReadAsIpv4, BadAddress, BadKey, BadRange, BadSyntax, CidrHasHostBits, CidrOverlaps,
    CidrTooSmall, DriverWithoutLibvirt, DuplicateAddress, DuplicateKey, EmptyList, EvenEtcd,
    MemoryTooLow, Missing, NoControlPlane, NotACidr, NotALabel, NotAnIpv4, NotInNetwork, NotUtf8,
    OutOfRange, OverlapsManagementNetwork, RangeOutsideNetwork, RangeOverlaps, ReservedAddress,
    ReservedName, Syntax, TableAsSwitch, TooFewCpus, UnknownChoice, UnknownHost, UnknownKey,
    UnknownRelease, UnknownRole, UnsupportedChoice, UnsupportedKubeVersion, WrongType,
};

/// A list of values for a message: `` `a`, `b` or `c` ``.
fn one_of(values: &[impl AsRef<str>]) -> String {
    // A lab of 1,000 servers would otherwise print its every host under every misspelt one.
    const SHOWN: usize = 20;
    let ticked = values.iter().take(SHOWN).map(|v| shown(v.as_ref()));
    if values.is_empty() {
        String::from("nothing")
    } else if values.len() > SHOWN {
        format!("{}, … ({} in all)", List::comma_ticked(ticked), values.len())
    } else {
        List::or_ticked(ticked).to_string()
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Syntax { message } => {
                write!(f, "not valid TOML: {}", escape::shown(message, Budget::MESSAGE))
            }
            DuplicateKey { key } => {
                write!(f, "not valid TOML: `{}` is set twice in the same table", shown(key))
            }
            NotUtf8 { byte, offset } => write!(
                f,
                "not UTF-8 text: the byte at offset {offset} (0x{byte:02x}) does not start or continue a \
                 character"
            ),
            TableAsSwitch { name, .. } => {
                write!(f, "`{name}` is a table of settings, not `true` or `false`")
            }
            UnknownKey { suggestion: Some(_), .. } => write!(f, "unknown key"),
            UnknownKey { suggestion: None, allowed } => {
                write!(f, "unknown key; expected {}", one_of(allowed))
            }
            WrongType { expected, found } => write!(f, "expected {expected}, found {found}"),
            Missing { what } => write!(f, "missing {what}"),
            NotALabel { value, why } => write!(f, "`{}` is not a valid name: {why}", shown(value)),
            BadSyntax { value, expected } => write!(f, "`{}` is not {expected}", shown(value)),
            NotAnIpv4 { value } => write!(f, "`{}` is not an IPv4 address", shown(value)),
            BadKey { value, why, host: true } => {
                write!(f, "`{}` is not an ssh host key gen can trust: {why}", shown(value))
            }
            BadKey { value, why, host: false } => {
                write!(f, "`{}` is not an ssh public key: {why}", shown(value))
            }
            BadAddress { value, why } => {
                write!(f, "`{}` is not an address gen can connect to: {why}", shown(value))
            }
            AddressReadAsIpv4 { value, ip } => write!(
                f,
                "`{}` is not a dotted-quad address or a DNS name, but a resolver reads it as \
                 `{ip}`",
                shown(value)
            ),
            NotACidr { value } => {
                write!(f, "`{}` is not an IPv4 network in CIDR notation", shown(value))
            }
            CidrHasHostBits { value, network } => {
                write!(
                    f,
                    "`{}` has host bits set; the network is `{}`",
                    shown(value),
                    shown(network)
                )
            }
            CidrTooSmall { value } => {
                write!(f, "`{}` has no room for a gateway and nodes", shown(value))
            }
            CidrOverlaps { cidr, other, other_cidr } => {
                write!(f, "`{}` overlaps {other} `{other_cidr}`", shown(cidr))
            }
            OutOfRange { value, min, max, why: None } => {
                write!(f, "{value} is out of range; it must be from {min} to {max}")
            }
            OutOfRange { value, min, max, why: Some(why) } => {
                write!(f, "{value} is out of range; it must be from {min} to {max}: {why}")
            }
            TooFewCpus { value, min } => write!(
                f,
                "{value} CPU is too few for a control-plane node: kubeadm's preflight check \
                 `NumCPU` requires {min}, and kubespray does not skip it"
            ),
            NotInNetwork { ip, cidr } => {
                write!(f, "`{}` is outside `network.cidr` `{}`", shown(ip), shown(cidr))
            }
            ReservedAddress { ip, what } => write!(f, "`{}` is the {what}", shown(ip)),
            DuplicateAddress { ip, other } => {
                write!(f, "`{}` is already used by `{}`", shown(ip), shown(other))
            }
            UnknownHost { name, .. } => write!(f, "no host `{}` in `[hosts]`", shown(name)),
            UnknownRole { value } => write!(f, "unknown role `{}`", shown(value)),
            ReservedName { value, meaning } => {
                write!(f, "`{}` cannot name a node: in the inventory it is {meaning}", shown(value))
            }
            UnknownRelease { value, known } => {
                write!(
                    f,
                    "gen does not know kubespray `{}`; it knows {}",
                    shown(value),
                    one_of(known)
                )
            }
            UnsupportedKubeVersion { value, release, oldest, newest } => write!(
                f,
                "kubespray {release} cannot install Kubernetes `{}`; it supports \
                 {oldest} to {newest}",
                shown(value)
            ),
            UnsupportedChoice { value, release, allowed } => {
                write!(
                    f,
                    "kubespray {release} does not accept `{}`; it accepts {}",
                    shown(value),
                    one_of(allowed)
                )
            }
            NoControlPlane => write!(f, "no node has role `control-plane`"),
            EvenEtcd { count } => write!(
                f,
                "{count} control-plane nodes make an etcd cluster of {count}; etcd needs an odd \
                 number of members to keep quorum, and kubespray refuses an even one"
            ),
            MemoryTooLow { value, min, role, release } => write!(
                f,
                "{value} MiB is too little for a {role}: kubespray {release} requires {min} MiB \
                 as seen by the guest kernel"
            ),
            EmptyList => write!(f, "the list is empty"),
            BadRange { value } => {
                write!(f, "`{}` is not an address range `FIRST-LAST` or a CIDR", shown(value))
            }
            RangeOutsideNetwork { range, cidr } => {
                write!(f, "`{}` is not inside `network.cidr` `{}`", shown(range), shown(cidr))
            }
            RangeOverlaps { range, ip, what } => {
                write!(
                    f,
                    "`{}` contains `{}`, the address of {}",
                    shown(range),
                    shown(ip),
                    shown(what)
                )
            }
            UnknownChoice { value, allowed } => {
                write!(f, "`{}` is not one of {}", shown(value), one_of(allowed))
            }
            DriverWithoutLibvirt => {
                write!(f, "`libvirt_driver` is only read when `provider = \"libvirt\"`")
            }
            OverlapsManagementNetwork { host, management } => write!(
                f,
                "`network.cidr` overlaps `{management}`, the NAT network vagrant-libvirt gives \
                 every VM of `{}`: the guests could not tell the LAN from it",
                shown(host)
            ),
        }
    }
}

/// The roles a node can have, as `site.toml` spells them.
const ROLES: &[&str] = &["control-plane", "worker"];

impl Problem {
    /// What to change, in one line; `None` where the message already says it.
    pub fn fix(&self) -> Option<String> {
        Some(match self {
            Syntax { .. } => return None,
            DuplicateKey { .. } => "keep one of the two, or merge what they say into one".into(),
            NotUtf8 { .. } => "save the file as UTF-8 (TOML files are UTF-8 text)".into(),
            TableAsSwitch { name, off: true, .. } => {
                format!("remove the `{name}` key: without it, {name} is off")
            }
            TableAsSwitch { name, off: false, example } => {
                format!("to turn {name} on, write `{name} = {example}`")
            }
            UnknownKey { suggestion: Some(s), .. } => format!("did you mean `{}`?", shown(s)),
            UnknownKey { .. } => "remove it; the site.toml reference is in the README".into(),
            WrongType { .. } => return None,
            Missing { .. } => "add it; the site.toml reference is in the README".into(),
            NotALabel { .. } => {
                "use 1 to 63 lowercase letters, digits and `-`, starting and ending with a \
                 letter or digit"
                    .into()
            }
            BadSyntax { .. } => return None,
            NotAnIpv4 { .. } => "write a dotted quad such as `192.168.1.21`".into(),
            BadKey { host: true, .. } => "paste the key as `ssh-keyscan -t ed25519 HOST` prints \
                 it (run it on the LAN, or read /etc/ssh/ssh_host_ed25519_key.pub on the server)"
                .into(),
            BadKey { host: false, .. } => {
                "paste the line of the key's `.pub` file (`ssh-keygen -y -f KEY` prints it)".into()
            }
            BadAddress { .. } => {
                "write the server's IPv4 address as four decimal numbers, such as \
                 `192.168.1.10`, or its DNS name, such as `vmhost1.lan`"
                    .into()
            }
            AddressReadAsIpv4 { ip, .. } => {
                format!("write `{}` if that is the server, or the server's DNS name", shown(ip))
            }
            NotACidr { .. } => "write the network as `192.168.1.0/24`".into(),
            CidrHasHostBits { network, .. } => format!("write `{}`", shown(network)),
            CidrTooSmall { .. } => "use a prefix of /29 or shorter".into(),
            CidrOverlaps { .. } => {
                "renumber the LAN, or the guests cannot tell the two networks apart".into()
            }
            OutOfRange { .. } => return None,
            TooFewCpus { min, .. } => format!("give it `cpus = {min}` or more"),
            NotInNetwork { .. } => "use an address inside the bridged LAN".into(),
            ReservedAddress { .. } | DuplicateAddress { .. } => {
                "give it a free address of the LAN".into()
            }
            UnknownHost { meant: Some(meant), .. } => format!("did you mean `{}`?", shown(meant)),
            UnknownHost { meant: None, known, .. } => format!("use one of {}", one_of(known)),
            UnknownRole { value } => match suggest::closest(value, ROLES) {
                Some(meant) => format!("did you mean `{}`?", shown(meant)),
                None => format!("use {}", one_of(ROLES)),
            },
            ReservedName { .. } => "choose another name for the node".into(),
            UnknownRelease { value, known } => match suggest::closest(value, known) {
                Some(meant) => format!("did you mean `{}`?", shown(meant)),
                None => format!(
                    "use `{}`, the newest",
                    shown(known.first().copied().unwrap_or_default())
                ),
            },
            UnsupportedKubeVersion { newest, .. } => {
                format!("use `{newest}`, or leave `kube_version` out for the release's default")
            }
            UnsupportedChoice { value, allowed, .. } => match suggest::closest(value, allowed) {
                Some(meant) => format!("did you mean `{}`?", shown(meant)),
                None => return None,
            },
            NoControlPlane => "give one node (or three) `role = \"control-plane\"`".into(),
            EvenEtcd { count } => format!("use {} or {} control-plane nodes", count - 1, count + 1),
            MemoryTooLow { min, .. } => format!(
                "give it at least {} MiB (the guest kernel keeps about {} MiB for itself)",
                min + crate::kubespray::GUEST_KERNEL_RESERVE_MB,
                crate::kubespray::GUEST_KERNEL_RESERVE_MB
            ),
            EmptyList => "list at least one value".into(),
            BadRange { .. } => "write `192.168.1.240-192.168.1.250` or `192.168.1.240/28`".into(),
            RangeOutsideNetwork { .. } | RangeOverlaps { .. } => {
                "choose a range of free LAN addresses that no node, host or gateway uses".into()
            }
            UnknownChoice { value, allowed } => match suggest::closest(value, allowed) {
                Some(meant) => format!("did you mean `{meant}`?"),
                None => format!("use {}", one_of(allowed)),
            },
            DriverWithoutLibvirt => {
                "set `provider = \"libvirt\"` on this host, or remove `libvirt_driver`".into()
            }
            OverlapsManagementNetwork { .. } => {
                "vagrant-libvirt's network is fixed at that range: the LAN must use another one"
                    .into()
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn values_print_on_one_line_and_bounded() {
        assert_eq!(shown("a\nb\u{0}"), "a\\nb\\u{0}");
        assert_eq!(shown(&"x".repeat(200)).chars().count(), 81);
        let unknown = Problem::UnknownHost {
            name: "a\u{202e}b".into(),
            meant: Some("x\u{1b}c".into()),
            known: vec![String::from("\u{2066}")].into(),
        };
        assert_eq!(unknown.to_string(), "no host `a\\u{202e}b` in `[hosts]`");
        assert_eq!(unknown.fix().as_deref(), Some("did you mean `x\\u{1b}c`?"));
    }

    #[test]
    fn lists_read_as_english() {
        assert_eq!(one_of(&["a"]), "`a`");
        assert_eq!(one_of(&["a", "b", "c"]), "`a`, `b` or `c`");
        let many: Vec<String> = (1..=1000).map(|i| format!("h{i}")).collect();
        let first: Vec<String> = many[..20].iter().map(|h| format!("`{h}`")).collect();
        assert_eq!(one_of(&many), format!("{}, … (1000 in all)", first.join(", ")));
        assert!(one_of(&many[..20]).ends_with("`h19` or `h20`"));
    }

    #[test]
    fn an_unknown_host_is_suggested_once_and_its_list_shared() {
        let known: Arc<[String]> = vec!["vmhost1".to_string(), "vmhost2".to_string()].into();
        let typo = Problem::unknown_host("vmhots1", Arc::clone(&known));
        assert_eq!(typo.fix().as_deref(), Some("did you mean `vmhost1`?"));
        let stranger = Problem::unknown_host("colour", Arc::clone(&known));
        assert_eq!(stranger.fix().as_deref(), Some("use one of `vmhost1` or `vmhost2`"));
        let Problem::UnknownHost { known: held, .. } = &typo else { unreachable!() };
        assert!(Arc::ptr_eq(held, &known), "each problem holds the one list, not a copy");
    }
}
