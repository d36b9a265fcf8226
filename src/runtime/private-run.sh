# Sourced by keeper.sh. The env's /run: a tmpfs of its own (binds.fstab mounts it), into
# which each entry of the host's /run is shared when the env starts:
#   - directories are bound (rbind): sockets inside them (dbus, /run/user/UID) work, and
#     what the host or the env writes there is seen by both, as before;
#   - sockets, fifos and files the user can write are bound too;
#   - regular files the user cannot write (root's lock files such as /run/adduser, utmp)
#     and symlinks are copied, so root inside the env can take its locks;
#   - a name created at the top of /run inside the env is the env's own, and is gone when
#     the env ends, as /run is after a reboot.
# Why not share the host's /run whole: adduser (in many packages' maintainer scripts)
# locks /run/adduser, and neither that file nor a new one in /run is writable rootless.
# Entries the host adds to the top of /run later are seen from the next start of the env.
#
# share_host_run MERGED_RUN FSTAB: fills MERGED_RUN; writes and mounts FSTAB (one mount(8)
# for all the binds, which makes the directories' mount points itself (X-mount.mkdir), and
# at most one cp; the shell makes the files' mount points itself: a process costs ~1.5
# ms here, this whole step ~6 ms).
share_host_run() {
  merged_run=$1 fstab=$2
  mount_files='' copies='' lines=''
  for entry in /run/* /run/.[!.]* /run/..?*; do
    [ -e "$entry" ] || [ -L "$entry" ] || continue
    name=${entry#/run/}
    # The lists below are split on blanks and would glob: such names (none on a usual
    # system) are left out, and said so in keeper.log.
    case $name in *[][*?\\[:space:]]*)
      echo "keeper: /run/$name is not shared into the env (blank or glob character in its name)" >&2
      continue ;;
    esac
    if [ -L "$entry" ]; then
      copies="$copies $entry"
    elif [ -d "$entry" ]; then
      lines="$lines$entry $merged_run/$name none rbind,X-mount.mkdir 0 0
"
    elif [ -f "$entry" ] && [ -r "$entry" ] && [ ! -w "$entry" ]; then
      copies="$copies $entry"
    else
      mount_files="$mount_files $merged_run/$name"
      lines="$lines$entry $merged_run/$name none bind 0 0
"
    fi
  done
  # The host's dpkg database, for the guard in dpkg's hook (src/pkg/pkgdb-files.ts): the
  # directory live and read-only, and the status file as it is now (the bind keeps this
  # inode; dpkg on the host replaces the file when it changes packages).
  if [ -f /var/lib/dpkg/status ] && [ ! -e /run/.venv-host-dpkg ] && [ ! -e /run/.venv-host-dpkg-status ]; then
    lines="$lines/var/lib/dpkg $merged_run/.venv-host-dpkg none rbind,ro,X-mount.mkdir 0 0
/var/lib/dpkg/status $merged_run/.venv-host-dpkg-status none bind,ro 0 0
"
    mount_files="$mount_files $merged_run/.venv-host-dpkg-status"
  fi
  # shellcheck disable=SC2086 # lists of plain names, split on purpose
  {
    for file in $mount_files; do : >"$file" || return 1; done
    [ -z "$copies" ] || cp -PR --preserve=mode,timestamps $copies "$merged_run/"
  } || return 1
  printf %s "$lines" >"$fstab"
  [ -z "$lines" ] || mount --all --fstab "$fstab" >/dev/null
}
