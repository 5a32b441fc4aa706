//! Every message gen can print about a failure, word for word: one sample of each `Error`,
//! `Problem` and `Warning` variant, rendered and compared with its expected text.
//!
//! The expected texts sit in matches without a wildcard arm, so a new variant does not compile
//! until its text is written here; the count of variants sampled must then match too.

use std::collections::BTreeSet;
use std::path::PathBuf;

use labgen::change::Refusal;
use labgen::error::{
    Change, ChangeKind, Diagnostic, Error, EtcdMajority, SiteFileProblem, Warning,
};
use labgen::problem::Problem;

fn s(text: &str) -> String {
    text.to_string()
}

fn path(text: &str) -> PathBuf {
    PathBuf::from(text)
}

fn diagnostic(key: &str, problem: Problem) -> Diagnostic {
    Diagnostic { line: 3, column: 8, key: s(key), problem, excerpt: None }
}

/// One sample of each `Error` variant (a variant whose text has branches, once per branch).
fn errors() -> Vec<(Error, &'static str)> {
    let refusal = Refusal::KubeDowngrade { from: s("1.31.4"), to: s("1.30.4") };
    vec![
        (
            Error::InvalidSite {
                file: s("site.toml"),
                diagnostics: vec![diagnostic("cluster.name", Problem::Missing { what: "a name" })],
            },
            "error: `cluster.name`: missing a name\n --> site.toml\n  = fix: add it; the site.toml reference is in the README\n\n1 error in site.toml; nothing was written",
        ),
        (
            Error::SiteFile { path: path("lab/site.toml"), problem: SiteFileProblem::Missing },
            "error: there is no site file `lab/site.toml`\n  fix: run gen in the folder that holds site.toml, or name it with `--site PATH`",
        ),
        (
            Error::SiteFile { path: path("lab"), problem: SiteFileProblem::NotAFile("a folder") },
            "error: the site file `lab` is a folder, not a regular file\n  fix: name a site.toml with `--site PATH`",
        ),
        (
            Error::SiteFile { path: path("big.toml"), problem: SiteFileProblem::TooLarge(8 << 20) },
            "error: the site file `big.toml` is larger than 8 MiB, gen's limit (a lab of 10,000 VMs takes about 1 MiB)\n  fix: name a site.toml with `--site PATH`",
        ),
        (
            Error::io("out/manifest.toml", "write", std::io::Error::other("disk full")),
            "error: could not write `out/manifest.toml`: disk full",
        ),
        (
            Error::PartialBuild {
                out: path("out"),
                cause: Box::new(Error::io("out/a", "write", std::io::Error::other("disk full"))),
                written: vec![s("hosts/h1/apply.sh")],
                removed: vec![s("old.txt"), s("older.txt")],
            },
            "error: could not write `out/a`: disk full\n  `gen build` stopped after it had written 1 file and deleted 2 in `out`, so `out` now mixes the previous build and this one; its manifest lists every file gen made there, so the next build can finish the job:\n    wrote    out/hosts/h1/apply.sh\n    deleted  out/old.txt\n    deleted  out/older.txt\n  fix: remove the cause, then run `gen build` again: it rewrites what differs and prunes what is gone; `gen check` then exits 0",
        ),
        (
            Error::OutContainsSite { out: path("."), site: path("./site.toml") },
            "error: `--out .` contains the site file `./site.toml`; gen prunes its output folder, so it must not hold its own input\n  fix: use a folder beside the site file, e.g. the default `out`",
        ),
        (
            Error::NotOurs { path: path("out/hosts"), what: "a symlink" },
            "error: `out/hosts` is a symlink; gen never writes through or replaces what it did not make\n  fix: move it out of the output folder, then run `gen build` again",
        ),
        (
            Error::BadManifest { path: path("out/manifest.toml"), reason: s("no `files`") },
            "error: `out/manifest.toml` is not a manifest gen wrote (no `files`)\n  fix: if the output folder is gen's, delete the manifest and every file it listed, then run `gen build`",
        ),
        (
            Error::UnknownHost { name: s("vmhots1"), known: vec![s("vmhost1"), s("vmhost2")] },
            "error: no host `vmhots1` in `[hosts]`\n  fix: did you mean `vmhost1`?",
        ),
        (
            Error::Apply { host: s("vmhost1"), reason: s("the server hung up") },
            "error: apply to `vmhost1` failed: the server hung up",
        ),
        (
            Error::StaleOut { out: path("out"), differences: 2 },
            "error: `out` is not what the site file gives (2 differences); gen applies only a tree that `gen check` accepts, so that a server runs what was reviewed\n  fix: run `gen check` to see them, then `gen build`, review `git diff`, commit, and apply again",
        ),
        (
            Error::MissingTool { tool: "rsync" },
            "error: `rsync` is not installed here; gen apply uses the system's ssh and rsync\n  fix: install them (Debian and Ubuntu: `apt install openssh-client rsync`)",
        ),
        (
            Error::SshPath { path: path("/tmp/a b"), what: "the temporary folder" },
            "error: the temporary folder `/tmp/a b` has a space, a quote or another character that cannot be passed to ssh as one word\n  fix: use a path of letters, digits and `/._-` (for the temporary folder: set TMPDIR to one)",
        ),
        (
            Error::HostKey { host: s("vmhost1"), address: s("192.168.1.10"), port: 22 },
            "error: `vmhost1` (192.168.1.10 port 22) did not present the host key in site.toml; gen refused the connection and sent nothing\n  fix: if the server was reinstalled or its keys changed, read its key on the server itself (`cat /etc/ssh/ssh_host_ed25519_key.pub`), check that `ssh-keyscan -p 22 192.168.1.10` shows the same, and put `TYPE BASE64` into `host_key` of [hosts.vmhost1]; otherwise someone may be between you and the server",
        ),
        (
            Error::Unreachable {
                host: s("vmhost1"),
                user: s("ops"),
                address: s("192.168.1.10"),
                port: 22,
                detail: s("connection refused"),
            },
            "error: cannot reach `vmhost1` over ssh: connection refused\n  fix: check that the server is up and that `ssh -p 22 ops@192.168.1.10` works from here",
        ),
        (
            Error::Login {
                host: s("vmhost1"),
                user: s("ops"),
                address: s("192.168.1.10"),
                port: 2222,
                detail: s("permission denied (publickey)"),
            },
            "error: `vmhost1` refused the ssh login of `ops`: permission denied (publickey)\n  fix: gen logs in as `ssh -p 2222 ops@192.168.1.10` does: load your key into the agent (`ssh-add`) or name it in ~/.ssh/config (`IdentityFile`), and put its public half in ~ops/.ssh/authorized_keys on the server",
        ),
        (
            Error::ServerLacks { host: s("vmhost1"), tools: vec![s("flock"), s("sha256sum")] },
            "error: `vmhost1` lacks `flock` and `sha256sum`, which gen runs there\n  fix: install them on the server (Ubuntu: `apt install coreutils util-linux rsync`)",
        ),
        (
            Error::Remote { host: s("vmhost1"), step: "sending the files", output: s("a\nb\n") },
            "error: on `vmhost1`, sending the files failed:\n  a\n  b\n  fix: correct the cause and run the command again; an apply cut short leaves the previous generation current, and the next one completes it",
        ),
        (
            Error::Remote { host: s("vmhost1"), step: "sending the files", output: String::new() },
            "error: on `vmhost1`, sending the files failed\n  fix: correct the cause and run the command again; an apply cut short leaves the previous generation current, and the next one completes it",
        ),
        (
            Error::Corrupt { host: s("vmhost1"), expected: s("abc123"), actual: s("def456") },
            "error: on `vmhost1`, the files meant to be generation abc123 hash to def456; they were not made current\n  fix: check that nothing changes `out/` during an apply (`gen check`), then apply again: gen sends the files anew",
        ),
        (
            Error::Sudo {
                host: s("vmhost1"),
                user: s("ops"),
                refused: vec![s("/bin/systemctl"), s("/usr/bin/install")],
                said: Some(s("a password is required")),
                line: s("ops ALL=(root) NOPASSWD: /bin/systemctl"),
                file: s("/etc/sudoers.d/gen-lab"),
            },
            "error: on `vmhost1`, sudo does not let `ops` run as root without a password what this apply runs there: `/bin/systemctl`, `/usr/bin/install` (sudo says: a password is required); nothing was sent or changed\n  fix: on vmhost1, add this line with `sudo visudo -f /etc/sudoers.d/gen-lab` (it lets ops install systemd units as root, which makes ops root-equivalent on vmhost1; README, \"Server requirements\"):\n    ops ALL=(root) NOPASSWD: /bin/systemctl",
        ),
        (
            Error::Sudo {
                host: s("vmhost1"),
                user: s("ops"),
                refused: vec![s("/bin/systemctl")],
                said: None,
                line: s("ops ALL=(root) NOPASSWD: /bin/systemctl"),
                file: s("/etc/sudoers.d/gen-lab"),
            },
            "error: on `vmhost1`, sudo does not let `ops` run as root without a password what this apply runs there: `/bin/systemctl`; nothing was sent or changed\n  fix: on vmhost1, add this line with `sudo visudo -f /etc/sudoers.d/gen-lab` (it lets ops install systemd units as root, which makes ops root-equivalent on vmhost1; README, \"Server requirements\"):\n    ops ALL=(root) NOPASSWD: /bin/systemctl",
        ),
        (
            Error::Step { host: s("vmhost1"), step: s("up k8s-w-1"), output: s("  vagrant: no\n") },
            "error: on `vmhost1`, the step `up k8s-w-1` failed\n  vagrant: no\n  the steps before it ran; the apply stops here\n  fix: correct the cause and run the same apply again: it plans afresh from what the server then runs",
        ),
        (
            Error::Refused {
                reason: s("etcd would lose quorum"),
                fix: s("apply one host at a time"),
            },
            "error: gen will not apply this: etcd would lose quorum; nothing was changed\n  fix: apply one host at a time",
        ),
        (
            Error::Legacy {
                host: s("vmhost1"),
                root: s("/srv/lab"),
                groups: vec![s("cp"), s("workers")],
                nodes: vec![s("k8s-cp-1"), s("k8s-w-1")],
            },
            "error: `vmhost1` runs VMs of gen's first layout (one Vagrantfile per role group: k8s-cp-1, k8s-w-1); this gen keeps one Vagrant environment per VM and would orphan them, so nothing was changed\n  fix: on vmhost1, with the generation that made them still current, for each group G of cp, workers: `sudo systemctl disable --now <cluster>-vmhost1-G.service; VAGRANT_CWD=/srv/lab/current/G VAGRANT_DOTFILE_PATH=/srv/lab/state/G vagrant destroy -f; rm -rf /srv/lab/state/G`, then `gen apply vmhost1` creates them anew (README, \"Changing a running lab\")",
        ),
        (
            Error::NoPrevious { host: s("vmhost1") },
            "error: `vmhost1` has no previous generation to go back to\n  fix: `gen status vmhost1` shows what it runs; a rollback needs an earlier apply of another tree",
        ),
        (
            Error::UnsafeChange { refusals: vec![refusal.objection()] },
            "error: `kubespray.kube_version` goes down from 1.31.4 (deployed now, per out/) to 1.30.4; kubeadm never downgrades a cluster\n  fix: keep `kube_version` at 1.31.4 or later; or, knowing the risk, pass `--allow-version-change`\nnothing was written",
        ),
        (
            Error::Unreviewed {
                out: path("out"),
                commit: Some(s("0123456789abcdef0123")),
                changes: vec![Change { kind: ChangeKind::Changed, path: s("out/site.txt") }],
            },
            "error: `out` differs from the commit at HEAD (0123456789ab) in 1 file; gen applies only a tree that was committed, so that a server runs what was reviewed\n  changed  out/site.txt\n  fix: review `git diff out/` and `git status out/`, then `git add out/` and `git commit`; or pass `--allow-dirty` to send it unreviewed",
        ),
        (
            Error::Unreviewed { out: path("out"), commit: None, changes: vec![] },
            "error: `out` differs from any commit: the repository has none yet in 0 files; gen applies only a tree that was committed, so that a server runs what was reviewed\n  fix: review `git diff out/` and `git status out/`, then `git add out/` and `git commit`; or pass `--allow-dirty` to send it unreviewed",
        ),
        (
            Error::Git {
                out: path("out"),
                command: s("status"),
                detail: s("not a git repository"),
            },
            "error: `git status` failed in `out`: not a git repository\n  fix: make `git status` work there, or pass `--allow-dirty` to apply without asking git",
        ),
        (
            Error::BadRecord { path: path("out/kubespray/cluster.toml"), reason: s("no version") },
            "error: `out/kubespray/cluster.toml` is not a record gen wrote (no version); gen reads it to judge what the new build changes for kubespray\n  fix: restore it from git (`git checkout -- out/kubespray/cluster.toml`), or delete it if this tree was never deployed",
        ),
        (
            Error::WouldOverwrite { path: path("site.toml") },
            "error: `site.toml` exists; gen never replaces a file it did not make\n  fix: move it away, or pass `--force` to replace it",
        ),
        (
            Error::InitArgument { argument: "--cidr", value: s("10.0.0.0"), expected: "a CIDR" },
            "error: `--cidr 10.0.0.0`: expected a CIDR\n  fix: see `gen init --help`",
        ),
        (
            Error::InitValues {
                diagnostics: vec![diagnostic("network.cidr", Problem::NotACidr { value: s("x") })],
            },
            "error: site.toml:3:8: `network.cidr`: `x` is not an IPv4 network in CIDR notation\n  fix: write the network as `192.168.1.0/24`\nthese come from the values given to `gen init`; nothing was written",
        ),
        (
            Error::InitStopped { question: s("cluster name") },
            "error: the input ended at `cluster name`; nothing was written\n  fix: run `gen init` again, or give the answers as flags (`gen init --help`)",
        ),
        (
            Error::Inventory { path: path("inventory.ini"), line: 4, reason: s("no host name") },
            "error: inventory.ini:4: no host name\n  fix: `gen import` reads kubespray inventories (`inventory.ini` or `hosts.yaml`); correct the line or import another file",
        ),
    ]
}

