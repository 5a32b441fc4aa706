#!/usr/bin/env bash
# The benchmark of issue 20, point 4: time from `gen apply` start to every VM ssh-reachable on a
# real libvirt server (tests/suite/libvirt.rs, `bench_time_to_a_running_lab`): two VMs on a
# fresh server once (the first comes up alone and uploads the box's image into the pool), then
# per round on that warm server one VM, two VMs of one apply (their starts queued side by
# side), and the same two one after another; medians of N rounds, and ratios.
#
#   sudo bench/lab-up.sh [--runs N]     (default 3; a round takes about 15 minutes under TCG)
#
# Needs what the test needs (root, libvirt, vagrant-libvirt, qemu: .ci/install-tools) and the
# guest image (tests/guest/cached-image.sh builds it once). Everything runs in network and mount
# namespaces the test makes; nothing leaves the machine.
set -euo pipefail
runs=3
while [ $# -gt 0 ]; do
    case $1 in
        --runs) runs=$2; shift 2 ;;
        *) echo "usage: bench/lab-up.sh [--runs N]" >&2; exit 2 ;;
    esac
done
cd "$(dirname "$0")/.."
GEN_BENCH_RUNS=$runs exec cargo test --release --test suite -- --ignored --exact \
    libvirt::bench_time_to_a_running_lab --nocapture
