# Sourced by keeper.sh. The env's /run: a tmpfs of its own (binds.fstab mounts it), as a
# machine's /run is a tmpfs of its own: packages make, chown and remove their directories
# there (/run/postgresql, /run/sshd, /run/nginx) and lock /run/adduser. It lives as long
# as the env runs: an env whose last session left is a machine that was switched off, and
# the next start finds /run empty, as after a boot. Only what a user needs from the host
# is shared into it, at each start:
#   - the caller's own /run/user/UID (sockets of their session: the user's D-Bus, ...),
#     bound whole, live both ways;
#   - the system D-Bus socket, /run/dbus/system_bus_socket, bound (the rest of /run/dbus
#     is the env's);
#   - the directory that /etc/resolv.conf points to when it points into /run
#     (systemd-resolved, NetworkManager), read-only, so that names still resolve;
#   - the host's symlinks at the top of /run (/run/shm -> /dev/shm) are copied;
#   - the host's dpkg database for dpkg's guard (below).
# It also mounts /run/lock (a tmpfs, 1777: /var/lock points there) and writes
# /run/.venv-env, which names the env: bin/venv refuses to run inside an env when it sees it.
# Why not the host's directories, as before: they are host root's, and a package's maintainer
# script that chowns or removes its /run directory (postgresql's, systemd's) failed on them.
#
# setup_env_run MERGED_RUN ENV_NAME [shared|private] [NET]: fills MERGED_RUN and sets run_lines to
# the fstab lines of the binds into it, for mount_fstab (keeper.sh mounts them with the
# env's /proc: one mount(8), which makes the directories' mount points itself,
# X-mount.mkdir). private (an env whose settings keep run its own, env-settings.sh): none
# of the user's sockets, neither /run/user/UID nor the system D-Bus socket. NET private:
# not the host's resolv.conf directory either (the env gets its own: env-net.sh).
setup_env_run() {
  merged_run=$1 copies='' user_run=/run/user/*
  [ "${3:-shared}" = shared ] || user_run=
  fstab_escape "$merged_run"
  run_target=$escaped
  # /var/lock points to /run/lock: a small tmpfs of its own, as Debian mounts it (a line of
  # the fstab rather than a mkdir -m 1777, which would be one process more).
  lines="tmpfs $run_target/lock tmpfs mode=1777,size=5m,nosuid,nodev,noexec,X-mount.mkdir 0 0
"
  # The caller's /run/user/UID shows as root's in the user namespace (the caller is its
  # root); other users' show as nobody's. As real root, root's own.
  # shellcheck disable=SC2086 # a glob, or nothing
  for entry in $user_run; do
    case ${entry#/run/user/} in *[!0-9]*) continue ;; esac
    [ -d "$entry" ] && [ -O "$entry" ] && lines="$lines$entry $run_target/${entry#/run/} none rbind,X-mount.mkdir 0 0
"
  done
  for entry in /run/* /run/.[!.]* /run/..?*; do
    [ -L "$entry" ] || continue
    case ${entry#/run/} in *[][*?\\[:space:]]*) continue ;; esac
    copies="$copies $entry"
  done
  # resolv.conf: a symlink that needs a fork to follow, so only when it is one.
  if [ -L /etc/resolv.conf ] && [ "${4-}" != private ]; then
    resolv_dir=$(readlink -f /etc/resolv.conf)
    resolv_dir=${resolv_dir%/*}
    case $resolv_dir in /run/?*) case $resolv_dir in *[[:space:]]*) ;; *)
      lines="$lines$resolv_dir $run_target/${resolv_dir#/run/} none rbind,ro,X-mount.mkdir 0 0
"
      ;; esac ;;
    esac
  fi
  if [ -S /run/dbus/system_bus_socket ] && [ -n "$user_run" ]; then
    lines="$lines/run/dbus/system_bus_socket $run_target/dbus/system_bus_socket none bind 0 0
"
  fi
  # The host's dpkg database, for the guard in dpkg's hook (src/pkg/pkgdb-files.ts): the
  # directory live and read-only, and the status file as it is now (the bind keeps this
  # inode; dpkg on the host replaces the file when it changes packages).
  if [ -f /var/lib/dpkg/status ]; then
    lines="$lines/var/lib/dpkg $run_target/.venv-host-dpkg none rbind,ro,X-mount.mkdir 0 0
/var/lib/dpkg/status $run_target/.venv-host-dpkg-status none bind,ro 0 0
"
  fi
  # shellcheck disable=SC2086 # lists of plain names, split on purpose
  {
    if [ -S /run/dbus/system_bus_socket ] && [ -n "$user_run" ]; then
      mkdir "$merged_run/dbus" && : >"$merged_run/dbus/system_bus_socket" || return 1
    fi
    [ ! -f /var/lib/dpkg/status ] || : >"$merged_run/.venv-host-dpkg-status" || return 1
    echo "$2" >"$merged_run/.venv-env" || return 1
    # An env on a base does not have venv's files: venv shell's bash reads its rc file here.
    [ -z "${base-}" ] || cp "$here/bashrc" "$merged_run/.venv-bashrc" || return 1
    [ -z "$copies" ] || cp -P $copies "$merged_run/" || return 1
  }
  run_lines=$lines
}

# mount_fstab FSTAB LINES: writes LINES to FSTAB and mounts them all.
mount_fstab() {
  printf %s "$2" >"$1" && mount --all --fstab "$1" >/dev/null
}

# fstab(5) takes blanks and backslashes in paths as octal escapes (as mount-plan.ts writes
# them); sets escaped. No process unless the path has one.
fstab_escape() {
  case $1 in
    *[[:space:]\\]*) escaped=$(printf '%s\n' "$1" | sed 's/\\/\\134/g; s/ /\\040/g; s/\t/\\011/g') ;;
    *) escaped=$1 ;;
  esac
}
