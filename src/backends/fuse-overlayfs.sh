# Sourced by keeper.sh (src/runtime): mount_env_root mounts the env's root on $merged with
# fuse-overlayfs (see backend.ts beside it). Runs in the env's new mount and user
# namespace, in $env_dir; keeper.sh's variables (env_dir, run_dir, merged), fail() and
# mount_fuse() are set.

mount_env_root() {
  # squash_to_root: files owned by ids that are not mapped (host root above all) show as
  # root's and can be written, which is what makes /etc and /usr writable rootless.
  # fuse-overlayfs 1.10 prints "unknown argument ignored: lazytime": stderr goes to a log.
  # Layers of a stacked env (env-settings.sh's read_lowers) go above /, by absolute path.
  # A base (create --base) replaces / as the lowest layer.
  read_lowers "$env_dir/"
  read_base
  lowest=/
  [ -z "$base" ] || lowest=$env_dir/$base
  mount_fuse fuse-overlayfs fuse.log \
    fuse-overlayfs -o "lowerdir=$lowers$lowest,upperdir=$env_dir/upper,workdir=$env_dir/work,squash_to_root" "$merged"
}
