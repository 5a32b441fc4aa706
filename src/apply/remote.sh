# The server side of `gen apply`, `gen status` and `gen rollback`, read by `sh -s` over one ssh
# session after a line that sets `root`. It only defines functions: gen calls them one at a time
# (see session.rs) and makes every decision from what they print, so that the rules live in one
# place, in Rust, with tests.
#
# Under $root: generations/<hash>/ (a host tree, never changed once it has its name); current,
# previous and applied (symlinks into generations/); applying (present while an entrypoint runs);
# staging/ (scratch of the apply that holds the lock); lock; commits/<hash> (the git commit a
# generation came from); vms/, state/, pending/ (one entry per VM, see apply.sh).

# shellcheck disable=SC2154 # root: the line gen sends first
umask 022
# Everything the server says reaches gen in order, on one stream.
exec 2>&1

# call NONCE FUNCTION ARG...: runs FUNCTION where it can neither read gen's next requests (stdin)
# nor pass the lock on to a daemon it starts (fd 9), then reports its status after NONCE.
call() {
  nonce=$1
  shift
  ( set -e; "$@" ) </dev/null 9>&-
  printf '%s %s\n' "$nonce" "$?"
}

# lock: holds $root/lock until this shell ends, which is when gen closes the session or dies.
# Run in this shell, not through `call`: the lock lives on fd 9 of this process. Whatever is in
# staging/ then was left by an apply that died, since a live one would hold the lock.
lock() {
  mkdir -p "$root" || return
  if ! ( : >>"$root/lock" ); then
    return 1
  fi
  exec 9>>"$root/lock"
  if ! flock -n 9; then
    echo waiting
    flock 9
  fi
  # An rsync that outlived a killed gen may still be writing there: what it keeps is removed
  # next time.
  rm -rf "$root/staging" 2>/dev/null || :
}

# hello TOOL...: fails naming the tools this server lacks.
hello() {
  missing=
  for tool in "$@"; do
    command -v "$tool" >/dev/null 2>&1 || missing="$missing $tool"
  done
  if [ -n "$missing" ]; then
    echo "missing$missing"
    return 1
  fi
}

# link NAME: where the symlink $root/NAME points, or nothing.
link() {
  if [ -L "$root/$1" ]; then
    readlink "$root/$1"
  fi
}

# relink NAME TARGET: points $root/NAME at TARGET with one rename, so that whoever reads it
# (systemd starting a unit, another gen) sees the old target or the new one, never neither.
relink() {
  ln -sfn "$2" "$root/.$1.new"
  mv -T "$root/.$1.new" "$root/$1"
}

# state UNIT_PREFIX: the links, whether an apply was cut short, the generations (most recently
# made current first), the commit the current one came from, and each VM: the generation it
# was last applied from (`vm NODE TARGET`), whether a step on it was cut short, whether its
# unit `UNIT_PREFIXNODE.service` is active, the facts of those generations (`machines HASH
# LINE`), and the sha256 of the installed template unit `UNIT_PREFIX.service`.
state() {
  for name in current previous applied; do
    printf '%s %s\n' "$name" "$(link "$name")"
  done
  if [ -e "$root/current" ] && [ ! -L "$root/current" ]; then
    echo foreign-current
  fi
  if [ -e "$root/applying" ]; then
    echo applying
  fi
  if [ -d "$root/generations" ]; then
    # shellcheck disable=SC2012 # gen ignores any name that is not a hash
    ls -t "$root/generations" | sed 's/^/generation /'
  fi
  now=$(link current)
  if [ -n "$now" ] && [ -f "$root/commits/${now#generations/}" ]; then
    printf 'commit %s\n' "$(cat "$root/commits/${now#generations/}")"
  fi
  units_dir=${GEN_UNIT_DIR:-/etc/systemd/system}
  printf 'units %s\n' "$units_dir"
  if [ -f "$units_dir/$1.service" ]; then
    printf 'unit %s\n' "$(sha256sum <"$units_dir/$1.service" | sed 's/ .*//')"
  fi
  seen=
  for vm in "$root"/vms/*; do
    [ -L "$vm" ] || continue
    node=${vm##*/}
    target=$(readlink "$vm")
    printf 'vm %s %s\n' "$node" "$target"
    if [ -e "$root/pending/$node" ]; then
      printf 'pending %s\n' "$node"
    fi
    if systemctl is-active --quiet "$1$node.service"; then
      printf 'active %s\n' "$node"
    fi
    hash=${target%/vms/*}
    hash=${hash##*/}
    case " $seen " in
    *" $hash "*) ;;
    *)
      seen="$seen $hash"
      if [ -f "$root/generations/$hash/machines.toml" ]; then
        sed "s|^|machines $hash |" "$root/generations/$hash/machines.toml"
      fi
      ;;
    esac
  done
  # gen's first layout kept one Vagrant state per role group: state/GROUP/machines/NODE.
  for machine in "$root"/state/*/machines/*; do
    [ -d "$machine" ] || continue
    group=${machine%/machines/*}
    group=${group##*/}
    if [ "$group" != "${machine##*/}" ]; then
      printf 'legacy %s %s\n' "$group" "${machine##*/}"
    fi
  done
}

