#!/bin/sh
# The baseline for `npm run bench`: what entering an env costs when done by hand, with
# none of venv's bookkeeping (no keeper, no locks, no joining of a running env).
#   raw-enter.sh DIR [CMD [ARG...]]     (DIR gets upper/, work/ and merged/; CMD: true)
# Same setup and teardown as venv: subordinate ids mapped, fuse-overlayfs of / with
# squash_to_root, the six shared dirs bound over it, chroot, CMD. The new pid namespace
# is what ends the FUSE daemon: when CMD's shell (its pid 1) exits, the kernel kills
# every process left in it, so nothing outlives the call.
set -eu
dir=$1
shift
[ $# -gt 0 ] || set -- true
# chroot lives in /usr/sbin, which an ordinary user's PATH lacks.
PATH=$PATH:/usr/sbin:/sbin
mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
exec unshare --user --map-root-user --map-auto --mount --pid --fork sh -c '
  set -e
  dir=$1
  shift
  fuse-overlayfs -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work,squash_to_root" "$dir/merged" 2>/dev/null
  for shared in /proc /sys /dev /home /tmp /run; do
    mount --rbind "$shared" "$dir/merged$shared"
  done
  chroot "$dir/merged" "$@"
' raw-enter "$dir" "$@"
