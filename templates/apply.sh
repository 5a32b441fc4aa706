#!/bin/sh
# {{ crate::layout::HEADER }}
# The steps `gen apply {{ host }}` runs on host {{ host }} as {{ user }}, one per call:
# `apply.sh STEP [NODE]`. gen decides which steps run and in which order (its plan, printed by
# `gen apply --dry-run`); each step here does one thing to one VM or to the unit, and running
# a step twice changes nothing more. What runs as root runs with `sudo -n` (no terminal to ask
# a password on): the sudoers line it needs is in the README, "Server requirements", and `gen
# apply` checks it with `sudo -n -l` before it sends anything.
#
{%- match provider %}
{%- when Which::VirtualBox %}
#   preflight NODE  run by the VM's unit before `vagrant up` (ExecStartPre): wait for
#                   VirtualBox's driver, check the bridge NIC as Vagrant will choose it
#   keeper          install and start the user's VBoxSVC keeper unit, before any VirtualBox
#                   client runs, so that every VM is a child of the keeper's VBoxSVC
{%- when Which::Libvirt %}
#   preflight NODE  run by the VM's unit before `vagrant up` (ExecStartPre): wait for the
#                   bridge to exist and be up
{%- endmatch %}
#   box             add the box the VMs are made from to the user's box store, if missing
#   install-unit    copy the template unit into systemd's folder when it differs
#   retire-unit     remove the template unit (no VM left on this host)
#   create NODE     point vms/NODE at this generation, enable and start its unit (vagrant up)
#   start NODE      the same, for a VM that exists but is not running
{%- match provider %}
{%- when Which::VirtualBox %}
{%- when Which::Libvirt %}
#   launch NODE     the same as create, but only queue the unit's start, so that the new VMs
#                   boot side by side (once libvirt's pool has the box: see the step)
#   wait NODE       wait for a launched VM's start, and fail as it failed
{%- endmatch %}
#   reload NODE     point vms/NODE here and restart its unit (halt, then up: new cpus, memory, NIC)
#   halt NODE       stop its unit (vagrant halt), before another VM takes its address
#   provision NODE  point vms/NODE here and run the provisioners in the running VM, no reboot
#   destroy NODE    stop and disable its unit, `vagrant destroy -f` with the Vagrantfile and
#                   state it was made with, then remove vms/NODE and state/NODE
set -eu

generation=$(cd "$(dirname "$0")" && pwd -P)
root={{ root|sh }}
template={{ unit|sh }}
{%- match provider %}
{%- when Which::VirtualBox %}
keeper_template={{ keeper_template|sh }}
keeper={{ keeper|sh }}
{%- when Which::Libvirt %}
{%- endmatch %}
bridge={{ bridge|sh }}
box={{ box_name|sh }}
box_version={{ box_version|sh }}
# GEN_UNIT_DIR is for gen's own tests, which cannot write to systemd's folder.
units_dir=${GEN_UNIT_DIR:-/etc/systemd/system}
step=$1
node=${2:-}
unit={{ unit_prefix|sh }}"$node.service"

# wrapper: writes bin/vagrant-NODE, Vagrant with this VM's environment as its unit runs it,
# for a person at the server (README, "Layout on each server").
wrapper() {
  mkdir -p "$root/{{ bin_folder }}"
  cat >"$root/{{ bin_folder }}/.vagrant-$node.new" <<WRAPPER
#!/bin/sh
# Written by gen's apply.sh: Vagrant for VM $node with the environment of its unit $unit.
# Use it instead of plain \`vagrant\` in $root/vms/$node, which would not know the VM (its
# state is in $root/state/$node) and would try to make a second one. To start or stop the VM,
# prefer \`sudo systemctl start|stop $unit\`, so that systemd knows.
{%- for (key, value) in vagrant_environment %}
export {{ key }}='{{ value }}'
{%- endfor %}
exec vagrant "\$@"
WRAPPER
  chmod 0755 "$root/{{ bin_folder }}/.vagrant-$node.new"
  mv "$root/{{ bin_folder }}/.vagrant-$node.new" "$root/{{ bin_folder }}/vagrant-$node"
}

# vagrant ARG...: Vagrant as the unit runs it, for this VM: through its wrapper.
vagrant() {
  wrapper
  "$root/{{ bin_folder }}/vagrant-$node" "$@"
}

# point: vms/NODE becomes this generation's folder of the VM, with one rename. Until the step
# has finished, pending/NODE says the VM may not have what vms/NODE describes.
point() {
  mkdir -p "$root/vms" "$root/state/$node" "$root/pending"
  : >"$root/pending/$node"
  ln -sfn "$generation/vms/$node" "$root/vms/.$node.new"
  mv -T "$root/vms/.$node.new" "$root/vms/$node"
  wrapper
}

done_with() {
  rm -f "$root/pending/$node"
}

