"""Stand-ins for VirtualBox, Vagrant and systemd on gen's test servers, keeping state.

Everything lives under $GEN_TEST_DIR (one folder per test server):
  vbox.json          VirtualBox's registry of this server's user: VM name -> uuid, hardware
                     (cpus, memory, ip, mac, bridge, box_version), running or not, boots and
                     provisioning runs. Names are unique: importing a taken name fails, as
                     `VBoxManage import` does.
  systemd/loaded/    unit files as of the last `daemon-reload`
  systemd/enabled/   one file per enabled unit (instances included)
  systemd/active/    one file per active unit
  calls.log          every call, after the generation current at that moment
  boxes.json         Vagrant's box store of this server's user (~/.vagrant.d/boxes): name ->
                     [[version, provider]]
  catalog.json       what `vagrant box add` can download: name -> [versions] (absent: any
                     box, any version); a box missing from it fails as a failed download does
  downloads-in-up.log  boxes `vagrant up` had to download itself, inside a unit's timeout
  masters.json       linked clones' masters (Vagrant's ImportMaster): box@version -> uuid, one
                     per box version for the whole user, as Vagrant keeps its id in the box's
                     folder (plugins/providers/virtualbox/action/import_master.rb)
  nics.json          the host NICs VirtualBox can bridge to: [[name, status]] (absent: eno1, Up)
  $GEN_VBOXDRV       present once VirtualBox's kernel driver is loaded (/dev/vboxdrv)
  svc.json           the user's VBoxSVC, if one runs: the cgroup it runs in (a unit's name,
                     or "session" for an ssh login), whether it quits by itself (started on
                     demand by a client), since when it has had no client
  svc-delay          seconds an on-demand VBoxSVC stays after its last client (absent: 5,
                     server.cpp's gShutdownDelayMs)
  hard.log           VMs powered off hard: killed with the cgroup they ran in
  run/               systemd's /run: the keeper's RuntimeDirectory=
  sudoers            the NOPASSWD rules of the test's user, as sudoers(5) writes them (absent:
                     the user may run anything as root)
VirtualBox (src/VBox/Main/src-server/xpcom/server.cpp): every client (VBoxManage, Vagrant)
connects to the user's one VBoxSVC and starts one on demand, in its own cgroup, when none runs;
that one quits 5 s after its last client when no VM runs. Each VM runs as a child of the
VBoxSVC that started it, in its cgroup. A caller's cgroup is $GEN_TEST_CGROUP, which the fake
systemd sets to the unit it runs; unset, it is an ssh login's "session".
`python3 fake.py shutdown` shuts the server down as systemd does: login sessions first, then
the active units, each after every unit ordered After= it.
$GEN_TEST_LAN is shared by the servers of one test: the LAN, where a running VM holds its IP
and MAC. A VM that boots onto an address another running VM holds is logged in clashes.log.

vagrant reads the Vagrantfiles gen writes (one machine each) with a few regular expressions:
real Vagrant reads the same files in tests/suite/validators.rs. Machine ids live at
$VAGRANT_DOTFILE_PATH/machines/<name>/virtualbox/id, as Vagrant keeps them.
"""

import fcntl
import fnmatch
import json
import os
import re
import shlex
import subprocess
import sys
import time
import uuid

DIR = os.environ.get("GEN_TEST_DIR") or sys.exit("GEN_TEST_DIR: set by the test sshd")
LAN = os.environ.get("GEN_TEST_LAN") or os.path.join(DIR, "lan")


def log(tool, args):
    root = os.path.join(DIR, "root", "current")
    current = os.readlink(root) if os.path.islink(root) else ""
    with open(os.path.join(DIR, "calls.log"), "a") as f:
        f.write("%s %s %s\n" % (current, tool, " ".join(args)))


class Locked:
    """A JSON file read and written under an exclusive lock."""

    def __init__(self, path, default):
        self.path, self.default = path, default

    def __enter__(self):
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        self.lock = open(self.path + ".lock", "a")
        fcntl.flock(self.lock, fcntl.LOCK_EX)
        try:
            with open(self.path) as f:
                self.data = json.load(f)
        except FileNotFoundError:
            self.data = self.default
        return self.data

    def __exit__(self, kind, value, tb):
        if kind is None:
            tmp = self.path + ".new"
            with open(tmp, "w") as f:
                json.dump(self.data, f, indent=1, sort_keys=True)
            os.replace(tmp, self.path)
        self.lock.close()


