#!/bin/sh
# The env's keeper: keeper.sh ENV_DIR MAPPING. session.sh starts it through
#   setsid -f unshare [--user --map-root-user [--map-auto]] --mount --pid sh keeper.sh ...
# so it runs in the env's new mount (and user) namespace but itself in the host's pid
# namespace. Its first child becomes pid 1 of the env's pid namespace, and everything
# started in the env lives below that pid 1: killing it ends them all, the FUSE daemon
# included. That is what guarantees that no process or mount is left behind.
#
# run/start.lock is the env's start mutex; run/users.lock is held shared by every session
# while it is inside (see session.sh). Prints one line on stdout, then closes it:
#   ready <anchor-host-pid> <keeper-host-pid>     or     error <CODE> <message>
set -u
env_dir=$1 mapping=$2
run_dir=$env_dir/run
merged=$env_dir/merged
exec 2>>"$run_dir/keeper.log" </dev/null

fail() {
  echo "error $1 $2"
  kill -KILL "$anchor"
  exit 1
}

# The anchor, pid 1 of the env's pid namespace: it only has to exist.
sleep infinity >/dev/null 2>&1 &
anchor=$!

if [ "$mapping" = host ]; then
  # Real root: the kernel's overlayfs. Outside a user namespace it takes / as its lower
  # layer; mounts below / are not part of it (see the read-only binds in binds.fstab).
  mount -t overlay overlay -o "lowerdir=/,upperdir=$env_dir/upper,workdir=$env_dir/work" "$merged" \
    || fail MOUNT_FAILED "the kernel refused the overlay mount (see $run_dir/keeper.log)"
else
  # squash_to_root: files owned by ids that are not mapped (host root above all) show as
  # root's and can be written, which is what makes /etc and /usr writable rootless.
  # fuse-overlayfs 1.10 prints "unknown argument ignored: lazytime": stderr goes to a log.
  fuse-overlayfs -o "lowerdir=/,upperdir=$env_dir/upper,workdir=$env_dir/work,squash_to_root" \
    "$merged" >/dev/null 2>>"$run_dir/fuse.log" \
    || fail MOUNT_FAILED "fuse-overlayfs could not mount the env: $(tail -n 1 "$run_dir/fuse.log")"
fi
# One mount(8) for all the shared directories: a `mount --rbind` each costs ~2 ms apiece.
mount --all --fstab "$run_dir/binds.fstab" >/dev/null \
  || fail MOUNT_FAILED "cannot bind the shared directories (see $run_dir/keeper.log)"

echo "ready $anchor $$"
exec >/dev/null

# Wait until no session holds the users lock (a session killed with its venv drops it
# too), then take the start mutex so that no session is joining while the env goes away,
# and end the env. The kill must come from this process: the children of this shell are
# in the env's pid namespace, where the anchor is pid 1 and immune to their SIGKILL. A
# session that ends the env itself kills this shell and the anchor; the flock child
# waiting here then dies with the namespace.
exec 8>>"$run_dir/start.lock" 9>>"$run_dir/users.lock"
flock -x 9
flock -x 8
rm -f "$run_dir/keeper"
kill -KILL "$anchor"