# stage_unit FILE: this generation's unit FILE, put at a fixed path under the root first, so
# that the root command that installs it is one fixed line (README, "Server requirements").
stage_unit() {
  mkdir -p "$root/{{ units_folder }}"
  cp "$generation/systemd/$1" "$root/{{ units_folder }}/.$1.new"
  mv "$root/{{ units_folder }}/.$1.new" "$root/{{ units_folder }}/$1"
}

case $step in
preflight)
{%- match provider %}
{%- when Which::VirtualBox %}
  # VirtualBox's driver: the unit is ordered after vboxdrv.service and virtualbox.service, but
  # the device node may come a moment after the module loads. GEN_VBOXDRV is for gen's tests.
  driver=${GEN_VBOXDRV:-/dev/vboxdrv}
  waited=0
  while [ ! -e "$driver" ]; do
    if [ "$waited" -ge {{ driver_wait }} ]; then
      echo "apply.sh: $driver did not appear within {{ driver_wait }} s: VirtualBox's kernel driver is not loaded (vboxdrv.service or virtualbox.service; Oracle's package rebuilds it with /sbin/vboxconfig)" >&2
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
  # The bridge NIC as Vagrant chooses it (plugins/providers/virtualbox/action/network.rb,
  # bridged_adapter): from `VBoxManage list bridgedifs` (blocks of `Key: value` lines, read
  # as driver/version_5_0.rb does), NICs whose Status is Down or Unknown are dropped, then the
  # name is compared without case. A missing NIC would make Vagrant take the only NIC left, or
  # ask which one: a hang under systemd.
  nics=$(command VBoxManage list bridgedifs)
  status=$(printf '%s\n' "$nics" | awk -v nic="$bridge" '
    /^Name:/ { sub(/^Name:[ \t]+/, ""); name = $0 }
    /^Status:/ { sub(/^Status:[ \t]+/, ""); if (tolower(name) == tolower(nic)) print; name = "" }')
  case $status in
  "")
    listed=$(printf '%s\n' "$nics" | sed -n 's/^Name:[[:space:]]*//p' | tr '\n' ' ')
    echo "apply.sh: the bridge NIC $bridge is not one VirtualBox can bridge to (it lists: ${listed:-none}); Vagrant would bridge $node to another NIC or ask which one: fix the NIC, or hosts.{{ host }}.bridge in site.toml" >&2
    exit 1
    ;;
  Down | Unknown)
    echo "apply.sh: the bridge NIC $bridge is $status: Vagrant drops it and would bridge $node to another NIC or ask which one; bring $bridge up" >&2
    exit 1
    ;;
  esac
  
{%- when Which::Libvirt %}
  # The bridge, as libvirt attaches the VM to it (a Linux bridge, `<source bridge=...>`): it
  # may come up a moment after network-online.target. `ip -d` names a bridge's kind.
  waited=0
  while :; do
    link=$(command ip -d -o link show dev "$bridge" 2>/dev/null || true)
    case $link in
    *[\<,]UP[,\>]*" bridge "*) break ;;
    esac
    if [ "$waited" -ge {{ bridge_wait }} ]; then
      case $link in
      "") echo "apply.sh: there is no network interface $bridge: libvirt attaches $node to the Linux bridge hosts.{{ host }}.bridge names (README, \"Server requirements\": a bridge that holds the LAN NIC); make it, or fix hosts.{{ host }}.bridge in site.toml" >&2 ;;
      *" bridge "*) echo "apply.sh: the bridge $bridge is down after {{ bridge_wait }} s: bring it up" >&2 ;;
      *) echo "apply.sh: $bridge is not a Linux bridge: libvirt attaches $node to a bridge that holds the LAN NIC (README, \"Server requirements\"), not to the NIC itself; make one, or fix hosts.{{ host }}.bridge in site.toml" >&2 ;;
      esac
      exit 1
    fi
    sleep 1
    waited=$((waited + 1))
  done
{%- endmatch %}
  ;;
