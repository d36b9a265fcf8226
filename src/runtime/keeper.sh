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
sh -c "$anchor_script" anchor "$run_dir" >/dev/null &
anchor=$!

fail() {
  echo "error $1 $2"
  kill -KILL "$anchor"
  exit 1
}

if [ "$mapping" = host ]; then
  # Real root: the kernel's overlayfs. Outside a user namespace it takes / as its lower
  # layer; mounts below / are not part of it (binds.fstab binds them read-only).
  mount -t overlay overlay -o "lowerdir=/,upperdir=$env_dir/upper,workdir=$env_dir/work" "$merged" \
    || fail MOUNT_FAILED "the kernel refused the overlay mount (see $run_dir/keeper.log)"
else
  # squash_to_root: files owned by ids that are not mapped (host root above all) show as
  # root's and can be written, which is what makes /etc and /usr writable rootless.
  # fuse-overlayfs 1.10 prints "unknown argument ignored: lazytime": stderr goes to a log.
  # A mount that never completes (a FUSE daemon stuck before it answers the kernel) would
  # keep the session waiting forever: timeout ends it and the env start fails instead.
  timeout "${VENV_MOUNT_TIMEOUT:-30}" \
    fuse-overlayfs -o "lowerdir=/,upperdir=$env_dir/upper,workdir=$env_dir/work,squash_to_root" \
    "$merged" >/dev/null 2>>"$run_dir/fuse.log"
  status=$?
  [ "$status" -ne 124 ] \
    || fail MOUNT_FAILED "fuse-overlayfs did not mount the env within ${VENV_MOUNT_TIMEOUT:-30} s (VENV_MOUNT_TIMEOUT)"
  [ "$status" -eq 0 ] || fail MOUNT_FAILED "fuse-overlayfs could not mount the env: $(tail -n 1 "$run_dir/fuse.log")"
fi
# One mount(8) for all the shared directories: a `mount --rbind` each costs ~2 ms apiece.
mount --all --fstab "$run_dir/binds.fstab" >/dev/null \
  || fail MOUNT_FAILED "cannot bind the shared directories (see $run_dir/keeper.log)"
. "${0%/*}/private-run.sh"
share_host_run "$merged/run" "$run_dir/run.fstab" \
  || fail MOUNT_FAILED "cannot share the host's /run into the env (see $run_dir/keeper.log)"

echo "ready $anchor"