/// How many `Error` variants there are: one per arm of `error_variant`.
const ERROR_VARIANTS: usize = 32;

/// Which variant `e` is. No wildcard arm: a new variant does not compile until it is named
/// here, next to `ERROR_VARIANTS` and the samples that must then include it.
fn error_variant(e: &Error) -> usize {
    match e {
        Error::InvalidSite { .. } => 0,
        Error::SiteFile { .. } => 1,
        Error::Io { .. } => 2,
        Error::PartialBuild { .. } => 3,
        Error::OutContainsSite { .. } => 4,
        Error::NotOurs { .. } => 5,
        Error::BadManifest { .. } => 6,
        Error::UnknownHost { .. } => 7,
        Error::Apply { .. } => 8,
        Error::StaleOut { .. } => 9,
        Error::MissingTool { .. } => 10,
        Error::SshPath { .. } => 11,
        Error::HostKey { .. } => 12,
        Error::Unreachable { .. } => 13,
        Error::Login { .. } => 14,
        Error::ServerLacks { .. } => 15,
        Error::Remote { .. } => 16,
        Error::Corrupt { .. } => 17,
        Error::Sudo { .. } => 18,
        Error::Step { .. } => 19,
        Error::Refused { .. } => 20,
        Error::Legacy { .. } => 21,
        Error::NoPrevious { .. } => 22,
        Error::UnsafeChange { .. } => 23,
        Error::Unreviewed { .. } => 24,
        Error::Git { .. } => 25,
        Error::BadRecord { .. } => 26,
        Error::WouldOverwrite { .. } => 27,
        Error::InitArgument { .. } => 28,
        Error::InitValues { .. } => 29,
        Error::Inventory { .. } => 30,
        Error::InitStopped { .. } => 31,
    }
}

