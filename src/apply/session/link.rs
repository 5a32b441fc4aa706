//! How ssh and rsync reach one server: the options gen adds to the user's own configuration,
//! with a known_hosts file that holds only the key pinned in `site.toml`, and the paths they are
//! given, which must be plain words.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::failure::{connection_error, spawn_error};
use crate::error::{Error, Result};
use crate::site::Host;

/// Names an ssh_config file used instead of `~/.ssh/config`: for tests and unusual setups.
pub const CONFIG_VARIABLE: &str = "GEN_SSH_CONFIG";

/// How long ssh may take to connect, and how long a silent server may take to answer a
/// keepalive before ssh gives up: a dead link must end a session, not hang it.
const CONNECT_SECONDS: u32 = 15;
const KEEPALIVE_SECONDS: u32 = 15;
const KEEPALIVE_MISSES: u32 = 4;

/// How ssh reaches one server: its options, with a known_hosts file that lives as long as this.
pub(crate) struct Link<'a> {
    pub host: &'a Host,
    pub(super) options: Vec<String>,
    _known_hosts: tempfile::TempDir,
}

impl<'a> Link<'a> {
    pub(crate) fn new(host: &'a Host) -> Result<Link<'a>> {
        let dir = plain_tempdir()?;
        let known_hosts = dir.path().join("known_hosts");
        let name = known_hosts_name(host);
        std::fs::write(&known_hosts, format!("{name} {}\n", host.host_key))
            .map_err(|e| Error::io(&known_hosts, "write", e))?;
        let mut options = Vec::new();
        if let Some(config) = std::env::var_os(CONFIG_VARIABLE).filter(|c| !c.is_empty()) {
            let config = PathBuf::from(config);
            let word = plain_word(&config)
                .ok_or(Error::SshPath { path: config.clone(), what: CONFIG_VARIABLE })?;
            options.extend(["-F".to_string(), word]);
        }
        let known_hosts = plain_word(&known_hosts).expect("plain_tempdir gives a plain path");
        for option in [
            "BatchMode=yes".to_string(),
            "StrictHostKeyChecking=yes".to_string(),
            format!("UserKnownHostsFile={known_hosts}"),
            "GlobalKnownHostsFile=/dev/null".to_string(),
            // The key is looked up under this name whatever the user's config says the host is.
            format!("HostKeyAlias={name}"),
            "CheckHostIP=no".to_string(),
            "UpdateHostKeys=no".to_string(),
            "ControlMaster=no".to_string(),
            "ControlPath=none".to_string(),
            format!("ConnectTimeout={CONNECT_SECONDS}"),
            format!("ServerAliveInterval={KEEPALIVE_SECONDS}"),
            format!("ServerAliveCountMax={KEEPALIVE_MISSES}"),
        ] {
            options.extend(["-o".to_string(), option]);
        }
        options.extend(["-p".to_string(), host.port.to_string()]);
        Ok(Link { host, options, _known_hosts: dir })
    }

    /// `user@address`, as ssh and rsync take it.
    pub(super) fn destination(&self) -> String {
        format!("{}@{}", self.host.user, self.host.address)
    }

    /// Copies the folder `source` into `dest` on the server: unchanged files are hard-linked
    /// from `link_dest` (an absolute path there) rather than sent. Returns how many files were
    /// sent.
    pub(crate) fn rsync(
        &self,
        source: &Path,
        dest: &str,
        link_dest: Option<&str>,
    ) -> Result<usize> {
        let mut shell = vec!["ssh".to_string()];
        shell.extend(self.options.iter().cloned());
        let mut command = Command::new("rsync");
        // Content and mode are a tree's identity; times and owners are not, so rsync compares
        // checksums and a file is linked exactly when it is the same file.
        command.args(["--recursive", "--perms", "--checksum", "--chmod=D755", "--itemize-changes"]);
        if let Some(link_dest) = link_dest {
            command.arg(format!("--link-dest={link_dest}"));
        }
        let mut source = std::path::absolute(source).map_err(|e| Error::io(source, "read", e))?;
        source.push("");
        command
            .arg("-e")
            .arg(shell.join(" "))
            .arg("--")
            .arg(&source)
            .arg(format!("{}:{dest}/", self.destination()));
        crate::verbosity::command(&command);
        let output = command.stdin(Stdio::null()).output().map_err(|e| spawn_error("rsync", e))?;
        let stderr = String::from_utf8_lossy(&output.stderr);
        if !output.status.success() {
            return Err(connection_error(self.host, &stderr)
                .unwrap_or_else(|| self.remote_error("sending the files with rsync", &stderr)));
        }
        let stdout = String::from_utf8_lossy(&output.stdout);
        Ok(stdout.lines().filter(|l| l.starts_with("<f")).count())
    }

    pub(super) fn remote_error(&self, step: &'static str, output: &str) -> Error {
        Error::Remote { host: self.host.name.to_string(), step, output: output.trim().to_string() }
    }
}

/// The name ssh looks the host key up under: `[address]:port`, or the bare address on port 22,
/// as OpenSSH itself writes known_hosts.
pub(crate) fn known_hosts_name(host: &Host) -> String {
    if host.port == 22 {
        host.address.to_string()
    } else {
        format!("[{}]:{}", host.address, host.port)
    }
}

/// ssh splits some option values at spaces and rsync splits `-e` at spaces: a path gen passes
/// must be one plain word.
pub(super) fn plain_word(path: &Path) -> Option<String> {
    let text = path.to_str()?;
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"/._-+,=@%:".contains(&b);
    (!text.is_empty() && text.bytes().all(plain)).then(|| text.to_string())
}

/// A private temporary folder with a plain path: `$TMPDIR` if it is plain, else `/tmp`.
fn plain_tempdir() -> Result<tempfile::TempDir> {
    let base = std::env::temp_dir();
    let base = if plain_word(&base).is_some() { base } else { PathBuf::from("/tmp") };
    let dir = tempfile::Builder::new()
        .prefix("gen-ssh-")
        .tempdir_in(&base)
        .map_err(|e| Error::io(&base, "create a folder in", e))?;
    if plain_word(dir.path()).is_none() {
        return Err(Error::SshPath {
            path: dir.path().to_path_buf(),
            what: "the temporary folder",
        });
    }
    Ok(dir)
}