def registry():
    return Locked(os.path.join(DIR, "vbox.json"), {})


def lan():
    return Locked(os.path.join(LAN, "lan.json"), {})


def cgroup():
    return os.environ.get("GEN_TEST_CGROUP") or "session"


def svc_delay():
    path = os.path.join(DIR, "svc-delay")
    return float(open(path).read()) if os.path.exists(path) else 5.0


def svc_alive(svc, vms):
    """Whether the VBoxSVC in svc.json still runs: one started on demand has quit once it was
    without a client and a VM for its delay."""
    if not svc:
        return False
    idle = svc.get("idle_since")
    return not (svc["auto"] and idle is not None and time.time() - idle >= svc_delay()
                and not any(vm["running"] for vm in vms.values()))


def svc_file():
    return Locked(os.path.join(DIR, "svc.json"), {})


def svc_connect(vms):
    """A client connects to the user's VBoxSVC, starting one on demand in its own cgroup
    (vboxsvcSpawnDaemonByReExec: detached, --auto-shutdown) when none runs."""
    with svc_file() as svc:
        if not svc_alive(svc, vms):
            svc.clear()
            svc.update(cgroup=cgroup(), auto=True, pid=os.getpid())
        svc["idle_since"] = None
        return dict(svc)


def svc_release(vms):
    """The client leaves: an idle on-demand VBoxSVC starts its shutdown delay."""
    with svc_file() as svc:
        if svc and not any(vm["running"] for vm in vms.values()):
            svc["idle_since"] = time.time()


def kill_cgroup(vms, group):
    """systemd kills what runs in one cgroup: its VMs are powered off hard, its VBoxSVC quits."""
    for name, vm in vms.items():
        if vm["running"] and vm.get("cgroup") == group:
            power_off(vm, name)
            with open(os.path.join(DIR, "hard.log"), "a") as f:
                f.write("%s killed with %s\n" % (name, group))
    with svc_file() as svc:
        if svc.get("cgroup") == group:
            svc.clear()


def vboxsvc(args):
    """VBoxSVC run in the foreground (the keeper): it registers the user's server name, or
    exits (0, as server.cpp does) when another VBoxSVC holds it; then writes its pid file."""
    log("VBoxSVC", args)
    if any(a in ("-a", "--automate", "-A", "--auto-shutdown", "-d", "--daemonize") for a in args):
        fail("fake VBoxSVC: only the foreground server is modelled")
    with registry() as vms, svc_file() as svc:
        if svc_alive(svc, vms):
            sys.stderr.write("Failed to register the server name \"VBoxSVC\"!\n"
                             "Is another server already running?\n")
            return
        svc.clear()
        svc.update(cgroup=cgroup(), auto=False, pid=os.getpid(), idle_since=None)
    if "--pidfile" in args:
        path = args[args.index("--pidfile") + 1]
        with open(path, "w") as f:
            f.write("%d\n" % os.getpid())


def procs(args, signal):
    """pgrep/pkill -u USER -x VBoxSVC: the model's VBoxSVC; SIGUSR1 ends one that serves no VM
    (server.cpp, signal_handler: it quits when no client holds it)."""
    log("pkill" if signal else "pgrep", args)
    if "-x" not in args or args[args.index("-x") + 1] != "VBoxSVC":
        fail("fake pgrep/pkill: only -x VBoxSVC is modelled")
    with registry() as vms, svc_file() as svc:
        if not svc_alive(svc, vms):
            svc.clear()
            sys.exit(1)
        if signal is None:
            print(svc["pid"])
        elif signal == "-USR1" and not any(vm["running"] for vm in vms.values()):
            svc.clear()


def fail(message, code=1):
    sys.stderr.write(message + "\n")
    sys.exit(code)


# ---------------------------------------------------------------- Vagrant