/// One sample of each `Problem` variant, and of each branch of its message or fix.
fn problems() -> Vec<(Problem, &'static str)> {
    vec![
        (Problem::Syntax { message: s("expected `=`") }, "not valid TOML: expected `=`"),
        (
            Problem::DuplicateKey { key: s("name") },
            "not valid TOML: `name` is set twice in the same table\n  fix: keep one of the two, or merge what they say into one",
        ),
        (
            Problem::NotUtf8 { byte: 0xff, offset: 12 },
            "not UTF-8 text: the byte at offset 12 (0xff) does not start or continue a character\n  fix: save the file as UTF-8 (TOML files are UTF-8 text)",
        ),
        (
            Problem::TableAsSwitch { name: "metallb", off: true, example: "{ range = \"..\" }" },
            "`metallb` is a table of settings, not `true` or `false`\n  fix: remove the `metallb` key: without it, metallb is off",
        ),
        (
            Problem::TableAsSwitch { name: "metallb", off: false, example: "{ range = \"..\" }" },
            "`metallb` is a table of settings, not `true` or `false`\n  fix: to turn metallb on, write `metallb = { range = \"..\" }`",
        ),
        (
            Problem::UnknownKey { suggestion: Some(s("name")), allowed: vec!["name"] },
            "unknown key\n  fix: did you mean `name`?",
        ),
        (
            Problem::UnknownKey { suggestion: None, allowed: vec!["name", "domain", "cidr"] },
            "unknown key; expected `name`, `domain` or `cidr`\n  fix: remove it; the site.toml reference is in the README",
        ),
        (
            Problem::WrongType { expected: "a string", found: "an integer" },
            "expected a string, found an integer",
        ),
        (
            Problem::Missing { what: "`cluster.name`" },
            "missing `cluster.name`\n  fix: add it; the site.toml reference is in the README",
        ),
        (
            Problem::NotALabel { value: s("Lab_1"), why: "it has `_`" },
            "`Lab_1` is not a valid name: it has `_`\n  fix: use 1 to 63 lowercase letters, digits and `-`, starting and ending with a letter or digit",
        ),
        (
            Problem::BadSyntax { value: s("v1"), expected: "a version such as `1.31.4`" },
            "`v1` is not a version such as `1.31.4`",
        ),
        (
            Problem::NotAnIpv4 { value: s("192.168.1") },
            "`192.168.1` is not an IPv4 address\n  fix: write a dotted quad such as `192.168.1.21`",
        ),
        (
            Problem::BadKey { value: s("ssh-ed25519 AAAA"), why: s("too short"), host: true },
            "`ssh-ed25519 AAAA` is not an ssh host key gen can trust: too short\n  fix: paste the key as `ssh-keyscan -t ed25519 HOST` prints it (run it on the LAN, or read /etc/ssh/ssh_host_ed25519_key.pub on the server)",
        ),
        (
            Problem::BadKey { value: s("ssh-ed25519 AAAA"), why: s("too short"), host: false },
            "`ssh-ed25519 AAAA` is not an ssh public key: too short\n  fix: paste the line of the key's `.pub` file (`ssh-keygen -y -f KEY` prints it)",
        ),
        (
            Problem::BadAddress { value: s("-h"), why: "it starts with `-`" },
            "`-h` is not an address gen can connect to: it starts with `-`\n  fix: write the server's IPv4 address as four decimal numbers, such as `192.168.1.10`, or its DNS name, such as `vmhost1.lan`",
        ),
        (
            Problem::AddressReadAsIpv4 { value: s("0x7f.1"), ip: s("127.0.0.1") },
            "`0x7f.1` is not a dotted-quad address or a DNS name, but a resolver reads it as `127.0.0.1`\n  fix: write `127.0.0.1` if that is the server, or the server's DNS name",
        ),
        (
            Problem::NotACidr { value: s("192.168.1.0") },
            "`192.168.1.0` is not an IPv4 network in CIDR notation\n  fix: write the network as `192.168.1.0/24`",
        ),
        (
            Problem::CidrHasHostBits { value: s("192.168.1.1/24"), network: s("192.168.1.0/24") },
            "`192.168.1.1/24` has host bits set; the network is `192.168.1.0/24`\n  fix: write `192.168.1.0/24`",
        ),
        (
            Problem::CidrTooSmall { value: s("192.168.1.0/31") },
            "`192.168.1.0/31` has no room for a gateway and nodes\n  fix: use a prefix of /29 or shorter",
        ),
        (
            Problem::CidrOverlaps {
                cidr: s("10.233.0.0/16"),
                other: "kubespray's service network",
                other_cidr: "10.233.0.0/18",
            },
            "`10.233.0.0/16` overlaps kubespray's service network `10.233.0.0/18`\n  fix: renumber the LAN, or the guests cannot tell the two networks apart",
        ),
        (
            Problem::OutOfRange { value: 0, min: 1, max: 64, why: None },
            "0 is out of range; it must be from 1 to 64",
        ),
        (
            Problem::OutOfRange { value: 90, min: 1, max: 64, why: Some("VirtualBox's limit") },
            "90 is out of range; it must be from 1 to 64: VirtualBox's limit",
        ),
        (
            Problem::TooFewCpus { value: 1, min: 2 },
            "1 CPU is too few for a control-plane node: kubeadm's preflight check `NumCPU` requires 2, and kubespray does not skip it\n  fix: give it `cpus = 2` or more",
        ),
        (
            Problem::NotInNetwork { ip: s("10.0.0.5"), cidr: s("192.168.1.0/24") },
            "`10.0.0.5` is outside `network.cidr` `192.168.1.0/24`\n  fix: use an address inside the bridged LAN",
        ),
        (
            Problem::ReservedAddress { ip: s("192.168.1.0"), what: "network's own address" },
            "`192.168.1.0` is the network's own address\n  fix: give it a free address of the LAN",
        ),
        (
            Problem::DuplicateAddress { ip: s("192.168.1.21"), other: s("k8s-cp-1") },
            "`192.168.1.21` is already used by `k8s-cp-1`\n  fix: give it a free address of the LAN",
        ),
        (
            Problem::unknown_host("vmhots1", vec![s("vmhost1"), s("vmhost2")].into()),
            "no host `vmhots1` in `[hosts]`\n  fix: did you mean `vmhost1`?",
        ),
        (
            Problem::unknown_host("zzz", vec![s("vmhost1"), s("vmhost2")].into()),
            "no host `zzz` in `[hosts]`\n  fix: use one of `vmhost1` or `vmhost2`",
        ),
        (
            Problem::UnknownRole { value: s("wroker") },
            "unknown role `wroker`\n  fix: did you mean `worker`?",
        ),
        (
            Problem::UnknownRole { value: s("etcd") },
            "unknown role `etcd`\n  fix: use `control-plane` or `worker`",
        ),
        (
            Problem::ReservedName { value: s("all"), meaning: "the group of every host" },
            "`all` cannot name a node: in the inventory it is the group of every host\n  fix: choose another name for the node",
        ),
        (
            Problem::UnknownRelease { value: s("v2.27.1"), known: vec!["v2.27.0", "v2.26.0"] },
            "gen does not know kubespray `v2.27.1`; it knows `v2.27.0` or `v2.26.0`\n  fix: did you mean `v2.27.0`?",
        ),
        (
            Problem::UnknownRelease { value: s("v9"), known: vec!["v2.27.0", "v2.26.0"] },
            "gen does not know kubespray `v9`; it knows `v2.27.0` or `v2.26.0`\n  fix: use `v2.27.0`, the newest",
        ),
        (
            Problem::UnsupportedKubeVersion {
                value: s("1.20.0"),
                release: "v2.27.0",
                newest: "1.31.4",
                oldest: "1.29.0",
            },
            "kubespray v2.27.0 cannot install Kubernetes `1.20.0`; it supports 1.29.0 to 1.31.4\n  fix: use `1.31.4`, or leave `kube_version` out for the release's default",
        ),
        (
            Problem::UnsupportedChoice {
                value: s("calco"),
                release: "v2.27.0",
                allowed: &["calico", "cilium", "flannel"],
            },
            "kubespray v2.27.0 does not accept `calco`; it accepts `calico`, `cilium` or `flannel`\n  fix: did you mean `calico`?",
        ),
        (
            Problem::UnsupportedChoice {
                value: s("weave"),
                release: "v2.27.0",
                allowed: &["calico", "cilium", "flannel"],
            },
            "kubespray v2.27.0 does not accept `weave`; it accepts `calico`, `cilium` or `flannel`",
        ),
        (
            Problem::NoControlPlane,
            "no node has role `control-plane`\n  fix: give one node (or three) `role = \"control-plane\"`",
        ),
        (
            Problem::EvenEtcd { count: 2 },
            "2 control-plane nodes make an etcd cluster of 2; etcd needs an odd number of members to keep quorum, and kubespray refuses an even one\n  fix: use 1 or 3 control-plane nodes",
        ),
        (
            Problem::MemoryTooLow {
                value: 1024,
                min: 1500,
                role: "control plane",
                release: "v2.27.0",
            },
            "1024 MiB is too little for a control plane: kubespray v2.27.0 requires 1500 MiB as seen by the guest kernel\n  fix: give it at least 1756 MiB (the guest kernel keeps about 256 MiB for itself)",
        ),
        (Problem::EmptyList, "the list is empty\n  fix: list at least one value"),
        (
            Problem::BadRange { value: s("192.168.1.240") },
            "`192.168.1.240` is not an address range `FIRST-LAST` or a CIDR\n  fix: write `192.168.1.240-192.168.1.250` or `192.168.1.240/28`",
        ),
        (
            Problem::RangeOutsideNetwork {
                range: s("10.0.0.1-10.0.0.9"),
                cidr: s("192.168.1.0/24"),
            },
            "`10.0.0.1-10.0.0.9` is not inside `network.cidr` `192.168.1.0/24`\n  fix: choose a range of free LAN addresses that no node, host or gateway uses",
        ),
        (
            Problem::RangeOverlaps {
                range: s("192.168.1.20-192.168.1.30"),
                ip: s("192.168.1.21"),
                what: s("node `k8s-cp-1`"),
            },
            "`192.168.1.20-192.168.1.30` contains `192.168.1.21`, the address of node `k8s-cp-1`\n  fix: choose a range of free LAN addresses that no node, host or gateway uses",
        ),
        (
            Problem::UnknownChoice { value: s("libvrit"), allowed: &["virtualbox", "libvirt"] },
            "`libvrit` is not one of `virtualbox` or `libvirt`\n  fix: did you mean `libvirt`?",
        ),
        (
            Problem::UnknownChoice { value: s("xen"), allowed: &["kvm", "qemu"] },
            "`xen` is not one of `kvm` or `qemu`\n  fix: use `kvm` or `qemu`",
        ),
        (
            Problem::DriverWithoutLibvirt,
            "`libvirt_driver` is only read when `provider = \"libvirt\"`\n  fix: set `provider = \"libvirt\"` on this host, or remove `libvirt_driver`",
        ),
        (
            Problem::OverlapsManagementNetwork {
                host: s("vmhost1"),
                management: "192.168.121.0/24",
            },
            "`network.cidr` overlaps `192.168.121.0/24`, the NAT network vagrant-libvirt gives every VM of `vmhost1`: the guests could not tell the LAN from it\n  fix: vagrant-libvirt's network is fixed at that range: the LAN must use another one",
        ),
    ]
}