box)
  # Before any unit starts: `vagrant up` of a machine not yet created would download the box
  # inside the unit's start timeout. `vagrant box list` prints `NAME (PROVIDER, VERSION)` (and
  # `, (ARCH)` before the `)` from Vagrant 2.4: plugins/commands/box/command/list.rb).
  if VAGRANT_CWD="$generation" VAGRANT_CHECKPOINT_DISABLE=1 command vagrant box list |
    awk -v box="$box" -v version="$box_version" '$1 == box && $2 == "({{ provider_word }}," &&
      ($3 == version ")" || $3 == version ",") { found = 1 } END { exit !found }'; then
    echo "box $box $box_version ({{ provider_word }}) is in the box store"
  elif ! VAGRANT_CWD="$generation" VAGRANT_CHECKPOINT_DISABLE=1 command vagrant box add \
    --box-version "$box_version" --provider {{ provider_word }} "$box"; then
    echo "apply.sh: could not add the box $box $box_version ({{ provider_word }}); no VM was created" >&2
    exit 1
  fi
{%- match provider %}
{%- when Which::Libvirt %}
  # The management network is the server's: made here rather than by the first VM, which would
  # take it away again when it is destroyed (libvirt.rs, KEEP_MANAGEMENT_NETWORK).
  if ! command virsh -q -c {{ uri|sh }} net-info {{ management_network|sh }} >/dev/null 2>&1; then
    network_xml=$(mktemp)
    printf '%s' {{ management_network_xml|sh }} >"$network_xml"
    if ! command virsh -q -c {{ uri|sh }} net-define "$network_xml" >/dev/null; then
      rm -f "$network_xml"
      echo "apply.sh: could not define libvirt's network {{ management_network }}; no VM was created" >&2
      exit 1
    fi
    rm -f "$network_xml"
  fi
  if ! command virsh -q -c {{ uri|sh }} net-info {{ management_network|sh }} | grep -q '^Active: *yes' &&
    ! command virsh -q -c {{ uri|sh }} net-start {{ management_network|sh }} >/dev/null; then
    echo "apply.sh: could not start libvirt's network {{ management_network }}; no VM was created" >&2
    exit 1
  fi
  command virsh -q -c {{ uri|sh }} net-autostart {{ management_network|sh }} >/dev/null
  echo "network {{ management_network }} is defined, active and starts with libvirtd"
{%- when Which::VirtualBox %}
{%- endmatch %}
  ;;
{%- match provider %}
{%- when Which::VirtualBox %}
keeper)
  # Before any step runs Vagrant or VBoxManage: VirtualBox starts each VM as a child of the
  # user's VBoxSVC, in that VBoxSVC's cgroup; the keeper unit says why it must be its own.
  if ! cmp -s "$generation/systemd/$keeper_template" "$units_dir/$keeper_template"; then
    stage_unit "$keeper_template"
    {{ sudo.install_keeper }}
    {{ sudo.daemon_reload }}
  fi
  if ! {{ sudo.start_keeper }}; then
    pids=$(command pgrep -u "$(id -un)" -x VBoxSVC | tr '\n' ' ')
    echo "apply.sh: $keeper did not start: a VBoxSVC of {{ user }} runs outside it (pid ${pids:-none}; /proc/PID/cgroup says where) and serves VMs or clients, so it does not quit; a VM it starts would be powered off hard at shutdown. Halt the VMs it serves (\`VBoxManage list runningvms\`; gen's with \`sudo systemctl stop {{ unit_prefix }}*.service\`) or reboot the server, then apply again" >&2
    exit 1
  fi
  ;;
{%- when Which::Libvirt %}
{%- endmatch %}
install-unit)
  if ! cmp -s "$generation/systemd/$template" "$units_dir/$template"; then
    stage_unit "$template"
    {{ sudo.install }}
    {{ sudo.daemon_reload }}
  fi
  ;;
retire-unit)
  if [ -e "$units_dir/$template" ]; then
    {{ sudo.remove }}
    {{ sudo.daemon_reload }}
  fi
  ;;
create | start)
  point
  {{ sudo.enable_now }}
  done_with
  ;;
{%- match provider %}
{%- when Which::VirtualBox %}
{%- when Which::Libvirt %}
launch)
  point
  # vagrant-libvirt uploads a box's image into libvirt's pool when the first VM needs it,
  # under a lock held only inside one Vagrant process (action/handle_box_image.rb): two first
  # `vagrant up` side by side would both try. So the start is only queued once the image and
  # the network (the box step's) are there; until then this VM comes up alone and uploads it.
  # vms/NODE stays pending until its wait.
  if command virsh -q -c {{ uri|sh }} vol-info --pool {{ pool|sh }} {{ pool_volume|sh }} >/dev/null 2>&1 &&
    command virsh -q -c {{ uri|sh }} net-info {{ management_network|sh }} 2>/dev/null | grep -q '^Active: *yes'; then
    {{ sudo.enable_queued }}
    echo "$unit: start queued (vagrant up runs beside the others)"
  else
    {{ sudo.enable_now }}
  fi
  ;;
wait)
  # `systemctl start` of a unit whose start job runs joins that job and returns its result
  # (systemctl(1)); one that is active already returns at once, and one that failed is
  # started again, once.
  {{ sudo.start }}
  done_with
  ;;
{%- endmatch %}
reload)
  point
  {{ sudo.restart }}
  done_with
  ;;
halt)
  {{ sudo.stop }}
  ;;
provision)
  point
  vagrant provision
  done_with
  ;;
destroy)
  if [ -e "$units_dir/$template" ]; then
    {{ sudo.disable_now }}
  fi
  if [ -e "$root/vms/$node" ]; then
    vagrant destroy -f
  fi
  rm -f "$root/vms/$node" "$root/pending/$node" "$root/{{ bin_folder }}/vagrant-$node"
  rm -rf "$root/state/$node"
  ;;
*)
  echo "apply.sh: unknown step $step" >&2
  exit 2
  ;;
esac
