//! Why ssh or rsync failed, in gen's words: ssh's own complaints about the host key, the login
//! or the network, and a tool that is not installed.

use crate::error::Error;
use crate::site::Host;

/// ssh's own complaints (exit 255) in gen's words; `None` when ssh got through.
pub(super) fn connection_error(host: &Host, stderr: &str) -> Option<Error> {
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

pub(super) fn spawn_error(tool: &'static str, e: std::io::Error) -> Error {
    if e.kind() == std::io::ErrorKind::NotFound {
        Error::MissingTool { tool }
    } else {
        Error::io(tool, "run", e)
    }
}
