//! Unit tests of `session`: host key names, ssh's messages, plain paths and nonces.

use std::path::Path;

use super::link::{known_hosts_name, plain_word};
use super::*;
use crate::site::Host;
use crate::site::{Address, HostKey, InterfaceName, Label, RemoteRoot, UserName};

fn host(port: u16) -> Host {
    Host {
        name: Label::parse("vmhost1").unwrap(),
        address: Address::parse("192.168.1.10").unwrap(),
        port,
        user: UserName::parse("lab").unwrap(),
        bridge: InterfaceName::parse("eno1").unwrap(),
        host_key: HostKey::parse(
            "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAID6K0gt3z0GigMUFpyQDyNaE/dTt9fhvEJ1xoH+becVy",
        )
        .unwrap(),
        root: RemoteRoot::parse("/home/lab/gen/lab").unwrap(),
        provider: crate::site::Provider::VirtualBox,
    }
}

#[test]
fn known_hosts_names_follow_openssh() {
    assert_eq!(known_hosts_name(&host(22)), "192.168.1.10");
    assert_eq!(known_hosts_name(&host(2222)), "[192.168.1.10]:2222");
}

#[test]
fn ssh_messages_become_errors_naming_the_fix() {
    let h = host(22);
    let changed = "@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                   Host key verification failed.\n";
    assert!(matches!(connection_error(&h, changed), Some(Error::HostKey { .. })));
    let refused = "ssh: connect to host 192.168.1.10 port 22: Connection refused\n";
    match connection_error(&h, refused) {
        Some(Error::Unreachable { detail, .. }) => assert_eq!(detail, refused.trim()),
        other => panic!("{other:?}"),
    }
    let denied = "lab@192.168.1.10: Permission denied (publickey).\n";
    assert!(matches!(connection_error(&h, denied), Some(Error::Login { .. })));
    assert!(connection_error(&h, "sh: 1: oops\n").is_none());
}

#[test]
fn only_plain_paths_pass_as_words() {
    assert!(plain_word(Path::new("/tmp/gen-ssh-x/known_hosts")).is_some());
    assert!(plain_word(Path::new("/tmp/a b/known_hosts")).is_none());
    assert!(plain_word(Path::new("/tmp/it's")).is_none());
}

#[test]
fn nonces_differ() {
    assert_ne!(nonce(), nonce());
}
