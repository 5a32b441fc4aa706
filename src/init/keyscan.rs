//! `gen init --keyscan`: each server's host key from `ssh-keyscan`, with the fingerprint the
//! user compares with the server's own before trusting it.

use std::process::{Command, Stdio};

use super::Server;
use crate::error::{Error, Result};

/// Fills in each server's host key from `ssh-keyscan`, printing its fingerprint. A server that
/// does not answer keeps a hole (and a warning), so one powered-off machine does not stop init.
pub(super) fn scan_keys(servers: &mut [Server]) -> Result<()> {
    for server in servers.iter_mut() {
        let mut command = Command::new("ssh-keyscan");
        command
            .args(["-T", "5", "-t", "ed25519,ecdsa,rsa", "-p", &server.port.to_string()])
            .arg(&server.address);
        crate::verbosity::command(&command);
        let output = command
            .stdin(Stdio::null())
            .output()
            .map_err(|_| Error::MissingTool { tool: "ssh-keyscan" })?;
        let text = String::from_utf8_lossy(&output.stdout);
        let keys: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with('#'))
            .filter_map(|l| {
                let mut words = l.split_whitespace().skip(1);
                Some(format!("{} {}", words.next()?, words.next()?))
            })
            .collect();
        let preferred = ["ssh-ed25519", "ecdsa-sha2-nistp256", "ssh-rsa"];
        let key = preferred
            .iter()
            .find_map(|kind| keys.iter().find(|k| k.split(' ').next() == Some(kind)))
            .or(keys.first());
        match key {
            Some(key) => {
                let fingerprint = fingerprint(key)?;
                println!(
                    "{} ({} port {}): {fingerprint}",
                    server.name, server.address, server.port
                );
                server.host_key = Some(key.clone());
            }
            None => crate::error::warn(&crate::error::Warning::NoHostKey {
                server: server.name.clone(),
                address: server.address.clone(),
                port: server.port,
            }),
        }
    }
    if servers.iter().any(|s| s.host_key.is_some()) {
        println!(
            "these keys came over the network: this scan is the one moment gen trusts it (trust \
             on first use).\nCompare each fingerprint with the server's own, on its console: \
             `ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`.\nFrom now on `gen apply` \
             trusts only the keys in site.toml."
        );
    }
    Ok(())
}

/// `ssh-keygen -lf` of a `type base64` key: `256 SHA256:… (ED25519)`.
fn fingerprint(key: &str) -> Result<String> {
    let dir = tempfile::tempdir().map_err(|e| Error::io(std::env::temp_dir(), "write", e))?;
    let path = dir.path().join("key.pub");
    std::fs::write(&path, format!("{key}\n")).map_err(|e| Error::io(&path, "write", e))?;
    let output = Command::new("ssh-keygen")
        .arg("-lf")
        .arg(&path)
        .stdin(Stdio::null())
        .output()
        .map_err(|_| Error::MissingTool { tool: "ssh-keygen" })?;
    let line = String::from_utf8_lossy(&output.stdout).trim().to_string();
    // `256 SHA256:… no comment (ED25519)`: the comment is the file's, not the server's.
    Ok(line.replace(" no comment ", " "))
}
