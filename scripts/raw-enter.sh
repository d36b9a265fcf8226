#!/bin/sh
# The baseline for `npm run bench`: what entering an env costs when done by hand, with
# none of venv's bookkeeping (no keeper, no locks, no joining of a running env).
#   raw-enter.sh [--backend overlay|fuse-overlayfs] DIR [CMD [ARG...]]
# DIR gets upper/, work/ and merged/; CMD defaults to true, the backend to overlay.
# Same setup and teardown as venv's backends (src/backends/): subordinate ids
# mapped, then either
#   overlay:         venv-rootview (dist/native) on merged/, hiding DIR, and the kernel's
#                    overlayfs (userxattr) over it on the same merged/;
#   fuse-overlayfs:  fuse-overlayfs of / with squash_to_root on merged/;
# then the six shared dirs bound over it, chroot, CMD. The new pid namespace is what ends
# the FUSE daemon: when CMD's shell (its pid 1) exits, the kernel kills every process left
# in it, so nothing outlives the call.
set -eu
backend=overlay
if [ "${1-}" = --backend ]; then
  backend=${2-}
  shift 2
fi
case $backend in
  overlay | fuse-overlayfs) ;;
  *) echo "raw-enter.sh: expected --backend overlay or fuse-overlayfs, got \"$backend\"" >&2 && exit 2 ;;
esac
dir=$1
shift
[ $# -gt 0 ] || set -- true
case $0 in /*) here=${0%/*} ;; *) here=$PWD/${0%/*} ;; esac
view=$here/../dist/native/venv-rootview
# chroot lives in /usr/sbin, which an ordinary user's PATH lacks.
PATH=$PATH:/usr/sbin:/sbin
mkdir -p "$dir/upper" "$dir/work" "$dir/merged"
exec unshare --user --map-root-user --map-auto --mount --pid --fork sh -c '
  set -e
  backend=$1 view=$2 dir=$3
  shift 3
  if [ "$backend" = overlay ]; then
    # Relative paths in the options, as venv does (a comma in DIR would split them).
    cd "$dir"
    "$view" --hide "$dir" merged >/dev/null
    mount -t overlay overlay -o lowerdir=merged,upperdir=upper,workdir=work,userxattr merged
    cd /
  else
    fuse-overlayfs -o "lowerdir=/,upperdir=$dir/upper,workdir=$dir/work,squash_to_root" "$dir/merged" 2>/dev/null
  fi
  for shared in /proc /sys /dev /home /tmp /run; do
    mount --rbind "$shared" "$dir/merged$shared"
  done
  chroot "$dir/merged" "$@"
' raw-enter "$backend" "$view" "$dir" "$@"
