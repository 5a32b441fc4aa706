#!/usr/bin/env bash
# The benchmark of issue 6: gen build, check and diff at lab scale and at 1,000 servers, against
# the cost of copying the same tree.
#
#   cargo build --release && bench/run.sh [--runs N] [--dir DIR] [--quick] [--no-strace] [--gen PATH]
#
# Inputs: the example lab (`site.toml` at the top of the repository) and sites of 100 and 1,000
# VM servers with 10 VMs each, written by bench/gen-site.sh (deterministic). For each, after one
# warm-up round, N rounds run every command once, interleaved so that drift of the machine hits
# all of them alike. N is 31, 15 and 7 (a run of the example takes milliseconds, so it needs more
# samples for a stable median); --runs sets it for all three:
#
#   cold    gen build into a folder that does not exist yet (a new one each run)
#   no-op   gen build into an up-to-date folder; it must leave every file as it was
#   check   gen check of that folder (exit 0)
#   diff    gen diff of that folder (exit 0)
#   floor   cp -a of that folder to a new folder on the same file system
#
# Every command runs as a user would run it, from the case's folder with gen's default paths.
# Time is wall time of the whole process (bash's $EPOCHREALTIME around it: no fork for the
# clock), median of N. Peak memory is the maximum resident set of the process (GNU time's %M),
# median of three separate runs, so measuring memory never slows a timed run. Ratios are taken
# only between figures of this one run. Work happens in /dev/shm when it exists (so the disk
# does not set the floor), else in $TMPDIR or /tmp, or in the folder --dir names (e.g. one on
# the disk that holds your checkout); the header says which.
#
# --quick measures sites of 10 and 100 servers instead of 100 and 1,000 (a few seconds).
#
# Then the cost of many errors (issue 12): the largest site made invalid three ways (its nodes
# sharing 100 addresses, gen-site.sh SERVERS 10 100: 9,900 duplicate-address errors at 1,000
# servers; every node's `ip` key misspelt; every node's `host` misspelt), each error located and
# excerpted; `gen build` must refuse each (exit 2) in no more time than the valid site's cold
# build, which is the target printed.
#
# Then, when strace is installed, the system calls per file of a cold build, a no-op build and
# the floor at the largest size (strace -c -f), in a separate run.
#
# Needs: bash >= 5, coreutils, findutils; GNU time (Debian package `time`) for memory and strace
# (package `strace`) for the system calls, each optional. Installs nothing.
set -euo pipefail

runs=
base=
quick=false
want_strace=true
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
gen=$root/target/release/gen
while (($#)); do
    case $1 in
    --runs) runs=${2:?--runs needs a number}; shift 2 ;;
    --dir) base=${2:?--dir needs a folder}; shift 2 ;;
    --quick) quick=true; shift ;;
    --no-strace) want_strace=false; shift ;;
    --gen) gen=${2:?--gen needs a path}; shift 2 ;;
    -h | --help) sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "bench/run.sh: unknown argument \`$1\` (try --help)" >&2; exit 2 ;;
    esac
done
if ((BASH_VERSINFO[0] < 5)); then
    echo "bench/run.sh: needs bash 5 or later (for \$EPOCHREALTIME)" >&2
    exit 2
fi
if [[ ! -x $gen ]]; then
    echo "bench/run.sh: no binary at $gen: run \`cargo build --release\` first" >&2
    exit 2
fi
gen=$(cd "$(dirname "$gen")" && pwd)/$(basename "$gen")
have_time=false
[[ -x /usr/bin/time ]] && /usr/bin/time -f %M true >/dev/null 2>&1 && have_time=true
have_strace=false
$want_strace && command -v strace >/dev/null && have_strace=true

if [[ -n $base ]]; then
    base=$(cd "$base" && pwd)
elif [[ -d /dev/shm && -w /dev/shm ]]; then
    base=/dev/shm
else
    base=${TMPDIR:-/tmp}
fi
work=$(mktemp -d "$base/gen-bench.XXXXXX")
trap 'rm -rf "$work"' EXIT
fs_type=$(df --output=fstype "$work" 2>/dev/null | tail -n 1 || stat -f -c %T "$work")

if $quick; then
    cases=(example:lab:31 s10:10:15 s100:100:7)
else
    cases=(example:lab:31 s100:100:15 s1000:1000:7)
fi
vms=10

die() {
    echo "bench/run.sh: $*" >&2
    exit 1
}