# may COMMAND...: whether sudo lets this user run each COMMAND (its words in one argument) as
# root without a password. `sudo -n -l` exits 0 only when a rule allows exactly that command
# line; for each other one this prints `refused COMMAND`, after sudo's own words (`said ...`).
may() {
  for command in "$@"; do
    # shellcheck disable=SC2086 # the words of one command, split on purpose (none has a space)
    if ! said=$(set -f && sudo -n -l $command 2>&1); then
      printf '%s\n' "$said" | sed -n '/./{s/^/said /;p;q;}'
      printf 'refused %s\n' "$command"
    fi
  done
}

# busy: says so while another session holds the lock.
busy() {
  if [ -e "$root/lock" ] && ! flock -n "$root/lock" true; then
    echo busy
  fi
}

# listing DIR: `MODE SHA256  ./PATH` for each file below $root/DIR, the lines the tree hash is
# made of (gen sorts them and hashes); anything that is not a 644 or 755 file is `other`.
listing() {
  cd "$root/$1"
  find . -type f -perm 755 -exec sha256sum {} + | sed 's/^/755 /'
  find . -type f -perm 644 -exec sha256sum {} + | sed 's/^/644 /'
  find . -type f ! -perm 755 ! -perm 644 | sed 's/^/other -  /'
  find . ! -type f ! -type d | sed 's/^/other -  /'
}

# stage ID: an empty folder for rsync to fill, named for this apply so that an rsync outliving
# a killed gen can only ever write into its own.
stage() {
  mkdir -p "$root/staging/$1" "$root/generations"
}

# commit ID HASH: the staged folder becomes generations/HASH in one rename. A folder already
# there did not hash to its name (gen looked), so it goes first.
commit() {
  if [ -e "$root/generations/$2" ]; then
    mv "$root/generations/$2" "$root/staging/bad-$2"
  fi
  mv "$root/staging/$1" "$root/generations/$2"
  rm -rf "$root/staging" 2>/dev/null || :
}

# switch HASH: generations/HASH becomes current and the old current previous. The touch orders
# generations by when they were last made current, which is what pruning keeps.
switch() {
  old=$(link current)
  if [ -n "$old" ] && [ "$old" != "generations/$1" ]; then
    relink previous "$old"
  fi
  relink current "generations/$1"
  touch "$root/generations/$1"
}

# begin: until `finish`, `applying` says the VMs may be anywhere between two generations.
begin() {
  link current >"$root/applying"
}

# step HASH STEP [NODE]: one step of gen's plan, run by that generation's apply.sh.
step() {
  sh "$root/generations/$1/apply.sh" "$2" ${3:+"$3"}
}

# finish HASH [COMMIT]: every step of the plan ran; `applied` names the generation, and
# commits/HASH the git commit it was built from. Every VM the generation has points at it from
# now on: those the plan left alone have the same facts in it, so pruning can drop the old one.
finish() {
  generation=$(cd "$root/generations/$1" && pwd -P)
  for vm in "$root"/vms/*; do
    [ -L "$vm" ] || continue
    node=${vm##*/}
    if [ -d "$generation/vms/$node" ]; then
      ln -sfn "$generation/vms/$node" "$root/vms/.$node.new"
      mv -T "$root/vms/.$node.new" "$vm"
    fi
  done
  if [ -n "${2:-}" ]; then
    mkdir -p "$root/commits"
    printf '%s\n' "$2" >"$root/commits/.$1.new"
    mv "$root/commits/.$1.new" "$root/commits/$1"
  fi
  relink applied "generations/$1"
  rm -f "$root/applying"
}

# drop HASH...: removes generations, each renamed into staging/ first so that a removal cut
# short leaves no half generation under a hash's name.
drop() {
  mkdir -p "$root/staging"
  for hash in "$@"; do
    mv "$root/generations/$hash" "$root/staging/drop-$hash"
    rm -f "$root/commits/$hash"
  done
  rm -rf "$root/staging" 2>/dev/null || :
}

# facts HASH: the generation's machines.toml.
facts() {
  cat "$root/generations/$1/machines.toml"
}
