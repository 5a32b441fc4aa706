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
//!
//! `session/link.rs` is how ssh and rsync reach a server, `session/call.rs` what gen asks of
//! `remote.sh`, and `session/failure.rs` why ssh failed, in gen's words.

mod call;
mod failure;
mod link;

use std::io::{BufReader, Read as _, Write as _};
use std::process::{Child, ChildStdin, ChildStdout, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::error::{Error, Result};
use crate::quote;
use crate::tree::sha256_hex;

/// The functions the control session calls.
const LIBRARY: &str = include_str!("remote.sh");

/// How long a closed session may take to end before its ssh is killed.
const CLOSE_GRACE: Duration = Duration::from_secs(10);

pub(crate) use call::Call;
pub use link::CONFIG_VARIABLE;
pub(crate) use link::Link;

use failure::{connection_error, spawn_error};

impl Link<'_> {
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
        // The last update of a progress meter, which a meter that redraws more often than its
        // figure changes (vagrant-libvirt's upload: some 1,500 times for 100 figures) repeats.
        let mut update = String::new();
        loop {
            bytes.clear();
            match read_segment(&mut self.stdout, &mut bytes) {
                Ok(0) | Err(_) => return Err(self.lost()),
                Ok(_) => {}
            }
            let line = String::from_utf8_lossy(&bytes);
            // A progress meter (Vagrant's download, `vagrant box add`) rewrites its line with
            // `\r` and an ANSI "erase line": each update is shown as a line as it comes, once.
            let line = line.trim_end_matches(['\n', '\r']).trim_start_matches("\x1b[K");
            let cr = bytes.last() == Some(&b'\r');
            // `\r\n` ends one line, not two; a bare `\r` between updates ends none.
            if line.is_empty() && (cr || std::mem::replace(&mut after_cr, cr)) {
                continue;
            }
            after_cr = cr;
            if cr && line == update {
                continue;
            }
            update.clear();
            if cr {
                update.push_str(line);
            }
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
mod tests;
