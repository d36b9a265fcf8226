# Sourced by keeper.sh (src/runtime): mount_env_root mounts the env's root on $merged with
# the kernel's overlayfs (see backend.ts beside it). Runs in the env's new mount (and
# user) namespace; keeper.sh's variables (env_dir, run_dir, merged, mapping, here,
# mount_timeout), fail(), mount_fuse() and mounted() are set. The overlay's options are
# relative paths: keeper.sh runs this in $env_dir, so a comma or colon in VENV_HOME cannot
# be taken for an option separator.

mount_env_root() {
  if [ "$mapping" = host ]; then
    # Real root: / itself is the lower layer. Outside a user namespace the kernel takes it;
    # mounts below / are not part of it (binds.fstab binds them read-only). Or a base's
    # tree (create --base), by its relative path.
    read_lowers
    read_base
    lowest=/
    [ -z "$base" ] || lowest=$base
    mount -t overlay overlay -o "lowerdir=$lowers$lowest,upperdir=upper,workdir=work" merged \
      || fail MOUNT_FAILED "the kernel refused the overlay mount (see $run_dir/keeper.log)"
    return
  fi
  # Rootless, the kernel refuses / as a lower layer (it has locked submounts in a user
  # namespace). venv-rootview serves / as one read-only FUSE filesystem, every file shown
  # as root's: overlayfs can then copy up and change host root's files, at the kernel's
  # speed for everything that is written. It is mounted on merged/ and the overlay on top
  # of it, so nothing but the overlay can reach it; it hides the env's own directory, so
  # that it never serves its own mount. Like every process here it ends with the anchor.
  # A base (create --base) is a tree of its own on disk, not /: it has no submounts, and
  # its files' owners are the env's mapped ids, so the kernel takes it as the lowest layer
  # directly and no view is needed. Its path is relative, as the other options.
  read_base
  if [ -n "$base" ]; then
    read_lowers
    mount -t overlay overlay -o "lowerdir=$lowers$base,upperdir=upper,workdir=work,userxattr" merged 2>>"$run_dir/keeper.log" \
      || fail MOUNT_FAILED "the kernel refused the overlay of the base (see $run_dir/keeper.log)"
    return
  fi
  view=$here/../../native/venv-rootview
  [ -x "$view" ] || fail MOUNT_FAILED "venv-rootview is missing ($view): rebuild venv (npm run build)"
  # The view mounts the overlay itself once it serves requests, and keeps its own time
  # (one process each less than mount(8) and timeout(1)). userxattr: in a user namespace
  # overlayfs keeps its markers in user.overlay.* xattrs. Layers of a stacked env
  # (env-settings.sh's read_lowers) go above the view.
  read_lowers
  "$view" --mount-timeout "$mount_timeout" --hide "$env_dir" \
    --overlay "lowerdir=${lowers}merged,upperdir=upper,workdir=work,userxattr" merged >/dev/null 2>>"$run_dir/view.log"
  mounted venv-rootview view.log $?
}