def vagrantfile(cwd):
    path = os.path.join(cwd, "Vagrantfile")
    try:
        text = open(path).read()
    except FileNotFoundError:
        fail("A Vagrant environment or target machine is required to run this command. "
             "(no Vagrantfile in %s)" % cwd)

    def one(pattern):
        m = re.search(pattern, text)
        if not m:
            fail("fake vagrant: %s not found in %s" % (pattern, path))
        return m.group(1)

    return {
        "machine": one(r"config\.vm\.define '([^']+)'"),
        "name": one(r"vb\.name = '([^']+)'"),
        "cpus": int(one(r"vb\.cpus = (\d+)")),
        "memory": int(one(r"vb\.memory = (\d+)")),
        "ip": one(r"ip: '([^']+)'"),
        "mac": one(r"mac: '([0-9A-F]+)'"),
        "bridge": one(r"bridge: '([^']+)'"),
        "linked_clone": one(r"vb\.linked_clone = (true|false)") == "true",
        "box": one(r"config\.vm\.box = '([^']+)'"),
        "box_version": one(r"config\.vm\.box_version = '([^']+)'"),
        "netplan": one(r"source: '([^']+)'"),
    }


def host_nics():
    path = os.path.join(DIR, "nics.json")
    return json.load(open(path)) if os.path.exists(path) else [["eno1", "Up"]]


def choose_bridge(wanted):
    """Vagrant's bridged_adapter (plugins/providers/virtualbox/action/network.rb): NICs that
    are Down or Unknown are dropped; the named one is taken (compared without case); if it is
    missing, the only NIC left is taken silently, and with several Vagrant asks which one,
    which under systemd hangs until the unit's timeout (here: fails saying so)."""
    up = [n for n, status in host_nics() if status not in ("Down", "Unknown")]
    for n in up:
        if n.lower() == wanted.lower():
            return n
    if len(up) == 1:
        return up[0]
    fail("Which interface should the network bridge to? (a prompt: under systemd the unit "
         "hangs until its start timeout)")


def boot(vms, name, config, cwd):
    """Pre-boot customizations (cpus, memory, NICs) take effect; the VM runs; provisioners
    with run: "always" run."""
    vm = vms[name]
    driver = os.environ.get("GEN_VBOXDRV")
    if driver and not os.path.exists(driver):
        fail("VirtualBox is complaining that the kernel module is not loaded. Please run "
             "`VBoxManage --version` or open the VirtualBox GUI to see the error message which "
             "should contain instructions on how to fix this error.")
    vm.update(cpus=config["cpus"], memory=config["memory"], ip=config["ip"], mac=config["mac"],
              bridge=choose_bridge(config["bridge"]))
    if not os.path.isfile(os.path.join(cwd, config["netplan"])):
        fail("fake vagrant: the file provisioner's source %s is missing" % config["netplan"])
    with lan() as net:
        for addr in (vm["ip"], vm["mac"]):
            holder = net.get(addr)
            if holder and holder != [DIR, name]:
                with open(os.path.join(LAN, "clashes.log"), "a") as f:
                    f.write("%s on %s and %s\n" % (addr, holder, [DIR, name]))
            net[addr] = [DIR, name]
    vm["cgroup"] = svc_connect(vms)["cgroup"]
    # A real VM takes a minute to boot; a test that watches progress gives it seconds.
    delay = os.path.join(DIR, "boot_seconds")
    if os.path.exists(delay):
        time.sleep(float(open(delay).read()))
    vm["running"] = True
    vm["boots"] += 1
    vm["provisioned"] += 1


def power_off(vm, name):
    vm["running"] = False
    with lan() as net:
        for addr in (vm["ip"], vm["mac"]):
            if net.get(addr) == [DIR, name]:
                del net[addr]


def boxes():
    return Locked(os.path.join(DIR, "boxes.json"), {})


def box_download(name, version):
    """Fetches a box as `vagrant box add` does, with its progress meter (`\\r` and an ANSI
    erase-line between updates, as Vagrant's Basic UI writes it when stdout is no terminal)."""
    path = os.path.join(DIR, "catalog.json")
    if os.path.exists(path):
        catalog = json.load(open(path))
        if version not in catalog.get(name, []):
            fail("The box '%s' could not be found or could not be accessed in the remote "
                 "catalog (no version %s for virtualbox)." % (name, version))
    sys.stdout.write("==> box: Adding box '%s' (v%s) for provider: virtualbox\n" % (name, version))
    # Redrawn more often than the figure changes, as vagrant-libvirt's upload is.
    for percent in (0, 0, 0, 50, 50, 100):
        sys.stdout.write("\r\x1b[K    box: Progress: %d%% (Rate: 10M/s)" % percent)
        sys.stdout.flush()
    sys.stdout.write("\r\x1b[K==> box: Successfully added box '%s' (v%s) for 'virtualbox'!\n"
                     % (name, version))


