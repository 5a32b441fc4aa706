//! The transport: the system's `ssh` and `rsync`, trusting only the host key in `site.toml`, and
//! the control session through which gen drives `remote.sh` on a server.
//!
//! Using the system's ssh keeps the user's agent, identities and jump hosts working. What gen
//! adds overrides the user's configuration (options on the command line win over config files):
//! a known_hosts file written for the call with the pinned key, strict checking, no prompts, and
//! no connection sharing, because a shared master connection was verified against some other
//! known_hosts. `GEN_SSH_CONFIG` names an ssh_config to read instead of `~/.ssh/config` (`-F`).
//!
//! One session per server runs `sh -s`: gen first sends `remote.sh`, then one request a line,
//! and reads each reply up to a marker carrying a random nonce and the status. The session holds
//! the server's lock for as long as it is open, and a dead gen closes it: its ssh sees end of
//! input, the remote shell exits, the lock is released. rsync runs beside it on its own
//! connection.

use std::io::{BufReader, Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::quote;
use crate::site::Host;
use crate::tree::sha256_hex;

/// The functions the control session calls.
const LIBRARY: &str = include_str!("remote.sh");

/// Names an ssh_config file used instead of `~/.ssh/config`: for tests and unusual setups.
pub const CONFIG_VARIABLE: &str = "GEN_SSH_CONFIG";

/// How long ssh may take to connect, and how long a silent server may take to answer a
/// keepalive before ssh gives up: a dead link must end a session, not hang it.
const CONNECT_SECONDS: u32 = 15;
const KEEPALIVE_SECONDS: u32 = 15;
const KEEPALIVE_MISSES: u32 = 4;
/// How long a closed session may take to end before its ssh is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

/// How ssh reaches one server: its options, with a known_hosts file that lives as long as this.
pub(crate) struct Link<'a> {
    pub host: &'a Host,
    options: Vec<String>,
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
    fn destination(&self) -> String {
        format!("{}@{}", self.host.user, self.host.address)
    }

    /// Opens the control session and checks that the server has `tools`.
    pub(crate) fn open(&self, tools: &[&str]) -> Result<Session<'_>> {
        let mut command = Command::new("ssh");
        command.args(&self.options).args(["-T", &self.destination(), "sh -s"]);
        crate::verbosity::command(&command);
        let mut child = command
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| spawn_error("ssh", e))?;
        let stdin = child.stdin.take().expect("piped");
        let stdout = BufReader::new(child.stdout.take().expect("piped"));
        let mut stderr = child.stderr.take().expect("piped");
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let mut session = Session {
            link: self,
            child,
            stdin: Some(stdin),
            stdout,
            stderr: Some(stderr),
            nonce: nonce(),
            established: false,
        };
        let preamble = format!("root={}\n{LIBRARY}\n", quote::sh(&self.host.root));
        session.send(&preamble)?;
        let reply = session.call(&Call::Hello(tools), &mut |_| {})?;
        session.established = true;
        if reply.status != 0 {
            let said = reply.lines.concat();
            let tools = said.split_whitespace().skip(1).map(String::from).collect();
            return Err(Error::ServerLacks { host: self.host.name.to_string(), tools });
        }
        Ok(session)
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

    fn remote_error(&self, step: &'static str, output: &str) -> Error {
        Error::Remote { host: self.host.name.to_string(), step, output: output.trim().to_string() }
    }
}

