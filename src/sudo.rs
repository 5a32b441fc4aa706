//! The commands `apply.sh` runs as root, in one place: `render` writes them into `apply.sh`
//! (each after `sudo -n`), `gen apply` asks the server with `sudo -n -l COMMAND` whether each one
//! its plan runs is allowed before it sends anything, and the sudoers line gen names when one is
//! not (the README gives the same line) lists exactly these commands with their full paths.
//!
//! Why `sudo -n`: `gen apply` runs `apply.sh` over `ssh -T` with stdin from /dev/null, so there
//! is no terminal to read a password from; without `-n` sudo fails with "a terminal is required
//! to read the password", with `-n` it says "a password is required" (sudo(8), `-n`). Either way
//! the steps need a NOPASSWD rule, and `sudo -n -l COMMAND` (sudo(8), `-l`: "If a command is
//! specified and is permitted by the security policy, the fully-qualified path to the command is
//! displayed") says so up front: it exits 0 only when a rule allows exactly that command line,
//! and needs no password itself when any of the user's rules is NOPASSWD (sudoers(5),
//! `listpw`, default `any`).
//!
//! How sudo matches a command path (`plugins/sudoers/match_command.c`, `command_matches_normal`):
//! the base names must be equal, then (sudo 1.9.x) the canonicalized parent folders, then device
//! and inode; sudo 1.8 (Ubuntu 18.04) compares base name and device/inode only. So a rule naming
//! `/bin/systemctl` also matches `/usr/bin/systemctl` where `/bin` is a link to `usr/bin`
//! (usrmerge: every Ubuntu 22.04 and 24.04), and matches the real file on 18.04, where
//! systemctl and rm live in `/bin` and `install` in `/usr/bin`. The paths below are therefore
//! right on all three. apply.sh names the programs bare: sudo looks them up in its
//! `secure_path` (Ubuntu's default sudoers sets one) and the rule matches whichever it finds.
//!
//! A `*` in a rule's arguments matches any text, spaces included (sudoers(5), "Wildcards"), so
//! the per-VM lines allow any unit whose name starts with `<cluster>-vm@`; since installing a
//! unit file as root already makes the user root-equivalent (a unit may run anything as root),
//! that widens nothing.

use std::fmt::Write as _;

use crate::layout;
use crate::site::{Label, Provider};

/// Where systemd reads the units an administrator installs (systemd.unit(5), "Unit File Load
/// Path"); `GEN_UNIT_DIR` replaces it only in gen's tests.
pub const UNITS_DIR: &str = "/etc/systemd/system";

/// The full paths a sudoers rule names, right on Ubuntu 18.04, 22.04 and 24.04 (module comment).
const INSTALL: &str = "/usr/bin/install";
const RM: &str = "/bin/rm";
const SYSTEMCTL: &str = "/bin/systemctl";