/// How many `Problem` variants there are: one per arm of `problem_variant`.
const PROBLEM_VARIANTS: usize = 38;

/// Which variant `p` is; no wildcard arm, as in `error_variant`.
fn problem_variant(p: &Problem) -> usize {
    match p {
        Problem::Syntax { .. } => 0,
        Problem::DuplicateKey { .. } => 1,
        Problem::NotUtf8 { .. } => 2,
        Problem::TableAsSwitch { .. } => 3,
        Problem::UnknownKey { .. } => 4,
        Problem::WrongType { .. } => 5,
        Problem::Missing { .. } => 6,
        Problem::NotALabel { .. } => 7,
        Problem::BadSyntax { .. } => 8,
        Problem::NotAnIpv4 { .. } => 9,
        Problem::BadKey { .. } => 10,
        Problem::BadAddress { .. } => 11,
        Problem::AddressReadAsIpv4 { .. } => 12,
        Problem::NotACidr { .. } => 13,
        Problem::CidrHasHostBits { .. } => 14,
        Problem::CidrTooSmall { .. } => 15,
        Problem::CidrOverlaps { .. } => 16,
        Problem::OutOfRange { .. } => 17,
        Problem::TooFewCpus { .. } => 18,
        Problem::NotInNetwork { .. } => 19,
        Problem::ReservedAddress { .. } => 20,
        Problem::DuplicateAddress { .. } => 21,
        Problem::UnknownHost { .. } => 22,
        Problem::UnknownRole { .. } => 23,
        Problem::ReservedName { .. } => 24,
        Problem::UnknownRelease { .. } => 25,
        Problem::UnsupportedKubeVersion { .. } => 26,
        Problem::UnsupportedChoice { .. } => 27,
        Problem::NoControlPlane => 28,
        Problem::EvenEtcd { .. } => 29,
        Problem::MemoryTooLow { .. } => 30,
        Problem::EmptyList => 31,
        Problem::BadRange { .. } => 32,
        Problem::RangeOutsideNetwork { .. } => 33,
        Problem::RangeOverlaps { .. } => 34,
        Problem::UnknownChoice { .. } => 35,
        Problem::DriverWithoutLibvirt => 36,
        Problem::OverlapsManagementNetwork { .. } => 37,
    }
}