# Microseconds since the epoch, from bash's own clock ("s.uuuuuu", or "s,uuuuuu" in some
# locales).
now_us() {
    local t=${EPOCHREALTIME//[.,]/}
    REPLY=$((10#$t))
}

# The median of the arguments (integers), in $REPLY.
median() {
    local sorted
    mapfile -t sorted < <(printf '%s\n' "$@" | sort -n)
    local n=${#sorted[@]}
    if ((n % 2)); then
        REPLY=${sorted[n / 2]}
    else
        REPLY=$(((sorted[n / 2 - 1] + sorted[n / 2]) / 2))
    fi
}

# The process each command measures, run as a user would: from the case folder (the current
# one), with gen's default paths (site.toml, out). A cold build and a copy each go to a new
# folder, all removed after the case: removing them between runs would time ext4's search for
# an inode that was not freed in the last minutes (recently_deleted), not gen or cp.
fresh=0
invoke() { # command [wrapper...]
    local command=$1
    shift
    fresh=$((fresh + 1))
    case $command in
    cold) last_cold=cold.$fresh && "$@" "$gen" --out "$last_cold" build ;;
    noop) "$@" "$gen" build ;;
    check) "$@" "$gen" check ;;
    diff) "$@" "$gen" diff ;;
    floor) "$@" cp -a out "copy.$fresh" ;;
    esac
}
commands=(cold noop check diff floor)
declare -A label=([cold]="build, cold" [noop]="build, no-op" [check]="check" [diff]="diff"
    [floor]="cp -a (floor)")

# Inode, size, mtime, ctime and mode of every entry: a no-op build must not change any of it.
fingerprint() {
    (cd "$1" && find . -printf '%p %i %s %T@ %C@ %m\n' | LC_ALL=C sort | cksum)
}

declare -A ms mb files bytes n_runs
for spec in "${cases[@]}"; do
    IFS=: read -r name size case_runs <<<"$spec"
    case_runs=${runs:-$case_runs}
    n_runs[$name]=$case_runs
    dir=$work/$name
    mkdir -p "$dir"
    if [[ $size == lab ]]; then
        cp "$root/site.toml" "$dir/site.toml"
    else
        "$root/bench/gen-site.sh" "$size" "$vms" >"$dir/site.toml"
    fi
    cd "$dir"
    "$gen" build >/dev/null || die "$name: gen build failed"
    files[$name]=$(find out -type f | wc -l)
    bytes[$name]=$(du -sk out | cut -f1)

    declare -A samples=()
    before=$(fingerprint out)
    for ((round = 0; round <= case_runs; round++)); do # round 0 is the warm-up
        for command in "${commands[@]}"; do
            now_us
            t0=$REPLY
            invoke "$command" >/dev/null || die "$name: ${label[$command]} failed (exit $?)"
            now_us
            ((round == 0)) || samples[$command]+=" $((REPLY - t0))"
        done
    done
    [[ $(fingerprint out) == "$before" ]] ||
        die "$name: the no-op build (or check, diff) changed a file in out/"
    "$gen" --out "$last_cold" check >/dev/null ||
        die "$name: a cold build does not pass gen check"

    for command in "${commands[@]}"; do
        # shellcheck disable=SC2086 # the samples are a space-separated list
        median ${samples[$command]}
        ms[$name.$command]=$REPLY
        mb[$name.$command]=-
        if $have_time; then
            peaks=()
            for _ in 1 2 3; do
                invoke "$command" /usr/bin/time -f %M -o "$work/peak" >/dev/null
                peaks+=("$(tail -n 1 "$work/peak")")
            done
            median "${peaks[@]}"
            mb[$name.$command]=$REPLY
        fi
    done
    rm -rf cold.* copy.*
    cd "$work"
done

# Fixed-point formatting without bc: $1 / $2 with one or two decimals.
# a/b to two decimals, rounded as a whole (0.998 is 1.00, not 0.100).
ratio() {
    local hundredths=$((($1 * 100 + $2 / 2) / $2))
    printf '%d.%02d' $((hundredths / 100)) $((hundredths % 100))
}
msec() { printf '%d.%d' $(($1 / 1000)) $((($1 % 1000 + 50) / 100)); }
mib() { [[ $1 == - ]] && printf -- - || printf '%d.%d' $(($1 / 1024)) $((($1 % 1024) * 10 / 1024)); }

version=$("$gen" --version)
echo "bench/run.sh: $version ($gen)"
echo "work folder on $base ($fs_type); $(nproc) CPUs; median of N runs after 1 warm-up"
$have_time || echo "peak memory: not measured (no GNU time at /usr/bin/time)"
echo
printf '%-8s %7s %8s %4s  %-14s %10s %9s %9s\n' case files KiB N command "median ms" "peak MB" "x floor"
for spec in "${cases[@]}"; do
    name=${spec%%:*}
    for command in "${commands[@]}"; do
        printf '%-8s %7s %8s %4s  %-14s %10s %9s %9s\n' "$name" "${files[$name]}" "${bytes[$name]}" \
            "${n_runs[$name]}" \
            "${label[$command]}" "$(msec "${ms[$name.$command]}")" "$(mib "${mb[$name.$command]}")" \
            "$(ratio "${ms[$name.$command]}" "${ms[$name.floor]}")"
    done
done

IFS=: read -r small small_size _ <<<"${cases[1]}"
IFS=: read -r large large_size _ <<<"${cases[2]}"
echo
echo "scaling $small -> $large (input x$((large_size / small_size)), files x$(ratio "${files[$large]}" "${files[$small]}")): time ratio"
for command in "${commands[@]}"; do
    printf '  %-14s %8s ms -> %8s ms  x%s\n' "${label[$command]}" \
        "$(msec "${ms[$small.$command]}")" "$(msec "${ms[$large.$command]}")" \
        "$(ratio "${ms[$large.$command]}" "${ms[$small.$command]}")"
