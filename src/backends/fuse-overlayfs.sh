# Sourced by keeper.sh (src/runtime): mount_env_root mounts the env's root on $merged with
# fuse-overlayfs (see backend.ts beside it). Runs in the env's new mount and user
# namespace, in $env_dir; keeper.sh's variables (env_dir, run_dir, merged) and fail() are
# set.

mount_env_root() {
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
  if [ "$status" -ne 0 ]; then
    why=$(tail -n 1 "$run_dir/fuse.log")
    fail MOUNT_FAILED "fuse-overlayfs could not mount the env: ${why:-it exited with status $status}"
  fi
}