/// One command `apply.sh` runs as root.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Command<'a> {
    /// Copies a unit file gen staged under the remote root into systemd's folder.
    Install(&'a str),
    /// Removes one of gen's unit files from systemd's folder.
    Remove(&'a str),
    DaemonReload,
    /// Starts the user's VBoxSVC keeper (`layout::keeper_instance`), before any VirtualBox
    /// client runs (README, "VBoxSVC and shutdown").
    StartKeeper,
    /// Enables and starts one VM's unit (`None`: any VM's, as a sudoers rule names it).
    EnableNow(Option<&'a str>),
    /// The same, only queuing the start (libvirt's *launch*: the VMs boot side by side).
    EnableQueued(Option<&'a str>),
    /// Starts one VM's unit; a start already queued is joined (libvirt's *wait*).
    Start(Option<&'a str>),
    Restart(Option<&'a str>),
    Stop(Option<&'a str>),
    DisableNow(Option<&'a str>),
}

/// The root commands of one host.
pub struct Root<'a> {
    /// The host's remote root.
    pub root: &'a str,
    pub cluster: &'a Label,
    /// The ssh user, whose VBoxSVC the keeper runs.
    pub user: &'a str,
    /// Which steps `apply.sh` has there.
    pub provider: Provider,
}

/// One word of a command: what it is in `apply.sh`, on the server, and in a sudoers rule.
enum Word<'a> {
    Lit(&'a str),
    /// A unit file in systemd's folder.
    Unit(&'a str),
    /// A unit file gen staged under the remote root.
    Staged(&'a str),
    /// The unit of one VM.
    Vm(Option<&'a str>),
    /// The user's VBoxSVC keeper.
    Keeper,
}

impl<'a> Command<'a> {
    /// The program, as `apply.sh` names it (sudo finds it in its `secure_path`).
    fn program(&self) -> &'static str {
        match self {
            Command::Install(_) => "install",
            Command::Remove(_) => "rm",
            _ => "systemctl",
        }
    }

    /// The program's full path, as a sudoers rule names it.
    fn path(&self) -> &'static str {
        match self {
            Command::Install(_) => INSTALL,
            Command::Remove(_) => RM,
            _ => SYSTEMCTL,
        }
    }

    fn words(&self) -> Vec<Word<'a>> {
        use Word::{Lit, Staged, Unit, Vm};
        match *self {
            Command::Install(file) => vec![Lit("-m"), Lit("0644"), Staged(file), Unit(file)],
            Command::Remove(file) => vec![Lit("-f"), Unit(file)],
            Command::DaemonReload => vec![Lit("daemon-reload")],
            Command::StartKeeper => vec![Lit("start"), Word::Keeper],
            Command::EnableNow(vm) => vec![Lit("enable"), Lit("--now"), Lit("--quiet"), Vm(vm)],
            Command::EnableQueued(vm) => {
                vec![Lit("enable"), Lit("--now"), Lit("--no-block"), Lit("--quiet"), Vm(vm)]
            }
            Command::Start(vm) => vec![Lit("start"), Vm(vm)],
            Command::Restart(vm) => vec![Lit("restart"), Vm(vm)],
            Command::Stop(vm) => vec![Lit("stop"), Vm(vm)],
            Command::DisableNow(vm) => {
                vec![Lit("disable"), Lit("--now"), Lit("--quiet"), Vm(vm)]
            }
        }
    }

    /// The same command for any VM: how a sudoers rule names it.
    fn any_vm(self) -> Command<'a> {
        match self {
            Command::EnableNow(_) => Command::EnableNow(None),
            Command::EnableQueued(_) => Command::EnableQueued(None),
            Command::Start(_) => Command::Start(None),
            Command::Restart(_) => Command::Restart(None),
            Command::Stop(_) => Command::Stop(None),
            Command::DisableNow(_) => Command::DisableNow(None),
            other => other,
        }
    }
}

impl Root<'_> {
    /// The unit files gen installs on a host that runs VMs: the VMs' template (`install-unit`,
    /// `retire-unit`), then the keeper's (`keeper`), which is the user's, not the cluster's,
    /// and so is never retired.
    pub fn unit_files(&self) -> Vec<String> {
        match self.provider {
            Provider::VirtualBox => {
                vec![layout::unit_template(self.cluster), layout::KEEPER_TEMPLATE.to_string()]
            }
            Provider::Libvirt { .. } => vec![layout::unit_template(self.cluster)],
        }
    }

    fn prefix(&self) -> String {
        layout::unit_template(self.cluster).trim_end_matches(".service").to_string()
    }

    /// The command as `apply.sh` runs it: `sudo -n`, then shell words; `$units_dir`, `$root`
    /// and `$unit` are apply.sh's variables.
    pub fn shell(&self, command: &Command) -> String {
        let mut text = format!("sudo -n {}", command.program());
        for word in command.words() {
            text.push(' ');
            text += &match word {
                Word::Lit(w) => w.to_string(),
                Word::Unit(f) => format!("\"$units_dir\"/{}", crate::quote::sh(f)),
                Word::Staged(f) => {
                    format!("\"$root\"/{}/{}", layout::SERVER_UNITS, crate::quote::sh(f))
                }
                Word::Vm(_) => "\"$unit\"".to_string(),
                Word::Keeper => "\"$keeper\"".to_string(),
            };
        }
        text
    }

    /// The command line as it runs on the server whose systemd folder is `units_dir`, program
    /// named bare (as `apply.sh` runs it).
    pub fn argv(&self, command: &Command, units_dir: &str) -> String {
        self.text(command, command.program(), units_dir, "<node>")
    }

    /// The command as a sudoers rule allows it: full path, `*` for the VM.
    fn rule(&self, command: &Command, units_dir: &str) -> String {
        self.text(&command.any_vm(), command.path(), units_dir, "*")
    }

    fn text(&self, command: &Command, program: &str, units_dir: &str, any: &str) -> String {
        let mut text = program.to_string();
        for word in command.words() {
            text.push(' ');
            match word {
                Word::Lit(w) => text += w,
                Word::Unit(f) => {
                    let _ = write!(text, "{units_dir}/{f}");
                }
                Word::Staged(f) => text += &format!("{}/{f}", layout::server_units_dir(self.root)),
                Word::Vm(Some(node)) => text += &layout::unit_instance(self.cluster, node),
                Word::Vm(None) => {
                    let _ = write!(text, "{}{any}.service", self.prefix());
                }
                Word::Keeper => text += &layout::keeper_instance(self.user),
            }
        }
        text
    }

    /// Every command `apply.sh` may run as root on this host, whose systemd folder is
    /// `units_dir` ([`UNITS_DIR`] but in gen's tests).
    pub fn all(&self, units_dir: &str) -> Vec<String> {
        let files = self.unit_files();
        let mut commands: Vec<Command> = Vec::new();
        commands.extend(files.iter().map(|f| Command::Install(f)));
        commands.push(Command::Remove(&files[0]));
        commands.push(Command::DaemonReload);
        match self.provider {
            Provider::VirtualBox => {
                commands.extend([Command::StartKeeper, Command::EnableNow(None)]);
            }
            Provider::Libvirt { .. } => commands.extend([
                Command::EnableNow(None),
                Command::EnableQueued(None),
                Command::Start(None),
            ]),
        }
        commands.extend([Command::Restart(None), Command::Stop(None), Command::DisableNow(None)]);
        commands.iter().map(|c| self.rule(c, units_dir)).collect()
    }

    /// The sudoers line that lets `user` run exactly those commands as root without a
    /// password: for `visudo -f /etc/sudoers.d/<file>`.
    pub fn sudoers_line(&self, user: &str, units_dir: &str) -> String {
        let commands: Vec<String> = self.all(units_dir).iter().map(|c| sudoers_escape(c)).collect();
        format!("{user} ALL=(root) NOPASSWD: {}", commands.join(", "))
    }

    /// The sudoers.d file the line goes in.
    pub fn sudoers_file(&self) -> String {
        format!("/etc/sudoers.d/gen-{}", self.cluster)
    }
}

/// The root commands one step of `apply.sh` runs (`step` as `apply.sh` names it), in order;
/// `files` as [`Root::unit_files`] gives them. `apply.sh`'s template runs the same ones; a
/// test below holds the two together.
pub fn of_step<'a>(step: &str, node: Option<&'a str>, files: &'a [String]) -> Vec<Command<'a>> {
    let mut commands = Vec::new();
    match step {
        "install-unit" => {
            commands.push(Command::Install(&files[0]));
            commands.push(Command::DaemonReload);
        }
        "retire-unit" => {
            commands.push(Command::Remove(&files[0]));
            commands.push(Command::DaemonReload);
        }
        "keeper" => {
            commands.push(Command::Install(&files[1]));
            commands.push(Command::DaemonReload);
            commands.push(Command::StartKeeper);
        }
        "create" | "start" => commands.push(Command::EnableNow(node)),
        // Queued once libvirt's pool has the box, else waited for: apply.sh's branch runs one.
        "launch" => commands.extend([Command::EnableQueued(node), Command::EnableNow(node)]),
        "wait" => commands.push(Command::Start(node)),
        "reload" => commands.push(Command::Restart(node)),
        "halt" => commands.push(Command::Stop(node)),
        "destroy" => commands.push(Command::DisableNow(node)),
        _ => {}
    }
    commands
}

/// sudoers(5), "Other special characters and reserved words": in a command's arguments `,`,
/// `:`, `=` and `\` must be escaped with a backslash. Site validation keeps them out of every
/// name and path; this holds the line right whatever it gets.
fn sudoers_escape(command: &str) -> String {
    let mut out = String::with_capacity(command.len());
    for c in command.chars() {
        if matches!(c, ',' | ':' | '=' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cluster() -> Label {
        crate::site::Label::parse("lab").unwrap()
    }

    #[test]
    fn the_sudoers_line_names_every_root_command_by_its_full_path() {
        let cluster = cluster();
        let root = Root {
            root: "/home/alice/gen/lab",
            cluster: &cluster,
            user: "alice",
            provider: Provider::VirtualBox,
        };
        assert_eq!(
            root.sudoers_line("alice", UNITS_DIR),
            "alice ALL=(root) NOPASSWD: /usr/bin/install -m 0644 \
             /home/alice/gen/lab/units/lab-vm@.service /etc/systemd/system/lab-vm@.service, \
             /usr/bin/install -m 0644 /home/alice/gen/lab/units/gen-vboxsvc@.service \
             /etc/systemd/system/gen-vboxsvc@.service, \
             /bin/rm -f /etc/systemd/system/lab-vm@.service, /bin/systemctl daemon-reload, \
             /bin/systemctl start gen-vboxsvc@alice.service, /bin/systemctl enable --now --quiet lab-vm@*.service, /bin/systemctl restart \
             lab-vm@*.service, /bin/systemctl stop lab-vm@*.service, /bin/systemctl disable \
             --now --quiet lab-vm@*.service"
        );
    }

    #[test]
    fn apply_sh_and_the_check_run_the_same_words() {
        let cluster = cluster();
        let root =
            Root { root: "/r", cluster: &cluster, user: "alice", provider: Provider::VirtualBox };
        let c = Command::EnableNow(Some("cp-1"));
        assert_eq!(root.shell(&c), "sudo -n systemctl enable --now --quiet \"$unit\"");
        assert_eq!(root.argv(&c, UNITS_DIR), "systemctl enable --now --quiet lab-vm@cp-1.service");
        let i = Command::Install("lab-vm@.service");
        assert_eq!(
            root.shell(&i),
            "sudo -n install -m 0644 \"$root\"/units/'lab-vm@.service' \
             \"$units_dir\"/'lab-vm@.service'"
        );
        assert_eq!(
            root.argv(&i, "/u"),
            "install -m 0644 /r/units/lab-vm@.service /u/lab-vm@.service"
        );
    }

    /// The README's line is what gen names for the example lab's servers.
    #[test]
    fn the_readme_gives_the_example_labs_line() {
        let site = crate::site::Site::from_toml(include_str!("../site.toml"), "site.toml").unwrap();
        let host = &site.hosts[0];
        let root = Root {
            root: host.root.as_str(),
            cluster: &site.cluster,
            user: host.user.as_str(),
            provider: host.provider,
        };
        let line = root.sudoers_line(host.user.as_str(), UNITS_DIR);
        let readme = include_str!("../README.md");
        let block = readme.split("<!-- sudoers-line -->").nth(1).expect("the marked block");
        assert_eq!(block.lines().nth(2).map(str::trim), Some(line.as_str()));
    }

    /// The README's line for a libvirt server is what gen names for one.
    #[test]
    fn the_readme_gives_a_libvirt_servers_line() {
        let cluster = cluster();
        let root = Root {
            root: "/home/lab/gen/lab",
            cluster: &cluster,
            user: "lab",
            provider: Provider::Libvirt { driver: crate::site::LibvirtDriver::Kvm },
        };
        let line = root.sudoers_line("lab", UNITS_DIR);
        let readme = include_str!("../README.md");
        let block = readme.split("<!-- sudoers-line-libvirt -->").nth(1).expect("the marked block");
        assert_eq!(block.lines().nth(2).map(str::trim), Some(line.as_str()));
    }

    #[test]
    fn sudoers_specials_are_escaped() {
        assert_eq!(sudoers_escape("a,b:c=d\\e"), "a\\,b\\:c\\=d\\\\e");
    }
}