/// A request to `remote.sh`: each function it defines, with its arguments, typed.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Call<'c> {
    /// Fails naming the tools the server lacks.
    Hello(&'c [&'c str]),
    /// Links, generations and VMs; the argument is the unit prefix (`<cluster>-vm@`).
    State(&'c str),
    /// Says `busy` while another session holds the lock.
    Busy,
    /// `MODE SHA256  ./PATH` for each file of a folder under the root.
    Listing(&'c str),
    /// The `machines.toml` of a generation.
    Facts(&'c str),
    /// An empty staging folder for this id.
    Stage(&'c str),
    /// The staged folder `id` becomes the generation `hash`.
    Commit { id: &'c str, hash: &'c str },
    /// The generation becomes current.
    Switch(&'c str),
    /// Marks the apply as under way.
    Begin,
    /// One step of the plan, run by the generation's `apply.sh`.
    Step { hash: &'c str, step: &'c str, node: Option<&'c str> },
    /// Records the generation as applied, from this git commit.
    Finish { hash: &'c str, commit: Option<&'c str> },
    /// Removes generations.
    Drop(&'c [&'c str]),
    /// Asks sudo whether each command line may run as root without a password.
    May(&'c [&'c str]),
}

impl Call<'_> {
    fn function(&self) -> &'static str {
        match self {
            Call::Hello(_) => "hello",
            Call::State(_) => "state",
            Call::Busy => "busy",
            Call::Listing(_) => "listing",
            Call::Facts(_) => "facts",
            Call::Stage(_) => "stage",
            Call::Commit { .. } => "commit",
            Call::Switch(_) => "switch",
            Call::Begin => "begin",
            Call::Step { .. } => "step",
            Call::Finish { .. } => "finish",
            Call::Drop(_) => "drop",
            Call::May(_) => "may",
        }
    }

    fn args(&self) -> Vec<&str> {
        match *self {
            Call::Hello(tools) | Call::Drop(tools) | Call::May(tools) => tools.to_vec(),
            Call::State(a)
            | Call::Listing(a)
            | Call::Facts(a)
            | Call::Stage(a)
            | Call::Switch(a) => {
                vec![a]
            }
            Call::Busy | Call::Begin => Vec::new(),
            Call::Commit { id, hash } => vec![id, hash],
            Call::Step { hash, step, node } => {
                [Some(hash), Some(step), node].into_iter().flatten().collect()
            }
            Call::Finish { hash, commit } => [Some(hash), commit].into_iter().flatten().collect(),
        }
    }

    /// What the call does, in an error's words.
    pub(crate) fn what(&self) -> &'static str {
        match self {
            Call::Hello(_) => "checking the server's tools",
            Call::State(_) => "reading the generations",
            Call::Busy => "asking about the lock",
            Call::Listing(_) => "listing a generation",
            Call::Facts(_) => "reading a generation's machines.toml",
            Call::Stage(_) => "preparing a staging folder",
            Call::Commit { .. } => "naming the new generation",
            Call::Switch(_) => "making the generation current",
            Call::Begin => "marking the apply as under way",
            Call::Step { .. } => "running a step of the plan",
            Call::Finish { .. } => "recording the generation as applied",
            Call::Drop(_) => "removing old generations",
            Call::May(_) => "asking sudo what this user may run as root",
        }
    }
}

/// What a request printed, line by line, and its exit status.
pub(crate) struct Reply {
    pub status: i32,
    pub lines: Vec<String>,
}

/// A `sh -s` on the server reading gen's requests. Dropping it ends it.
pub(crate) struct Session<'a> {
    link: &'a Link<'a>,
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    stderr: Option<JoinHandle<String>>,
    nonce: String,
    /// The remote shell answered once: a failure from now on is not about reaching the server.
    established: bool,
}