def vagrant_box(args):
    """`vagrant box list` and `vagrant box add --box-version V --provider P NAME`."""
    if args[:1] == ["list"]:
        with boxes() as store:
            if not store:
                print("There are no installed boxes! Use `vagrant box add` to add some.")
            for name in sorted(store):
                for version, provider in store[name]:
                    print("%s (%s, %s)" % (name, provider, version))
        return
    if args[:1] == ["add"]:
        words = args[1:]
        version = words[words.index("--box-version") + 1]
        provider = words[words.index("--provider") + 1]
        name = words[-1]
        with boxes() as store:
            if [version, provider] in store.get(name, []):
                fail("The box you're attempting to add already exists. Remove it before\n"
                     "adding it again or add it with the `--force` flag.")
            box_download(name, version)
            store.setdefault(name, []).append([version, provider])
        return
    fail("fake vagrant: no command box %s" % " ".join(args))


def vagrant(args):
    log("vagrant", args)
    if args[:1] == ["box"]:
        return vagrant_box(args[1:])
    cwd = os.environ.get("VAGRANT_CWD") or os.getcwd()
    if not os.path.isdir(cwd):
        fail("The working directory for Vagrant doesn't exist! This is the\n"
             "specified working directory:\n\n%s" % cwd)
    dotfile = os.environ.get("VAGRANT_DOTFILE_PATH") or os.path.join(cwd, ".vagrant")
    config = vagrantfile(cwd)
    id_file = os.path.join(dotfile, "machines", config["machine"], "virtualbox", "id")
    machine_id = open(id_file).read().strip() if os.path.exists(id_file) else None
    command = args[0] if args else ""
    with registry() as vms:
        svc_connect(vms)
        try:
            vagrant_machine(vms, command, config, dotfile, id_file, machine_id, cwd)
        finally:
            svc_release(vms)


def vagrant_machine(vms, command, config, dotfile, id_file, machine_id, cwd):
    if True:
        by_id = {vm["uuid"]: name for name, vm in vms.items()}
        name = by_id.get(machine_id)
        if machine_id and name is None:
            machine_id = None  # Vagrant forgets an id VirtualBox no longer has.
        if command == "up":
            if name is None:
                # HandleBox (plugins/providers/virtualbox/action.rb, action_up): a machine not
                # yet created needs its box, and Vagrant downloads it here if it is missing.
                with boxes() as store:
                    if [config["box_version"], "virtualbox"] not in store.get(config["box"], []):
                        with open(os.path.join(DIR, "downloads-in-up.log"), "a") as f:
                            f.write("%s %s\n" % (config["box"], config["box_version"]))
                        box_download(config["box"], config["box_version"])
                        store.setdefault(config["box"], []).append(
                            [config["box_version"], "virtualbox"])
                if config["name"] in vms:
                    fail("VBoxManage: error: Machine settings file '%s.vbox' already exists"
                         % config["name"])
                name = config["name"]
                vms[name] = {"uuid": str(uuid.uuid4()), "running": False, "boots": 0,
                             "provisioned": 0, "box_version": config["box_version"],
                             "machine": config["machine"], "dotfile": dotfile,
                             "linked_clone": config["linked_clone"]}
                if config["linked_clone"]:
                    with Locked(os.path.join(DIR, "masters.json"), {}) as masters:
                        key = "%s@%s" % (config["box"], config["box_version"])
                        masters.setdefault(key, str(uuid.uuid4()))
                os.makedirs(os.path.dirname(id_file), exist_ok=True)
                with open(id_file, "w") as f:
                    f.write(vms[name]["uuid"])
                boot(vms, name, config, cwd)
            elif vms[name]["running"]:
                vms[name]["provisioned"] += 1
            else:
                boot(vms, name, config, cwd)
        elif command == "halt":
            if name is not None and vms[name]["running"]:
                power_off(vms[name], name)
        elif command == "reload":
            if name is not None:
                power_off(vms[name], name)
                boot(vms, name, config, cwd)
        elif command == "provision":
            if name is None or not vms[name]["running"]:
                fail("Guest-specific operations were attempted on a machine that is not\n"
                     "ready for guest communication.")
            vms[name]["provisioned"] += 1
        elif command == "destroy":
            if name is not None:
                power_off(vms[name], name)
                del vms[name]
            if os.path.exists(id_file):
                os.remove(id_file)
        elif command == "status":
            print("%s %s" % (config["machine"],
                             "not_created" if name is None else
                             "running" if vms[name]["running"] else "poweroff"))
        else:
            fail("fake vagrant: no command %s" % command)


