#!/usr/bin/env bash
# {{ crate::render::HEADER }}
# Deploys cluster {{ cluster }} with kubespray {{ tag }} from this machine:
# a venv from requirements.txt, kubespray at {{ tag }}, then cluster.yml with inventory/.
# Arguments are passed to ansible-playbook (e.g. --limit, --tags).
#   KUBESPRAY_DIR  an existing kubespray checkout to use; it must be at {{ tag }}
#   PYTHON         the Python to build the venv with (default python3)
#   GEN_CACHE      where the venv and kubespray clone live (default ~/.cache/gen)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
tag={{ tag|sh }}
cache=${GEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gen}
python=${PYTHON:-python3}

die() {
  printf 'deploy.sh: %s\n' "$*" >&2
  exit 1
}

command -v "$python" >/dev/null || die "no $python; set PYTHON to a Python {{ python_min.0 }}.{{ python_min.1 }} to {{ python_max.0 }}.{{ python_max.1 }}"
if ! "$python" -c 'import sys; sys.exit(not ({{ python_min.0 }}, {{ python_min.1 }}) <= sys.version_info[:2] <= ({{ python_max.0 }}, {{ python_max.1 }}))'; then
  die "kubespray $tag needs Python {{ python_min.0 }}.{{ python_min.1 }} to {{ python_max.0 }}.{{ python_max.1 }}, and $python is $("$python" -V 2>&1); set PYTHON to one that fits"
fi

if [ -n "${KUBESPRAY_DIR:-}" ]; then
  kubespray=$KUBESPRAY_DIR
else
  kubespray=$cache/kubespray-$tag
  if [ ! -d "$kubespray/.git" ]; then
    git clone --quiet --depth 1 --branch "$tag" https://github.com/kubernetes-sigs/kubespray.git "$kubespray"
  fi
fi
head=$(git -C "$kubespray" rev-parse HEAD) || die "$kubespray is not a git checkout of kubespray"
want=$(git -C "$kubespray" rev-parse --verify --quiet "refs/tags/$tag^{commit}") ||
  die "$kubespray has no tag $tag; fetch it (git -C $kubespray fetch --tags) or unset KUBESPRAY_DIR"
[ "$head" = "$want" ] || die "$kubespray is not at $tag; run: git -C $kubespray checkout $tag"

venv=$cache/{{ venv|sh }}
# The marker is written last, so a venv whose install was cut short is rebuilt, not reused.
if [ ! -e "$venv/.gen-complete" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/pip" install --quiet --requirement "$here/requirements.txt"
  touch "$venv/.gen-complete"
fi

# From the checkout, so that kubespray's own ansible.cfg (roles, plugins) applies.
cd "$kubespray"
exec "$venv/bin/ansible-playbook" --inventory "$here/inventory/hosts.yaml" cluster.yml "$@"