/// One sample of each `Warning` variant and branch.
fn warnings() -> Vec<(Warning, &'static str)> {
    let majority = |servers| EtcdMajority { host: s("vmhost1"), held: 2, total: 3, servers };
    vec![
        (
            Warning::EtcdMajority(majority(3)),
            "`vmhost1` holds 2 of the 3 etcd members (control planes); if that server is down, etcd loses quorum and the cluster's API stops until it is back\n  fix: move a control plane from `vmhost1` to another server",
        ),
        (
            Warning::EtcdMajority(majority(2)),
            "`vmhost1` holds 2 of the 3 etcd members (control planes); if that server is down, etcd loses quorum and the cluster's API stops until it is back\n  fix: on two servers one always holds a majority; a third server with one control plane keeps quorum when any one is down",
        ),
        (
            Refusal::ReleaseSkip { from: s("v2.25.0"), to: s("v2.27.0") }.warning(),
            "`kubespray.version` goes from v2.25.0 (deployed now, per out/) to v2.27.0, skipping a minor release; kubespray's upgrade docs say \"upgrade by one tag at a time\"\n  allowed by `--allow-version-change`: gen writes the change as asked",
        ),
        (
            Warning::NotGit { out: path("out"), why: "git is not installed" },
            "`out` is not checked against a commit: git is not installed; gen applies it as it is on disk",
        ),
        (
            Warning::Dirty { out: path("out"), changes: 1 },
            "`out` differs from the commit at HEAD in 1 file; sent unreviewed, as `--allow-dirty` asks",
        ),
        (
            Warning::NoHostKey { server: s("vmhost1"), address: s("192.168.1.10"), port: 22 },
            "`vmhost1` (192.168.1.10 port 22) gave no host key; `host_key` is left to fill in",
        ),
    ]
}