# ------------------------------------------------------------ VBoxManage

def vboxmanage(args):
    log("VBoxManage", args)
    with registry() as vms:
        svc_connect(vms)
        try:
            vboxmanage_command(vms, args)
        finally:
            svc_release(vms)


def vboxmanage_command(vms, args):
    if True:
        if args[:2] == ["list", "vms"]:
            for name, vm in sorted(vms.items()):
                print('"%s" {%s}' % (name, vm["uuid"]))
        elif args[:2] == ["list", "bridgedifs"]:
            # VBoxManage's block per NIC, blank line between (the fields Vagrant reads).
            blocks = ["Name:            %s\nGUID:            0000\nDHCP:            Disabled\n"
                      "Status:          %s\nVBoxNetworkName: HostInterfaceNetworking-%s"
                      % (n, status, n) for n, status in host_nics()]
            print("\n\n".join(blocks))
        elif args[:2] == ["list", "runningvms"]:
            for name, vm in sorted(vms.items()):
                if vm["running"]:
                    print('"%s" {%s}' % (name, vm["uuid"]))
        else:
            fail("fake VBoxManage: no command %s" % " ".join(args))


# --------------------------------------------------------------- systemd

def systemd_dir(*parts):
    path = os.path.join(DIR, "systemd", *parts)
    os.makedirs(os.path.dirname(path) if parts else path, exist_ok=True)
    return path


def unit_file(unit):
    """The loaded file of a unit: a template's for an instance. Specifiers: %i."""
    name = unit
    instance = ""
    m = re.match(r"^([^@]+@)([^.]*)(\.service)$", unit)
    if m:
        name, instance = m.group(1) + m.group(3), m.group(2)
    path = os.path.join(DIR, "systemd", "loaded", name)
    if not os.path.exists(path):
        fail("Failed to start %s: Unit %s not found." % (unit, unit), 5)
    # systemd's /run is the test server's run/.
    return open(path).read().replace("%i", instance).replace("/run/", os.path.join(DIR, "run/"))


def unit_service(text):
    """The settings the stand-in acts on. Exec lines are split into words as systemd does
    (quotes; `$$` is a `$`)."""
    env = dict(os.environ)
    service = {"env": env, "cwd": None, "pre": [], "start": [], "post": [], "stop": [],
               "user": None, "after": [], "kill": "control-group", "runtime": None}
    words = lambda value: shlex.split(value.replace("$$", "$"))
    for line in text.splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            k, _, v = value.partition("=")
            env[k] = v
        elif key == "WorkingDirectory":
            service["cwd"] = value
        elif key == "ExecStartPre":
            service["pre"].append(words(value))
        elif key == "ExecStart":
            service["start"].append(words(value))
        elif key == "ExecStartPost":
            service["post"].append(words(value))
        elif key == "ExecStop":
            service["stop"].append(words(value))
        elif key == "User":
            service["user"] = value
        elif key == "After":
            service["after"] += value.split()
        elif key == "KillMode":
            service["kill"] = value
        elif key == "RuntimeDirectory":
            service["runtime"] = value
    return service


def run_exec(unit, which):
    """Runs a unit's Exec lines as systemd would: its Environment= and WorkingDirectory=, the
    User= it names (which must be the test's user). An absolute command runs from the test
    PATH by its base name: the stand-ins replace /usr/bin/vagrant."""
    service = unit_service(unit_file(unit))
    # systemd resolves User= to a uid; two names may share one (the walk-through's `lab` is uid 0).
    uid = subprocess.run(["id", "-u", service["user"]], capture_output=True, text=True).stdout.strip()
    if uid != str(os.getuid()):
        me = subprocess.run(["id", "-un"], capture_output=True, text=True).stdout.strip()
        fail("%s: User=%s is not the test's user %s" % (unit, service["user"], me))
    cwd = service["cwd"] or "/"
    service["env"]["GEN_TEST_CGROUP"] = unit
    if service["runtime"] and which == "start":
        os.makedirs(os.path.join(DIR, "run", service["runtime"]), exist_ok=True)
    if not os.path.isdir(cwd):
        fail("%s: Failed at step CHDIR spawning %s: No such file or directory "
             "(status=200/CHDIR)" % (unit, which), 1)
    commands = service["pre"] + service["start"] + service["post"] if which == "start" \
        else service[which]
    for command in commands:
        command = [os.path.basename(command[0])] + command[1:]
        done = subprocess.run(command, cwd=cwd, env=service["env"])
        if done.returncode != 0:
            fail("%s: %s %s failed (status=%d)" % (unit, which, " ".join(command),
                                                   done.returncode))


