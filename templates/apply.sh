#!/bin/sh
# {{ crate::render::HEADER }}
# Entrypoint on host {{ host }}, run by `gen apply {{ host }}` as {{ user }} once this generation
# is current. It installs the host's systemd units and starts their VMs. $1 is the generation
# the VMs ran until now: a group whose Vagrantfile or netplan files differ from it is restarted,
# and without it every group is. Running it twice changes nothing.
set -eu

generation=$(cd "$(dirname "$0")" && pwd -P)
previous=${1:-}
root={{ root|sh }}
# GEN_UNIT_DIR is for gen's own tests, which cannot write to systemd's folder.
units_dir=${GEN_UNIT_DIR:-/etc/systemd/system}
reload=no

# same FILE: whether FILE is byte-identical in the previous generation.
same() {
  [ -n "$previous" ] && cmp -s "$generation/$1" "$previous/$1"
}

# install_unit NAME: copy the unit into systemd's folder when it differs.
install_unit() {
  if ! cmp -s "$generation/systemd/$1" "$units_dir/$1"; then
    sudo install -m 0644 "$generation/systemd/$1" "$units_dir/$1"
    reload=yes
  fi
}
{% for g in groups %}
mkdir -p {{ g.state|sh }}
install_unit {{ g.unit|sh }}
{%- endfor %}
{%- for unit in stale_units %}
# This host runs no {{ unit }} VMs any more: stop them and remove the unit.
if [ -e "$units_dir/"{{ unit|sh }} ]; then
  sudo systemctl disable --now --quiet {{ unit|sh }}
  sudo rm -f "$units_dir/"{{ unit|sh }}
  reload=yes
fi
{%- endfor %}

if [ "$reload" = yes ]; then
  sudo systemctl daemon-reload
fi
{% for g in groups %}
# {{ g.group }}: restarted when its Vagrantfile or a netplan file of its VMs changed.
sudo systemctl enable --quiet {{ g.unit|sh }}
if {% for input in g.inputs %}same {{ input|sh }}{% if !loop.last %} && {% endif %}{% endfor %}; then
  sudo systemctl start {{ g.unit|sh }}
else
  sudo systemctl restart {{ g.unit|sh }}
fi
{%- endfor %}
echo "$root: $(basename "$generation") is applied"