const WARNING_VARIANTS: usize = 5;

fn warning_variant(w: &Warning) -> usize {
    match w {
        Warning::EtcdMajority(_) => 0,
        Warning::Allowed { .. } => 1,
        Warning::NotGit { .. } => 2,
        Warning::Dirty { .. } => 3,
        Warning::NoHostKey { .. } => 4,
    }
}

/// A problem as a diagnostic shows it after the location: the message, then its fix.
fn problem_text(p: &Problem) -> String {
    match p.fix() {
        Some(fix) => format!("{p}\n  fix: {fix}"),
        None => p.to_string(),
    }
}

/// Every sample renders to its text, and every variant has a sample.
fn check<T>(
    samples: Vec<(T, &'static str)>,
    variant: fn(&T) -> usize,
    variants: usize,
    render: fn(&T) -> String,
) {
    let sampled: BTreeSet<usize> = samples.iter().map(|(v, _)| variant(v)).collect();
    let missing: Vec<usize> = (0..variants).filter(|i| !sampled.contains(i)).collect();
    assert!(missing.is_empty(), "variants without a sample (by their arm's number): {missing:?}");
    assert_eq!(sampled.len(), variants, "a variant count is out of date");
    let mut wrong = String::new();
    for (sample, expected) in &samples {
        let actual = render(sample);
        if actual != *expected {
            wrong += &format!("expected {expected:?}\n  actual {actual:?}\n");
        }
    }
    assert!(wrong.is_empty(), "messages that differ from their text:\n{wrong}");
}

#[test]
fn every_error_reads_as_written() {
    check(errors(), error_variant, ERROR_VARIANTS, ToString::to_string);
}

#[test]
fn every_problem_reads_as_written() {
    check(problems(), problem_variant, PROBLEM_VARIANTS, problem_text);
}

#[test]
fn every_warning_reads_as_written() {
    check(warnings(), warning_variant, WARNING_VARIANTS, ToString::to_string);
}

/// The label is written once, by severity: the same failure as a warning, and as a headline
/// without any label (what `gen status` shows in a row).
#[test]
fn labels_come_from_the_severity() {
    let e = Error::Apply { host: s("vmhost1"), reason: s("the server hung up") };
    assert_eq!(e.to_string(), "error: apply to `vmhost1` failed: the server hung up");
    assert_eq!(
        e.as_warning().to_string(),
        "warning: apply to `vmhost1` failed: the server hung up"
    );
    assert_eq!(e.headline(), "apply to `vmhost1` failed: the server hung up");
    let many = Error::UnsafeChange {
        refusals: vec![Refusal::KubeDowngrade { from: s("1.31.4"), to: s("1.30.4") }.objection()],
    };
    assert!(many.as_warning().to_string().starts_with("warning: `kubespray.kube_version`"));
}