impl Session<'_> {
    /// Runs one of `remote.sh`'s functions, passing each line it prints to `on_line` as it
    /// arrives.
    pub(crate) fn call(&mut self, call: &Call, on_line: &mut dyn FnMut(&str)) -> Result<Reply> {
        let mut request = format!("call {} {}", self.nonce, call.function());
        for arg in call.args() {
            request.push(' ');
            request.push_str(&quote::sh(arg));
        }
        request.push('\n');
        self.send(&request)?;
        self.reply(on_line)
    }

    /// Like `call`, but a failure is an error naming what the call does.
    pub(crate) fn must(&mut self, call: &Call) -> Result<Vec<String>> {
        let reply = self.call(call, &mut |_| {})?;
        if reply.status != 0 {
            return Err(self.link.remote_error(call.what(), &reply.lines.join("\n")));
        }
        Ok(reply.lines)
    }

    /// Takes the server's lock, calling `waiting` if another session holds it.
    pub(crate) fn lock(&mut self, waiting: &mut dyn FnMut()) -> Result<()> {
        // Not through `call`: the lock must be taken by the session's shell itself.
        self.send(&format!("lock; printf '%s %s\\n' {} \"$?\"\n", self.nonce))?;
        let reply = self.reply(&mut |line| {
            if line == "waiting" {
                waiting();
            }
        })?;
        if reply.status != 0 {
            let output = reply.lines.join("\n");
            return Err(self.link.remote_error("taking the lock", &output));
        }
        Ok(())
    }

    /// Ends the session cleanly: end of input makes the remote shell exit, releasing the lock.
    pub(crate) fn close(mut self) {
        self.stdin = None;
        // A daemon that an entrypoint started could hold the session's output open; then ssh
        // would never exit, and gen does not wait for it.
        let deadline = Instant::now() + CLOSE_GRACE;
        while let Ok(None) = self.child.try_wait() {
            if Instant::now() > deadline {
                let _ = self.child.kill();
                let _ = self.child.wait();
                break;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    fn send(&mut self, text: &str) -> Result<()> {
        let stdin = self.stdin.as_mut().expect("open until closed");
        if stdin.write_all(text.as_bytes()).and_then(|()| stdin.flush()).is_err() {
            return Err(self.lost());
        }
        Ok(())
    }

    fn reply(&mut self, on_line: &mut dyn FnMut(&str)) -> Result<Reply> {
        let mut lines = Vec::new();
        let mut bytes = Vec::new();
        let mut after_cr = false;
        loop {
            bytes.clear();
            match read_segment(&mut self.stdout, &mut bytes) {
                Ok(0) | Err(_) => return Err(self.lost()),
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&bytes);
            // A progress meter (Vagrant's download, `vagrant box add`) rewrites its line with
            // `\r` and an ANSI "erase line": each update is shown as a line as it comes.
            let line = line.trim_end_matches(['\n', '\r']).trim_start_matches("\x1b[K");
            let cr = bytes.last() == Some(&b'\r');
            // `\r\n` ends one line, not two; a bare `\r` between updates ends none.
            if line.is_empty() && (cr || std::mem::replace(&mut after_cr, cr)) {
                continue;
            }
            after_cr = cr;
            if let Some(at) = line.find(&self.nonce) {
                // Output that did not end with a newline shares the marker's line.
                if at > 0 {
                    on_line(&line[..at]);
                    lines.push(line[..at].to_string());
                }
                let status = line[at + self.nonce.len()..].trim().parse().unwrap_or(-1);
                return Ok(Reply { status, lines });
            }
            on_line(line);
            lines.push(line.to_string());
        }
    }

    /// The session ended under gen: say why, in ssh's words when it has them.
    fn lost(&mut self) -> Error {
        self.stdin = None;
        let _ = self.child.wait();
        let stderr = self.stderr.take().and_then(|t| t.join().ok()).unwrap_or_default();
        let host = self.link.host;
        if !self.established {
            if let Some(e) = connection_error(host, &stderr) {
                return e;
            }
        }
        self.link.remote_error("the ssh session", &format!("the connection closed\n{stderr}"))
    }
}

/// Reads up to and including the next `\n` or `\r`, as `read_until` does for one byte.
fn read_segment(reader: &mut impl std::io::BufRead, bytes: &mut Vec<u8>) -> std::io::Result<usize> {
    let mut read = 0;
    loop {
        let buf = reader.fill_buf()?;
        if buf.is_empty() {
            return Ok(read);
        }
        if let Some(at) = buf.iter().position(|b| matches!(b, b'\n' | b'\r')) {
            bytes.extend_from_slice(&buf[..=at]);
            reader.consume(at + 1);
            return Ok(read + at + 1);
        }
        let n = buf.len();
        bytes.extend_from_slice(buf);
        reader.consume(n);
        read += n;
    }
}

impl Drop for Session<'_> {
    fn drop(&mut self) {
        if self.stdin.take().is_some() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// ssh's own complaints (exit 255) in gen's words; `None` when ssh got through.
fn connection_error(host: &Host, stderr: &str) -> Option<Error> {
    let name = host.name.to_string();
    let detail = stderr
        .lines()
        .map(str::trim)
        .rfind(|l| !l.is_empty() && !l.starts_with('@'))
        .unwrap_or("ssh failed without saying why")
        .to_string();
    if stderr.contains("Host key verification failed")
        || stderr.contains("REMOTE HOST IDENTIFICATION HAS CHANGED")
    {
        return Some(Error::HostKey {
            host: name,
            address: host.address.to_string(),
            port: host.port,
        });
    }
    if stderr.contains("Permission denied") || stderr.contains("Too many authentication failures") {
        return Some(Error::Login {
            host: name,
            user: host.user.to_string(),
            address: host.address.to_string(),
            port: host.port,
            detail,
        });
    }
    let unreachable = [
        "Connection refused",
        "Connection timed out",
        "timed out",
        "No route to host",
        "Network is unreachable",
        "Could not resolve hostname",
        "Name or service not known",
        "Connection closed by",
        "Connection reset",
        "kex_exchange_identification",
    ];
    if unreachable.iter().any(|u| stderr.contains(u)) {
        return Some(Error::Unreachable {
            host: name,
            user: host.user.to_string(),
            address: host.address.to_string(),
            port: host.port,
            detail,
        });
    }
    None
}

fn spawn_error(tool: &'static str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::MissingTool { tool }
    } else {
        Error::io(tool, "run", e)
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
fn plain_word(path: &Path) -> Option<String> {
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

/// A marker no output can contain by chance, and a name for a staging folder.
pub(crate) fn nonce() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let time = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!(
        "{}:{time}:{:?}:{}",
        std::process::id(),
        std::thread::current().id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    format!("gen-{}", &sha256_hex(seed.as_bytes())[..24])
}

#[cfg(test)]
mod tests {
    use super::*;
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
}
