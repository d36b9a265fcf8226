#!/bin/sh
# Sets up a running env: keeper.sh ENV_DIR MAPPING. session.sh starts it through
#   setsid -f unshare [--user --map-root-user [--map-auto]] --mount --pid sh keeper.sh ...
# so this shell runs in the env's new mount (and user) namespace, itself in the host's pid
# namespace, while its children land in the env's new pid namespace. The first child is
# the anchor, pid 1 of that namespace; the FUSE daemon and every process entered into the
# env live below it, so when the anchor ends, the kernel ends them all. That is what
# guarantees that no process or mount is left behind.
#
# The anchor waits until no session holds run/users.lock (sessions hold it shared while
# inside; one killed with its venv drops it too), then takes run/start.lock so that no
# session is joining meanwhile, and exits. The last session to leave normally does not
# wait for that: it kills the anchor itself (see session.sh).
#
# Prints one line on stdout and exits:
#   ready <anchor-host-pid>     or     error <CODE> <message>
set -u
env_dir=$1 mapping=$2
# The runtime's own directory, absolute: the backend's mount runs in $env_dir.
case $0 in /*) here=${0%/*} ;; *) here=$PWD/${0%/*} ;; esac
run_dir=$env_dir/run
merged=$env_dir/merged
exec 2>>"$run_dir/keeper.log" </dev/null

# Its waiting flock is its own child, which it reaps: an exiting pid 1 waits until every
# process of its namespace is reaped, and a child of a process outside would only be
# reaped when the host's init gets round to it (seconds, on some machines).
# It renames the keeper file rather than removing it: its locks are gone the moment it
# exits, before the kernel has ended the rest of its namespace, and session.sh waits for
# an anchor named in keeper.ending before it mounts the upper dir again. Relative names
# in its run dir, as in session.sh: it only ever touches the env instance it belongs to.
anchor_script='cd -- "$1" || exit
exec 8>>start.lock 9>>users.lock
flock -x 9
flock -x 8
mv -f keeper keeper.ending'
# The env's settings (run/settings: its network, whether /run's host entries are shared,
# volumes) and the layers it is stacked on (run/lowers), which the backend reads. The
# anchor starts in a network namespace of its own unless the env has the host's (env-net.sh).
. "$here/env-settings.sh"
. "$here/env-net.sh"
load_env_settings
anchor_command
# shellcheck disable=SC2086 # $anchor_net: "unshare --net" or nothing
$anchor_net sh -c "$anchor_script" anchor "$run_dir" >/dev/null &
anchor=$!

fail() {
  echo "error $1 $2"
  kill -KILL "$anchor"
  exit 1
}

# Runs a FUSE daemon that mounts and then goes to the background (the backends' own):
# mount_fuse NAME LOG CMD... A mount that never completes (a daemon stuck before it
# answers the kernel) would keep the session waiting forever: timeout ends it and the env
# start fails instead. The daemon's stderr goes to run/LOG.
mount_timeout=${VENV_MOUNT_TIMEOUT:-30}
mount_fuse() {
  name=$1 log=$2
  shift 2
  timeout "$mount_timeout" "$@" >/dev/null 2>>"$run_dir/$log"
  mounted "$name" "$log" $?
}

# mounted NAME LOG STATUS: fails the start unless STATUS (a mount's) is 0. 124 is
# timeout's "it took too long", 142 a death by SIGALRM (venv-rootview's own timer).
mounted() {
  case $3 in
    0) return 0 ;;
    124 | 142) fail MOUNT_FAILED "$1 did not mount the env within $mount_timeout s (VENV_MOUNT_TIMEOUT)" ;;
  esac
  why=$(tail -n 1 "$run_dir/$2")
  fail MOUNT_FAILED "$1 could not mount the env: ${why:-it exited with status $3}"
}

# The backend's mount_env_root (src/backends/NAME.sh), named in run/mapping
# ("MAPPING LAYOUT BACKEND", written by node: src/store/env-store.ts).
read -r _ _ backend < "$run_dir/mapping" || fail IO_FAILED "cannot read $run_dir/mapping"
case $backend in
  overlay | fuse-overlayfs) . "$here/../backends/$backend.sh" ;;
  *) fail ENV_CORRUPT "unknown backend \"$backend\" in $run_dir/mapping" ;;
esac
cd "$env_dir" || fail IO_FAILED "cannot enter $env_dir"
mount_env_root
# One mount(8) for all the shared directories: a `mount --rbind` each costs ~2 ms apiece.
mount --all --fstab "$run_dir/binds.fstab" >/dev/null \
  || fail MOUNT_FAILED "cannot bind the shared directories (see $run_dir/keeper.log)"
# An env on a base (its backend's read_base set base) resolves names as the host does: the
# host's resolv.conf, read-only, over the base's (the import made it a regular file), as
# container runtimes do. Not when the env made its own a symlink: mount would follow it.
if [ -n "${base-}" ] && [ "$env_net" = host ] && [ -f "$merged/etc/resolv.conf" ] && [ ! -L "$merged/etc/resolv.conf" ]; then
  mount --bind -o ro /etc/resolv.conf "$merged/etc/resolv.conf" 2>>"$run_dir/keeper.log" \
    || fail MOUNT_FAILED "cannot bind /etc/resolv.conf into the env (see $run_dir/keeper.log)"
fi
# The env's own /run and /proc (private-run.sh, env-proc.sh): one mount(8) for both.
. "$here/private-run.sh"
. "$here/env-proc.sh"
setup_env_run "$merged/run" "${env_dir##*/}" "$env_run" "$env_net" || fail MOUNT_FAILED "cannot set up the env's /run (see $run_dir/keeper.log)"
env_proc_line
mount_fstab "$run_dir/run.fstab" "$run_lines$proc_line" \
  || { env_proc_fallback && mount_fstab "$run_dir/run.fstab" "$run_lines"; } \
  || fail MOUNT_FAILED "cannot mount the env's /run and /proc (see $run_dir/keeper.log)"
mount_volumes
setup_env_net

echo "ready $anchor"