def systemctl(args):
    log("systemctl", args)
    waited = 0
    while os.path.exists(os.path.join(DIR, "hold")) and waited < 600:
        time.sleep(0.05)
        waited += 1
    words = [a for a in args if not a.startswith("-")]
    flags = [a for a in args if a.startswith("-")]
    command, units = (words[0], words[1:]) if words else ("", [])
    active = lambda u: os.path.join(systemd_dir("active", ""), u)
    enabled = lambda u: os.path.join(systemd_dir("enabled", ""), u)
    fail_file = os.path.join(DIR, "fail")
    if command in ("start", "restart") and os.path.exists(fail_file):
        if open(fail_file).read().strip() in units:
            fail("systemctl: failing to %s %s, as the test asked" % (command, units[0]))
    if command == "daemon-reload":
        loaded = systemd_dir("loaded", "")
        for f in os.listdir(loaded):
            os.remove(os.path.join(loaded, f))
        units_dir = os.environ["GEN_UNIT_DIR"]
        for f in os.listdir(units_dir):
            with open(os.path.join(units_dir, f)) as src, open(os.path.join(loaded, f), "w") as dst:
                dst.write(src.read())
        return
    if command == "is-active":
        code = 0
        for u in units:
            on = os.path.exists(active(u))
            if "--quiet" not in flags:
                print("active" if on else "inactive")
            code = code or (0 if on else 3)
        sys.exit(code)
    for u in units:
        if command == "enable":
            unit_file(u)
            open(enabled(u), "w").close()
            if "--now" in flags:
                start(u, active, "--no-block" in flags)
        elif command == "disable":
            if os.path.exists(enabled(u)):
                os.remove(enabled(u))
            if "--now" in flags:
                stop(u, active)
        elif command == "start":
            start(u, active, "--no-block" in flags)
        elif command == "stop":
            stop(u, active)
        elif command == "restart":
            stop(u, active)
            start(u, active)
        else:
            fail("fake systemctl: no command %s" % command)


def job_file(u):
    return os.path.join(systemd_dir("jobs", ""), u)


def start(u, active, queue=False):
    """systemd's start job: with --no-block it is queued and runs on its own (here: a detached
    process) while systemctl returns; a later blocking start of the unit joins that job and
    returns its result (systemctl(1), --no-block; jobs of one unit merge)."""
    job = job_file(u)
    if os.path.exists(job):
        while os.path.exists(job):
            time.sleep(0.05)
        if not os.path.exists(active(u)):
            fail("Job for %s failed." % u)
        return
    if os.path.exists(active(u)):
        return
    open(job, "w").close()
    if queue:
        # Its output goes where systemd's would, to a journal of its own, not to the caller.
        journal = open(os.path.join(systemd_dir("journal", ""), u), "a")
        subprocess.Popen([sys.executable, os.path.realpath(__file__), "job", u],
                         stdin=subprocess.DEVNULL, stdout=journal, stderr=journal,
                         start_new_session=True)
        return
    try:
        run_exec(u, "start")
        open(active(u), "w").close()
    finally:
        os.remove(job)


def run_job(u):
    active = lambda u: os.path.join(systemd_dir("active", ""), u)
    try:
        run_exec(u, "start")
        open(active(u), "w").close()
    finally:
        os.remove(job_file(u))


def stop(u, active):
    if not os.path.exists(active(u)):
        return
    # systemd takes the unit down whether or not ExecStop succeeds.
    os.remove(active(u))
    try:
        run_exec(u, "stop")
    finally:
        # Then it kills what is left in the unit's cgroup (systemd.kill(5)): all of it, or
        # with KillMode=process only the main process, which a oneshot unit no longer has.
        if unit_service(unit_file(u))["kill"] != "process":
            with registry() as vms:
                kill_cgroup(vms, u)


