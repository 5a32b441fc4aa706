#!/usr/bin/env bash
# The guest image of tests/suite/guest.rs, built once per version of build-image.sh (which holds
# the package list, so a changed list builds a new image) and cached outside the repository in
# ${GEN_GUEST_CACHE:-/var/cache/gen-guest}/debian12-<first 16 hex of its sha256>. Prints that
# folder. Builds run under the cache's lock into <folder>.tmp, renamed when complete, so callers
# at the same time share one build and an interrupted one is never used. .ci/run starts this in
# the background while cargo compiles; the test calls it again and waits on the lock.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
cache=${GEN_GUEST_CACHE:-/var/cache/gen-guest}
key=$(sha256sum "$here/build-image.sh" | cut -c1-16)
dir=$cache/debian12-$key
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock 9
if [ ! -f "$dir/root.img" ]; then
    started=$SECONDS
    rm -rf "$dir.tmp"
    "$here/build-image.sh" "$dir.tmp" >&2
    mv "$dir.tmp" "$dir"
    echo "cached-image: built $dir in $((SECONDS - started))s" >&2
fi
echo "$dir"
