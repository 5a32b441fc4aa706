//! Unit tests of the grammars: what each type takes and what it refuses.

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
        assert_eq!(HostKey::parse(&pasted).map(|k| k.to_string()), Ok(want.clone()), "{pasted}");
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
