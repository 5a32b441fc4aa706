//! The JSON that `gen status --json` and `gen apply --dry-run --json` print, for scripts and CI:
//! these types are the shape, and the README's "JSON output" shows it. `format` is 1; a field is
//! only ever added to format 1, and removing or changing one makes format 2. Every field is
//! always present (`null` when there is nothing to say), so a script never has to ask whether a
//! key exists. Hashes are full 64-digit tree hashes.

use serde::Serialize;

/// The version of the shape.
pub const FORMAT: u32 = 1;

/// `gen status --json`.
#[derive(Debug, Serialize)]
pub struct Status {
    pub format: u32,
    /// `out/` is not what the site file gives; servers were compared with a fresh build.
    pub stale: bool,
    /// The servers asked, in the site file's order.
    pub servers: Vec<ServerStatus>,
}

/// One server in `gen status --json`.
#[derive(Debug, Serialize)]
pub struct ServerStatus {
    pub name: String,
    pub address: String,
    /// `up-to-date`, `behind`, `unfinished`, `never-applied`, `unreachable`, `wrong-host-key`,
    /// `login-refused` or `failed`: `gen status`'s words, with hyphens.
    pub standing: String,
    /// What `gen status` prints after the standing.
    pub detail: String,
    /// The generation current there; `null` if none or the server could not be read.
    pub current: Option<String>,
    /// The generation `out/` holds for it.
    pub wanted: String,
    /// The git commit the current generation was applied from, if recorded.
    pub commit: Option<String>,
    /// Another apply holds the server's lock now.
    pub busy: bool,
    /// Every VM the server has or `out/` gives it, by name.
    pub vms: Vec<VmStatus>,
}

/// One VM in `gen status --json`.
#[derive(Debug, Serialize)]
pub struct VmStatus {
    pub name: String,
    /// `control-plane` or `worker`: as last applied there, else as `out/` gives it.
    pub role: Option<String>,
    /// Its LAN address, chosen the same way as `role`.
    pub ip: Option<String>,
    /// `running` (its unit is active), `stopped`, `interrupted` (a step on it was cut short) or
    /// `absent` (in `out/`, not on the server yet).
    pub state: &'static str,
    /// `out/` gives this VM to this server; `false`: the next apply destroys it.
    pub wanted: bool,
}

/// `gen apply --dry-run --json`.
#[derive(Debug, Serialize)]
pub struct DryRun {
    pub format: u32,
    /// Remarks on the whole plan (a lab without etcd quorum to keep).
    pub notes: Vec<String>,
    /// The servers the apply would change, in the site file's order.
    pub servers: Vec<ServerPlan>,
}

/// One server in `gen apply --dry-run --json`.
#[derive(Debug, Serialize)]
pub struct ServerPlan {
    pub name: String,
    /// The generation current there, if any.
    pub current: Option<String>,
    /// The generation the apply would make current.
    pub wanted: String,
    /// Another apply holds the server's lock now.
    pub busy: bool,
    /// Why the server could not be planned (then `files` and `steps` are empty).
    pub error: Option<String>,
    /// The files that would be added, changed or removed there, in path order.
    pub files: Vec<FileChange>,
    /// The plan's steps on this server, in the order they would run.
    pub steps: Vec<PlanStep>,
    /// VMs the apply leaves alone.
    pub unchanged: Vec<String>,
}

/// One file of a dry run.
#[derive(Debug, Serialize)]
pub struct FileChange {
    /// `add`, `change` or `remove`.
    pub change: &'static str,
    pub path: String,
}

/// One typed step of the plan.
#[derive(Debug, Serialize)]
pub struct PlanStep {
    /// Its place in the whole plan, across servers, from 0: steps run in this order.
    pub order: usize,
    /// `send`, `switch`, `install-unit`, `retire-unit`, `keeper` (start VBoxSVC), `box` (fetch
    /// the box), `finish`, or what happens to a VM: `destroy`, `halt`, `start`, `create`,
    /// `reload`, `provision`.
    pub step: &'static str,
    /// The VM, for a VM's step.
    pub node: Option<String>,
    /// Why, for a VM's step.
    pub why: Option<String>,
}

/// The text printed: pretty, one key a line, ending in a newline.
pub fn text<T: Serialize>(value: &T) -> String {
    let mut text = serde_json::to_string_pretty(value).expect("these types always serialize");
    text.push('\n');
    text
}