done

# The targets of issue 6, each as PASS or FAIL with the figures behind it.
echo
echo "targets"
verdict() { # condition text
    if (("$1")); then echo "  PASS  $2"; else echo "  FAIL  $2"; fi
}
for name in example "$large"; do
    verdict "ms[$name.cold] * 100 <= ms[$name.floor] * 200" \
        "$name: cold build <= 2x floor ($(ratio "${ms[$name.cold]}" "${ms[$name.floor]}")x)"
done
for spec in "${cases[@]}"; do
    name=${spec%%:*}
    verdict "ms[$name.noop] * 100 <= ms[$name.check] * 120" \
        "$name: no-op build <= 1.2x check ($(ratio "${ms[$name.noop]}" "${ms[$name.check]}")x), writes no file (verified)"
done
if $have_time; then
    worst=0
    for command in cold noop check diff; do
        ((mb[$large.$command] > worst)) && worst=${mb[$large.$command]}
    done
    verdict "worst < 200 * 1024" "$large: peak memory < 200 MB ($(mib "$worst") MB at most)"
fi
for command in cold noop check diff; do
    verdict "ms[$large.$command] * 100 <= ms[$small.$command] * 1200" \
        "${label[$command]}: 10x the input costs <= 12x the time (x$(ratio "${ms[$large.$command]}" "${ms[$small.$command]}"))"
done

# Many errors: the largest site made invalid three ways, each refused with an error per node.
#   dup    its nodes on 100 shared addresses (the duplicate-address rule)
#   key    every node's `ip` misspelt `ipp` (an unknown key withdraws its "missing" error)
#   host   every node's `host` misspelt (a "did you mean" per distinct typo)
many_errors() {
    local kind=$1 what=$2 dir=$work/$large-$1 errors status round t0 taken=()
    mkdir -p "$dir"
    case $kind in
    dup) "$root/bench/gen-site.sh" "$large_size" "$vms" 100 >"$dir/site.toml" ;;
    key) sed 's/^ip = /ipp = /' "$work/$large/site.toml" >"$dir/site.toml" ;;
    host) sed 's/^host = "/host = "x/' "$work/$large/site.toml" >"$dir/site.toml" ;;
    esac
    cd "$dir"
    errors=$({ "$gen" build 2>&1 >/dev/null || true; } | tail -n 1)
    [[ $errors == *" errors in site.toml; nothing was written" ]] ||
        die "$large-$kind: gen build did not refuse the site: $errors"
    for ((round = 0; round <= n_runs[$large]; round++)); do
        now_us
        t0=$REPLY
        status=0
        "$gen" build >/dev/null 2>&1 || status=$?
        now_us
        ((status == 2)) || die "$large-$kind: gen build exited $status, not 2"
        ((round == 0)) || taken+=("$((REPLY - t0))")
    done
    median "${taken[@]}"
    err_ms[$kind]=$REPLY
    err_what[$kind]="$what (${errors%%;*})"
    cd "$work"
}
declare -A err_ms err_what
many_errors dup "its nodes on 100 shared addresses"
many_errors key "every node's \`ip\` misspelt"
many_errors host "every node's \`host\` misspelt"
echo
echo "many errors at $large: gen build, refused (exit 2), median of ${n_runs[$large]}"
for kind in dup key host; do
    printf '  %-60s %10s ms\n' "${err_what[$kind]}" "$(msec "${err_ms[$kind]}")"
done
for kind in dup key host; do
    verdict "err_ms[$kind] * 100 <= ms[$large.cold] * 100" \
        "$large-$kind: refusing it costs <= the valid site's cold build ($(ratio "${err_ms[$kind]}" "${ms[$large.cold]}")x)"
done

if $have_strace; then
    cd "$work/$large"
    echo
    echo "system calls per file at $large (${files[$large]} files; strace -c -f, a separate run)"
    printf '  %-14s %8s %9s  %s\n' command calls "per file" "largest (count per file)"
    for command in cold noop floor; do
        invoke "$command" strace -f -c -o "$work/strace" >/dev/null
        # strace -c: "% time, seconds, usecs/call, calls, [errors,] syscall", then a total line.
        total=$(awk '$NF == "total" { print $4 }' "$work/strace")
        top=$(awk -v n="${files[$large]}" '
            $1 ~ /^[0-9.]+$/ && $NF != "total" {
                printf "%d %s %.2f\n", $4, $NF, $4 / n
            }' "$work/strace" | sort -rn | head -n 8 | awk '{ printf "%s %s, ", $2, $3 }')
        printf '  %-14s %8s %9s  %s\n' "${label[$command]}" "$total" \
            "$(ratio "$total" "${files[$large]}")" "${top%, }"
    done
fi
