# Sourced by keeper.sh. The env's /proc: a proc filesystem of the env's own pid namespace,
# as container runtimes mount it, so that ps, top, pgrep, pkill and kill see the env's
# processes with the pids they have in it (with the host's /proc, ps failed with "fatal
# library error, lookup self" and pgrep gave host pids). /proc/sys, /proc/cpuinfo,
# /proc/meminfo and the like are the machine's, as in any proc mount.
#
# keeper.sh itself is in the host's pid namespace (unshare --pid without --fork); mount(8),
# its child, is in the env's, and proc takes the pid namespace of the process that mounts
# it. The mount is one more line of run.fstab (private-run.sh): one mount(8) for it and
# the binds into /run (keeper.sh). The kernel allows it in a user namespace only when this
# mount namespace has a proc mount that is fully visible (nothing mounted over files in
# it; container runtimes hide some, e.g. /proc/kcore, so venv run inside one cannot), and
# only with at least that mount's locked flags (nosuid, nodev, noexec are the usual ones,
# and always allowed). Where it is refused, the env gets the host's /proc as before, and
# keeper.log says so.

# env_proc_line: sets proc_line to the fstab line of the env's /proc (fstab_escape is
# private-run.sh's).
env_proc_line() {
  fstab_escape "$merged/proc"
  proc_line="proc $escaped proc nosuid,nodev,noexec 0 0
"
}

# After a failed mount of run.fstab: true (and the host's /proc bound) when the env's own
# /proc is what failed.
env_proc_fallback() {
  mountpoint -q "$merged/proc" && return 1
  echo "keeper: the kernel refused a /proc of the env's own (above); the env shows the host's /proc" >&2
  mount --rbind /proc "$merged/proc"
}
