#!/usr/bin/env bash
# {{ crate::layout::HEADER }}
# Deploys cluster {{ cluster }} with kubespray {{ tag }} from this machine (Linux or macOS): a venv of
# exactly requirements.lock, kubespray at {{ tag }}, then a playbook of it with inventory/.
#   deploy.sh [PLAYBOOK [ANSIBLE-PLAYBOOK ARGUMENTS...]]
#   deploy.sh                              cluster.yml, the whole cluster
#   deploy.sh scale.yml --limit NODE       any playbook of the checkout; the rest goes to ansible
# Ansible becomes root on the guests (--become --become-user=root, as kubespray's README runs
# it); kubespray's tasks on this machine stay yours. The cluster-admin kubeconfig lands in
# ~/{{ kubeconfig_home }}/{{ cluster }}/admin.conf, outside out/: never commit it.
#   KUBESPRAY_DIR  an existing kubespray checkout to use; it must be at {{ tag }}
#   PYTHON         the Python to build the venv with (default: the first that is {{ python_min.0 }}.{{ python_min.1 }} to {{ python_max.0 }}.{{ python_max.1 }}
#                  of {{ pythons }})
#   GEN_CACHE      where the venvs and the kubespray clone live (default ~/.cache/gen)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd -P)
tag={{ tag|sh }}
cache=${GEN_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/gen}

die() {
  printf 'deploy.sh: %s\n' "$*" >&2
  exit 1
}

playbook=${1:-cluster.yml}
[ "$#" -eq 0 ] || shift
case $playbook in
  -*) die "the first argument is the playbook (e.g. cluster.yml), then ansible-playbook's options: deploy.sh cluster.yml $playbook ..." ;;
esac

fits() {
  "$1" -c 'import sys; sys.exit(not ({{ python_min.0 }}, {{ python_min.1 }}) <= sys.version_info[:2] <= ({{ python_max.0 }}, {{ python_max.1 }}))' 2>/dev/null
}
if [ -n "${PYTHON:-}" ]; then
  command -v "$PYTHON" >/dev/null || die "no $PYTHON (from PYTHON); set PYTHON to a Python {{ python_min.0 }}.{{ python_min.1 }} to {{ python_max.0 }}.{{ python_max.1 }}"
  fits "$PYTHON" || die "kubespray $tag needs Python {{ python_min.0 }}.{{ python_min.1 }} to {{ python_max.0 }}.{{ python_max.1 }}, and PYTHON=$PYTHON is $("$PYTHON" -V 2>&1)"
  python=$PYTHON
else
  python=
  tried=
  for candidate in {{ pythons }}; do
    if ! command -v "$candidate" >/dev/null; then
      tried="$tried, $candidate (none)"
    elif fits "$candidate"; then
      python=$candidate
      break
    else
      tried="$tried, $candidate ($("$candidate" -V 2>&1))"
    fi
  done
  [ -n "$python" ] || die "kubespray $tag needs Python {{ python_min.0 }}.{{ python_min.1 }} to {{ python_max.0 }}.{{ python_max.1 }}; tried ${tried#, }. Install one (macOS: brew install python@{{ python_max.0 }}.{{ python_max.1 }}) or set PYTHON"
fi
minor=$("$python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')

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
[ -f "$kubespray/$playbook" ] || die "kubespray $tag has no playbook $playbook (e.g. cluster.yml, scale.yml, remove-node.yml, upgrade-cluster.yml, reset.yml)"

# Named by the lock's hash and the Python: a changed lock or another Python never reuses a venv.
venv=$cache/{{ venv|sh }}-py$minor
# The marker is written last, so a venv whose install was cut short is rebuilt, not reused.
if [ ! -e "$venv/.gen-complete" ]; then
  rm -rf "$venv"
  "$python" -m venv "$venv"
  "$venv/bin/python" -m pip install --quiet --disable-pip-version-check \
    --require-hashes --only-binary :all: --requirement "$here/requirements.lock"
  touch "$venv/.gen-complete"
fi

# inventory/group_vars sends the kubeconfig here (artifacts_dir); the folder above it is yours only.
kube_home=$HOME/{{ kubeconfig_home }}
artifacts=$kube_home/{{ cluster|sh }}
(umask 077 && mkdir -p "$artifacts")
chmod 700 "$kube_home"

printf 'deploy.sh: kubespray %s %s on cluster %s\n' "$tag" "$playbook" {{ cluster|sh }}
printf '  venv:       %s (requirements.lock %s, Python %s)\n' "$venv" {{ lock_hash|sh }} "$minor"
printf '  kubeconfig: %s\n' "$artifacts/admin.conf"

# From the checkout, so that kubespray's own ansible.cfg (roles, plugins) applies.
cd "$kubespray"
status=0
"$venv/bin/ansible-playbook" --inventory "$here/inventory/hosts.yaml" --become --become-user=root \
  "$playbook" "$@" || status=$?
if [ "$status" -ne 0 ]; then
  printf 'deploy.sh: %s failed (ansible-playbook exit status %s)\n' "$playbook" "$status" >&2
  exit "$status"
fi
if [ -f "$artifacts/admin.conf" ]; then
  printf 'deploy.sh: %s done. Next:\n  KUBECONFIG=%q kubectl get nodes\n' "$playbook" "$artifacts/admin.conf"
else
  printf 'deploy.sh: %s done; no kubeconfig yet at %s (cluster.yml writes it)\n' "$playbook" "$artifacts/admin.conf"
fi
