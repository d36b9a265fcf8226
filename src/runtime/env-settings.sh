# Sourced by keeper.sh: the env's settings (src/store/env-settings.ts), from run/settings,
# which node writes: one setting a line, fields split by tabs (node refuses paths with
# tabs, newlines or "..")
#   net  host|none|private  the env's network (env-net.sh)
#   run  shared|private     private: not the user's /run/user/UID, nor the D-Bus socket
#   volume  ro|rw  HOST_PATH  ENV_PATH
#   publish  tcp|udp  HOST_ADDRESS  HOST_PORT  ENV_PORT   (env-net.sh, publish-ports.ts)
# No file (an env made before there were settings) means the defaults.
tab='	'

# Sets env_net, env_run, and env_publish (yes when a port is published).
load_env_settings() {
  env_net=host env_run=shared env_publish=no
  [ -f "$run_dir/settings" ] || return 0
  while IFS=$tab read -r key value _ <&4; do
    case $key in
      net) env_net=$value ;;
      run) env_run=$value ;;
      publish) env_publish=yes ;;
    esac
  done 4<"$run_dir/settings"
}

# Sets lowers to the layers below the env's upper dir (run/lowers, written by node: one
# path a line, relative to the env dir, top first; src/store/layers.ts), each followed by
# a colon, ready to go in front of the backend's own lower layer; empty for most envs.
# prefix: put in front of each (the env dir, for a daemon that may change directory).
read_lowers() {
  lowers=
  [ -f "$run_dir/lowers" ] || return 0
  while read -r layer <&4; do
    [ -n "$layer" ] && lowers=$lowers${1-}$layer:
  done 4<"$run_dir/lowers"
}

# Sets base to the base's tree (run/base, written by node for an env made with --base:
# one path relative to the env dir, src/store/bases.ts), which replaces the host's / as
# the lowest layer; empty for an env on the host's /.
read_base() {
  base=
  [ -f "$run_dir/base" ] || return 0
  read -r base <"$run_dir/base" || base=
  [ -n "$base" ] || fail ENV_CORRUPT "$run_dir/base names no base"
}

# Makes ENV_PATH's directories in merged/ where missing, never through a symlink: the env
# may have put one anywhere on the way (its upper dir is its own), and mkdir or mount
# would follow it out of the env. No process of the env runs while the keeper works (it
# runs under the start mutex, before anything enters), so the test and the use that
# follows do not race with the env itself. On failure returns 1 with bad_point (the path
# in the env) and bad_why (symlink, not-dir or mkdir). Volumes use it, and --net private's
# resolv.conf in the env's /run (env-net.sh).
env_dirs() {
  point=$merged rest=${1#/}
  while [ -n "$rest" ]; do
    part=${rest%%/*}
    case $rest in */*) rest=${rest#*/} ;; *) rest= ;; esac
    point=$point/$part
    bad_point=${point#"$merged"}
    if [ -L "$point" ]; then
      bad_why=symlink
      return 1
    elif [ ! -e "$point" ]; then
      mkdir -m 755 "$point" 2>>"$run_dir/keeper.log" || {
        bad_why=mkdir
        return 1
      }
    elif [ ! -d "$point" ]; then
      bad_why=not-dir
      return 1
    fi
  done
}

# The mount point of a volume (env_dirs), or the start fails naming what is in the way.
volume_mount_point() {
  env_dirs "$1" && return 0
  case $bad_why in
    symlink) fail ENV_UNSAFE_FILE "refusing volume $1: $bad_point is a symlink in the env; remove it" ;;
    not-dir) fail ENV_UNSAFE_FILE "refusing volume $1: $bad_point is not a directory in the env" ;;
    *) fail MOUNT_FAILED "cannot make the mount point of volume $1 in the env" ;;
  esac
}

# Binds each volume, in run/settings' order (parents first). Read-write ones with their
# submounts (rbind); read-only ones without (bind), since a remount makes only the top
# one read-only.
mount_volumes() {
  [ -f "$run_dir/settings" ] || return 0
  while IFS=$tab read -r key mode source target <&4; do
    [ "$key" = volume ] || continue
    [ -d "$source" ] || fail MOUNT_FAILED "volume $source:$target: $source is not a directory on the host"
    volume_mount_point "$target"
    if [ "$mode" = ro ]; then set -- --bind -o ro; else set -- --rbind; fi
    mount "$@" -- "$source" "$merged$target" 2>>"$run_dir/keeper.log" \
      || fail MOUNT_FAILED "cannot mount volume $source:$target (see $run_dir/keeper.log)"
  done 4<"$run_dir/settings"
}
