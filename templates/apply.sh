#!/bin/sh
# {{ crate::render::HEADER }}
# The steps `gen apply {{ host }}` runs on host {{ host }} as {{ user }}, one per call:
# `apply.sh STEP [NODE]`. gen decides which steps run and in which order (its plan, printed by
# `gen apply --dry-run`); each step here does one thing to one VM or to the unit, and running
# a step twice changes nothing more. What runs as root runs with `sudo -n` (no terminal to ask
# a password on): the sudoers line it needs is in the README, "Server requirements", and `gen
# apply` checks it with `sudo -n -l` before it sends anything.
#
#   install-unit    copy the template unit into systemd's folder when it differs
#   retire-unit     remove the template unit (no VM left on this host)
#   create NODE     point vms/NODE at this generation, enable and start its unit (vagrant up)
#   start NODE      the same, for a VM that exists but is not running
#   reload NODE     point vms/NODE here and restart its unit (halt, then up: new cpus, memory, NIC)
#   halt NODE       stop its unit (vagrant halt), before another VM takes its address
#   provision NODE  point vms/NODE here and run the provisioners in the running VM, no reboot
#   destroy NODE    stop and disable its unit, `vagrant destroy -f` with the Vagrantfile and
#                   state it was made with, then remove vms/NODE and state/NODE
set -eu

generation=$(cd "$(dirname "$0")" && pwd -P)
root={{ root|sh }}
template={{ unit|sh }}
# GEN_UNIT_DIR is for gen's own tests, which cannot write to systemd's folder.
units_dir=${GEN_UNIT_DIR:-/etc/systemd/system}
step=$1
node=${2:-}
unit={{ unit_prefix|sh }}"$node.service"

# vagrant ARG...: Vagrant as the unit runs it, for this VM.
vagrant() {
  VAGRANT_CWD="$root/vms/$node" VAGRANT_DOTFILE_PATH="$root/state/$node" \
    VAGRANT_CHECKPOINT_DISABLE=1 command vagrant "$@"
}

# point: vms/NODE becomes this generation's folder of the VM, with one rename. Until the step
# has finished, pending/NODE says the VM may not have what vms/NODE describes.
point() {
  mkdir -p "$root/vms" "$root/state/$node" "$root/pending"
  : >"$root/pending/$node"
  ln -sfn "$generation/vms/$node" "$root/vms/.$node.new"
  mv -T "$root/vms/.$node.new" "$root/vms/$node"
}

done_with() {
  rm -f "$root/pending/$node"
}

case $step in
install-unit)
  if ! cmp -s "$generation/systemd/$template" "$units_dir/$template"; then
    # Staged at a fixed path first, so that the root command is one fixed line (README,
    # "Server requirements").
    mkdir -p "$root/{{ units_folder }}"
    cp "$generation/systemd/$template" "$root/{{ units_folder }}/.$template.new"
    mv "$root/{{ units_folder }}/.$template.new" "$root/{{ units_folder }}/$template"
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
  rm -f "$root/vms/$node" "$root/pending/$node"
  rm -rf "$root/state/$node"
  ;;
*)
  echo "apply.sh: unknown step $step" >&2
  exit 2
  ;;
esac