def shutdown():
    """The server shuts down as systemd does it: the login sessions' scopes are stopped
    first (every process in them gets SIGTERM), then the active units, each once every active
    unit ordered After= it has stopped; what runs after that is killed."""
    with registry() as vms:
        with svc_file() as svc:
            groups = {vm.get("cgroup") for vm in vms.values() if vm["running"]}
            groups.add(svc.get("cgroup"))
        for group in sorted(g for g in groups if g and not g.endswith(".service")):
            kill_cgroup(vms, group)
    active = lambda u: os.path.join(systemd_dir("active", ""), u)
    while True:
        units = sorted(os.listdir(systemd_dir("active", "")))
        if not units:
            break
        after = {u: unit_service(unit_file(u))["after"] for u in units}
        ready = [u for u in units if not any(u in after[v] for v in units if v != u)]
        for u in ready or units:
            stop(u, active)
    with registry() as vms:
        for group in sorted({vm.get("cgroup") for vm in vms.values() if vm["running"]}):
            kill_cgroup(vms, group)


# ------------------------------------------------------------------ sudo

def sudo_rules():
    """The commands of every `... NOPASSWD: CMD, CMD` line in $GEN_TEST_DIR/sudoers, as
    (path, args or None); None when there is no such file (anything goes). A line without
    NOPASSWD counts as a rule that needs a password."""
    path = os.path.join(DIR, "sudoers")
    if not os.path.exists(path):
        return None
    rules, passworded = [], False
    for line in open(path).read().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if "NOPASSWD:" not in line:
            passworded = True
            continue
        commands = line.split("NOPASSWD:", 1)[1]
        # Commands are separated by unescaped commas; `\,` `\:` `\=` `\\` are literal.
        for command in re.split(r"(?<!\\),", commands):
            command = re.sub(r"\\([,:=\\])", r"\1", command.strip())
            words = command.split(None, 1)
            rules.append((words[0], words[1] if len(words) > 1 else None))
    return rules, passworded


def sudo_allows(rules, argv):
    """sudo's matching (plugins/sudoers/match_command.c): the program sudo finds in its path
    (here the test PATH, stand-ins first) must be the rule's file: same base name, and the same
    file or the stand-in for it (a rule names /bin/systemctl or /usr/bin/systemctl, which the
    stand-in on PATH replaces, as usrmerge makes them one file). Arguments match with
    fnmatch, `*` spanning spaces, as sudoers(5) says; a rule without arguments allows any."""
    found = None
    for d in os.environ.get("PATH", "").split(":"):
        candidate = os.path.join(d, argv[0])
        if os.path.isfile(candidate) and os.access(candidate, os.X_OK):
            found = candidate
            break
    if found is None:
        return False
    args = " ".join(argv[1:])
    for path, pattern in rules:
        if path == "ALL":
            return True
        if os.path.basename(path) != os.path.basename(found):
            continue
        system = os.path.dirname(path) in ("/bin", "/usr/bin", "/sbin", "/usr/sbin")
        same = os.path.exists(path) and os.path.samefile(path, found)
        if not (same or system):
            continue
        if pattern is None or fnmatch.fnmatchcase(args, pattern):
            return True
    return False


def sudo(args):
    log("sudo", args)
    flags = []
    while args and args[0].startswith("-"):
        flags.append(args.pop(0))
    if any(f not in ("-n", "-l") for f in flags) or not args:
        fail("fake sudo: options %s %s not modelled" % (flags, args))
    got = sudo_rules()
    allowed = got is None or sudo_allows(got[0], args)
    if not allowed:
        if got[0] and "-l" in flags:
            # listpw=any: a NOPASSWD rule lets the user list without a password; the command
            # is simply not allowed.
            sys.exit(1)
        if "-n" in flags:
            fail("sudo: a password is required")
        fail("sudo: a terminal is required to read the password; either use the -S option to "
             "read from standard input or configure an askpass helper")
    if "-l" in flags:
        print(" ".join(args))
        return
    os.execvp(args[0], args)


if __name__ == "__main__":
    sys.dont_write_bytecode = True
    if sys.argv[1:2] == ["job"] and len(sys.argv) == 3:
        run_job(sys.argv[2])
    elif sys.argv[1:] == ["shutdown"]:
        shutdown()
    else:
        fail("usage: fake.py shutdown | fake.py job UNIT")
