#!/bin/sh
# One entry into an env: session.sh ENV_DIR MAPPING CWD MODE [CMD [ARG...]]
#   MAPPING  auto    subordinate ids mapped through newuidmap (--map-auto)
#            single  only the caller, as uid 0
#            host    real root: no user namespace, the kernel's overlayfs
#   MODE     run     run CMD
#            shell   run the user's $SHELL, with the env's name in the prompt
#
# Starts the env if it is not running (keeper.sh), joins its namespaces, runs CMD with the
# caller's stdio, environment and (where the env has it) working directory, and on the way
# out, if it was the last session, ends the env's anchor (its pid 1) and waits until it is gone, so that no
# process or mount outlives the call. Exits with CMD's status (128+N for a signal); 125
# for venv's own failures, after "error CODE message" on fd 3 (a plain line on stderr
# when fd 3 is not open).
#
# Locks (flock(2) on files in ENV_DIR/run, so the kernel drops them when a holder dies):
#   fd 8  start.lock  mutex for starting, joining and leaving (and for venv rm, rollback
#                     and restore --force: runtime/exclusive.sh)
#   fd 9  users.lock  held shared by every session while it is inside; the anchor waits
#                     for it exclusively to learn that the last session has gone
#
# The env instance: the session works in ENV_DIR/run (its cwd) and names the files there
# relatively, so that it only ever touches the instance it entered: `venv rm` renames an
# env away before deleting it, and a new env of the same name may be there by the time a
# session of the old one leaves.
set -u
env_dir=$1 mapping=$2 cwd=$3 mode=$4
shift 4
here=${0%/*}
case $here in /*) ;; *) here=$PWD/$here ;; esac
run_dir=$env_dir/run
merged=$env_dir/merged
keeper_file=keeper

# Without venv-enter (see below), runs inside the env as its /bin/sh, as nsenter's child:
# goes to the caller's directory if the env has it (else /), starts CMD with the default
# actions for SIGINT and SIGQUIT (ignored up to here, so that nsenter's parent outlives a
# Ctrl-C that an interactive CMD shrugs off), passes on the signals venv is sent, and exits
# with CMD's status: nsenter alone would turn a death by SIGINT into status 1. The wait
# loop is the one described below.
enter_script='cd -- "$1" 2>/dev/null || cd -- "${VENV_WORKDIR:-/}" 2>/dev/null || cd /
unset VENV_WORKDIR
shift
command -v -- "$1" >/dev/null 2>&1 || { printf "venv: error: command not found in the env: %s\n" "$1" >&2; exit 127; }
exec 7<&0
env --default-signal=INT,QUIT "$@" 0<&7 7<&- &
pid=$!
exec 7<&-
for sig in TERM HUP USR1 USR2; do trap "kill -$sig $pid 2>/dev/null" $sig; done
while :; do
  wait $pid
  status=$?
  kill -0 $pid 2>/dev/null && continue
  [ $status -gt 128 ] && { wait $pid; s=$?; [ $s = 127 ] || status=$s; }
  exit $status
done'

# Without venv-enter, and with a user to run as (see below): prints "ok UID GID GROUPS HOME"
# for USER[:GROUP] ($1), or "fail MESSAGE|HINT". Runs inside the env as its /bin/sh, after the
# chroot, so that the names are the env's; parsed here, not through NSS (whose modules the
# env's /etc/nsswitch.conf would name). The same rules as venv-enter's (src/native/enter/
# switch-user.c): a name must be in /etc/passwd ("root" alone is 0:0 without one); a number
# without an entry has group 0; GROUP replaces the user's group; the supplementary groups are
# the primary one and those listing the user's name.
resolve_script='num() { case $1 in "" | *[!0-9]*) return 1 ;; esac; [ ${#1} -le 10 ]; }
user=${1%%:*} group=
case $1 in *:*) group=${1#*:} ;; esac
case $user in "" | *[:,\ ]*) echo "fail bad user \"$1\"|give USER or USER:GROUP, a name or a number each"; exit ;; esac
case $group in *[:,\ ]*) echo "fail bad user \"$1\"|give USER or USER:GROUP, a name or a number each"; exit ;; esac
uid= gid=0 name= home=
if [ -f /etc/passwd ]; then
  while IFS=: read -r n _ u g _ h _ || [ -n "$n" ]; do
    if num "$u" && num "$g"; then
      if num "$user"; then [ "$u" -eq "$user" ] && { uid=$u gid=$g name=$n home=$h; break; }
      elif [ "$n" = "$user" ]; then uid=$u gid=$g name=$n home=$h; break
      fi
    fi
    n=
  done </etc/passwd
fi
if [ -z "$uid" ]; then
  if num "$user"; then uid=$user
  elif [ "$user" = root ]; then uid=0
  else echo "fail no user \"$user\" in the env'"'"'s /etc/passwd|give a user of the env'"'"'s /etc/passwd, or a number"; exit
  fi
fi
groups=
if num "$group"; then gid=$group
elif [ -n "$group" ]; then gid=
fi
if [ -f /etc/group ]; then
  while IFS=: read -r n _ g members || [ -n "$n" ]; do
    if num "$g"; then
      [ -n "$group" ] && [ -z "$gid" ] && [ "$n" = "$group" ] && gid=$g
      [ -n "$name" ] && case ,$members, in *,"$name",*) groups=$groups,+$g ;; esac
    fi
    n=
  done </etc/group
fi
[ -n "$gid" ] || { echo "fail no group \"$group\" in the env'"'"'s /etc/group|give a group of the env'"'"'s /etc/group, or a number"; exit; }
case $home in /*) ;; *) home=/ ;; esac
echo "ok $uid $gid +$gid$groups $home"'

# A user error that is not venv's failing: one line and a hint, as venv-enter says them.
refuse() {
  printf 'venv: error: %s\nhint: %s\n' "$1" "$2" >&2
  exit 125
}

# True when the id $1 is inside a range of the map file $2 (/proc/PID/uid_map, gid_map).
id_mapped() {
  while read -r inside _ count; do
    [ "$1" -ge "$inside" ] && [ "$1" -lt $((inside + count)) ] && return 0
  done <"$2"
  return 1
}

# Sets as_uid, as_gid, as_groups and as_home from resolve_script's "ok" line ($1).
take_resolved() {
  case $1 in
    "fail "*"|"*)
      why=${1#fail }
      refuse "${why%%|*}" "${why#*|}"
      ;;
  esac
  rest=${1#ok }
  as_uid=${rest%% *} rest=${rest#* }
  as_gid=${rest%% *} rest=${rest#* }
  as_groups=${rest%% *} as_home=${rest#* }
  case $1 in "ok "*) ;; *) as_uid= ;; esac
  case $as_uid:$as_gid:$as_groups in
    *[!0-9:,+]* | :* | *::* | *:) refuse "cannot look up user \"$as_user\" in the env" "check that the env has /bin/sh and readable /etc/passwd and /etc/group" ;;
  esac
}

fail() {
  { echo "error $1 $2" >&3; } 2>/dev/null || echo "venv: error: $2" >&2
  exit 125
}

# True while a process is neither gone nor a zombie.
alive() {
  read -r _ _ state _ 2>/dev/null < "/proc/$1/stat" || return 1
  [ "$state" != Z ]
}

# Waits (at most ~5 s) until every pid given has ended.
wait_gone() {
  spins=0
  for pid in "$@"; do
    while alive "$pid"; do
      spins=$((spins + 1))
      if [ $spins -gt 200 ]; then
        [ $spins -gt 700 ] && return 1
        sleep 0.01
      fi
    done
  done
}

# Sets start to field 22 of /proc/PID/stat (the anchor's name is "sh", so no field holds a
# space). A variable, not output: a $(...) would fork, on every entry.
start_time() {
  start=
  read -r _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ start _ < "/proc/$1/stat"
}

# Sets anchor from a keeper file (default: the env's); true when that anchor runs and is
# the very process recorded (pids get reused).
keeper_running() {
  read -r anchor anchor_start 2>/dev/null < "${1:-$keeper_file}" || return 1
  alive "$anchor" && start_time "$anchor" && [ "$start" = "$anchor_start" ]
}

# run/ is venv's, but an env's programs may reach it (a VENV_HOME under the shared home):
# what the runtime opens there must be a regular file or nothing, never a symlink it would
# write through or a FIFO it would block on (src/store/env-files.ts is the same rule in node).
regular_or_absent() {
  if [ -L "$1" ] || { [ -e "$1" ] && [ ! -f "$1" ]; }; then
    fail ENV_UNSAFE_FILE "refusing $run_dir/$1: a symlink or not a regular file; remove it"
  fi
}
run_files_are_regular() {
  for file in start.lock users.lock keeper keeper.ending keeper.log view.log fuse.log binds.fstab run.fstab settings lowers base base.env; do
    regular_or_absent "$file"
  done
}

# The logs grow at every start that has something to say: one past 256 KiB keeps its last
# 64 KiB. A start that went well writes nothing, so while every log is empty (the usual
# case, tested without a process) there is nothing to run.
trim_logs() {
  [ -s keeper.log ] || [ -s view.log ] || [ -s fuse.log ] || return 0
  find . -maxdepth 1 \( -name keeper.log -o -name view.log -o -name fuse.log \) -type f -size +256k \
    -exec sh -c 'for log; do tail -c 65536 "$log" >"$log.tmp" && mv -f "$log.tmp" "$log"; done' sh {} + 2>/dev/null
}

# lock FD:OP...: flock(2) operations in order (OP x, s: wait; xn, sn: do not; u), in one
# process with venv-lock (src/native/lock), else one flock(1) each. Returns 0, N+1 when
# operation N would have had to wait (the ones before it done), 125 on an error.
lock_bin=$here/../../native/venv-lock
[ -x "$lock_bin" ] && [ "${VENV_NATIVE_HELPERS-}" != 0 ] || lock_bin=
lock() {
  if [ -n "$lock_bin" ]; then
    "$lock_bin" "$@"
    return
  fi
  lock_n=1
  for op; do
    lock_n=$((lock_n + 1))
    case ${op#*:} in
      x) lock_flags=-x ;;
      s) lock_flags=-s ;;
      xn) lock_flags='-x -n' ;;
      sn) lock_flags='-s -n' ;;
      *) lock_flags=-u ;;
    esac
    # shellcheck disable=SC2086 # one or two options
    flock -E 99 $lock_flags "${op%%:*}"
    case $? in
      0) ;;
      99) return $lock_n ;;
      *) return 125 ;;
    esac
  done
}

start_keeper() {
  case $mapping in
    auto) set -- unshare --user --map-root-user --map-auto --mount --pid ;;
    single) set -- unshare --user --map-root-user --mount --pid ;;
    *) set -- unshare --mount --pid ;;
  esac
  # unshare --map-auto forks a helper that waits to be told unshare(2) worked. When it
  # fails (inside an env: chrooted; user namespaces off; a seccomp filter), util-linux 2.38
  # leaves the helper waiting forever with this $(...)'s pipe open, and venv would hang:
  # the wrapper kills its process group (itself and the helper) when unshare fails.
  trim_logs
  reply=$(setsid -f sh -c '"$@" || kill -KILL 0' sh "$@" sh "$here/keeper.sh" "$env_dir" "$mapping" \
    8>&- 9>&- 3>&- 2>>keeper.log)
  case $reply in
    "ready "*)
      set -- $reply
      anchor=$2
      # Readers hold the start mutex (node's reader checks the anchor's start time).
      start_time "$anchor"
      echo "$anchor $start" > "$keeper_file" || fail IO_FAILED "cannot write $run_dir/$keeper_file"
      ;;
    "error "*)
      set -- $reply
      code=$2
      shift 2
      fail "$code" "$*"
      ;;
    *)
      why=$(tail -n 1 keeper.log 2>/dev/null)
      fail NAMESPACE_FAILED "cannot create the env's namespaces: ${why:-unshare failed without saying why (see $run_dir/keeper.log)}"
      ;;
  esac
}

# Passes a signal on to the process in the env, the child of venv-enter or nsenter (which
# would just die, or ignore it).
# One that comes before the command is started waits in $pending; the child may take a
# moment to appear.
child= pending=
forward() {
  sig=$1
  if [ -z "$child" ]; then
    pending="$pending $sig"
    return
  fi
  tries=0
  while kill -0 "$child" 2>/dev/null && [ $tries -lt 100 ]; do
    for stat in /proc/[0-9]*/stat; do
      read -r line 2>/dev/null < "$stat" || continue
      set -- ${line##*) }
      [ "$2" = "$child" ] && kill -"$sig" "${line%% *}" 2>/dev/null && return
    done
    tries=$((tries + 1))
    sleep 0.01
  done
}
for sig in TERM HUP USR1 USR2; do trap "forward $sig" $sig; done

cd -- "$run_dir" 2>/dev/null || fail ENV_NOT_FOUND "env directory $env_dir is gone"
run_files_are_regular

# Host package drift (src/pkg/pkgdb-files.ts): once the env has its own dpkg status, the
# host's is hidden; the host changed packages since when its status is newer than the base
# the env kept. Two stat(2)s and no process, so entering costs nothing more while the
# host's packages stay as they are.
# An env on a base (create --base: run/base) has no host packages under it.
pkgdb_drifted() {
  [ /var/lib/dpkg/status -nt "$env_dir/upper/var/lib/venv/dpkg-status.base" ] && [ -e "$env_dir/upper/var/lib/dpkg/status" ] &&
    [ ! -e "$env_dir/run/base" ]
}
# The env's pkgdb-sync setting (run/settings, node's: src/store/env-settings.ts); auto
# when the file or the line is missing (envs made before the setting).
pkgdb_sync_auto() {
  [ -f settings ] || return 0
  while IFS='	' read -r key value _; do
    [ "$key" = pkgdb-sync ] && { [ "$value" = auto ]; return; }
  done <settings
  return 0
}
# With auto and no session inside, node merges the host's changes in when the merge has
# nothing to decide, and says so (src/pkg/pkgdb-follow-main.ts, which checks again under
# the start mutex, taken before this session takes it). Otherwise, or when it did not
# merge, the warning. Run before this session holds any lock, so node can take them. Not
# again for a host status it found something to decide in (pkgdb-follow.declined has its
# time): one more stat. (dash's -nt is false when the second file is missing.)
if pkgdb_drifted; then
  if pkgdb_sync_auto && { [ ! -e pkgdb-follow.declined ] || [ /var/lib/dpkg/status -nt pkgdb-follow.declined ]; } &&
    ! keeper_running && command -v node >/dev/null 2>&1; then
    node "$here/../pkg/pkgdb-follow-main.js" "$env_dir" </dev/null >&2 3>&-
  fi
  pkgdb_drifted && [ "${VENV_QUIET-}" != 1 ] &&
    echo "venv: warning: host packages changed since this env copied the dpkg database; run: venv sync-pkgdb ${env_dir##*/}" >&2
fi
# Set by node for --quiet (runtime/enter-env.ts): not for the command inside.
unset VENV_QUIET
exec 8>>start.lock 9>>users.lock || fail IO_FAILED "cannot open the locks in $run_dir"

# The start mutex, then the users lock shared, unless the anchor holds it (it is ending
# the env): status 0, or 3 without the users lock.
take_locks() {
  lock 8:x 9:sn
  held=$?
  [ "$held" != 125 ] || fail IO_FAILED "cannot lock $run_dir/start.lock"
}
take_locks
while :; do
  # venv rm renames the env away under this lock: the instance entered must still be the
  # one at the path, else this would start (or join) an env that is being deleted.
  [ . -ef "$run_dir" ] || fail ENV_NOT_FOUND "env directory $env_dir is gone (the env was removed)"
  if keeper_running; then
    [ "$held" = 0 ] && break
    # The anchor holds the users lock: it is on its way out. Let it go, then start anew.
    lock 8:u
    wait_gone "$anchor"
    take_locks
    continue
  fi
  # A stale keeper file: its anchor is gone (or is another process by now). Usually there
  # is none (the last session removes it), and testing first saves starting rm.
  [ ! -e "$keeper_file" ] || rm -f "$keeper_file"
  # An anchor that ended the env by itself drops its locks as it exits, before the kernel
  # has ended the rest of its namespace: wait for it, so that the upper dir is never
  # mounted twice.
  if [ -e "$keeper_file.ending" ]; then
    keeper_running "$keeper_file.ending" && wait_gone "$anchor"
    rm -f "$keeper_file.ending"
  fi
  [ "$held" = 0 ] || lock 9:sn || fail ENV_BUSY "the env's users lock is held, but the env is not running"
  start_keeper
  break
done
# Closing the only descriptor of the lock drops it, without running a process.
exec 8>&-

export VENV_NAME="${env_dir##*/}"
# Inside, the user is root and expects root's PATH; sbin goes last so it shadows nothing.
case ":$PATH:" in *:/usr/sbin:*) ;; *) PATH=$PATH:/usr/local/sbin:/usr/sbin:/sbin ;; esac
export PATH
# An env on a base (create --base): the image's Env for every command (run/base.env, one
# KEY=VALUE a line, checked by node: src/store/bases.ts), and its WorkingDir as
# VENV_WORKDIR, where venv-enter goes when the caller's directory is not in the env.
# The user to run as: --user (VENV_USER_OPTION, from node), else the image's User
# (VENV_BASE_USER, in base.env), else none (the env's root, as the caller is mapped).
as_user=${VENV_USER_OPTION-}
unset VENV_USER_OPTION VENV_BASE_USER VENV_AS
# The host's PATH, before an image's Env may set another: the fallback below finds the
# host's nsenter and chroot (in /usr/sbin) in it.
host_path=$PATH
on_base=
if [ -f base ]; then
  on_base=1
  regular_or_absent base.env
  if [ -f base.env ]; then
    while IFS= read -r pair; do export "$pair"; done <base.env
  fi
  [ -n "$as_user" ] || as_user=${VENV_BASE_USER-}
  unset VENV_BASE_USER
fi
if [ "$mode" = shell ]; then
  shell=${SHELL:-/bin/sh}
  rcfile=$here/bashrc
  # A base has neither venv's files (the keeper copies the rc file into the env's /run) nor,
  # perhaps, your shell: the env's /bin/sh then, which takes the prompt from PS1.
  [ -z "$on_base" ] || rcfile=/run/.venv-bashrc
  case ${shell##*/} in
    bash) set -- "$shell" --rcfile "$rcfile" -i ;;
    *) export PS1="($VENV_NAME) ${PS1:-# }"; set -- "$shell" -i ;;
  esac
  if [ -n "$on_base" ]; then
    set -- /bin/sh -c 'command -v "$1" >/dev/null 2>&1 && exec "$@"
case ${PS1-} in "($VENV_NAME) "*) ;; *) export PS1="($VENV_NAME) # " ;; esac
exec /bin/sh -i' venv-shell "$@"
  fi
fi

# The env's root cannot be opened from out here (FUSE refuses callers outside the
# mounting user namespace), so the chroot and the cd happen inside, by path. venv-enter
# (src/native/enter) joins the namespaces, chroots and runs CMD in one process and a fork;
# without it (no compiler at build time, or VENV_NATIVE_HELPERS=0) nsenter, chroot, sh and
# env do the same. In the background with a wait loop, because a shell runs traps only
# between commands: this way a signal sent to venv is passed on at once. An asynchronous
# command gets /dev/null as stdin unless told otherwise, hence fd 7.
enter=$here/../../native/venv-enter
if [ -x "$enter" ] && [ "${VENV_NATIVE_HELPERS-}" != 0 ]; then
  case $mapping in
    host) set -- "$enter" "$anchor" "$merged" "$cwd" "$@" ;;
    *) set -- "$enter" --user "$anchor" "$merged" "$cwd" "$@" ;;
  esac
  # venv-enter switches to it after its chroot (src/native/enter/switch-user.c).
  [ -z "$as_user" ] || export VENV_AS="$as_user"
else
  nsenter_bin=nsenter chroot_bin=chroot
  tool_ifs=$IFS IFS=:
  for tool_dir in $host_path; do
    [ "$nsenter_bin" != nsenter ] || [ ! -x "$tool_dir/nsenter" ] || nsenter_bin=$tool_dir/nsenter
    [ "$chroot_bin" != chroot ] || [ ! -x "$tool_dir/chroot" ] || chroot_bin=$tool_dir/chroot
  done
  IFS=$tool_ifs
  user='--preserve-credentials --user'
  [ "$mapping" != host ] || user=
  # An env with a network of its own (--net none or private) is joined in it too (venv-enter sees
  # to it itself): two stat(2)s tell, no file is read on every entry.
  net=
  [ "/proc/$anchor/ns/net" -ef /proc/self/ns/net ] || net=--net
  # A user to run as: its ids looked up in the env first (one more entry, only then), then
  # set by chroot(1) after its chroot. Numbers with a "+" are taken as they are: no lookup
  # through NSS, which would load the env's modules (coreutils' chroot does look up
  # otherwise). The ids are checked against the env's maps here, for a clear message.
  userspec=
  if [ -n "$as_user" ]; then
    # shellcheck disable=SC2086 # $user: two options or none; $net: one or none
    take_resolved "$("$nsenter_bin" --target "$anchor" $net $user --mount --pid -- "$chroot_bin" "$merged" /bin/sh -c "$resolve_script" venv "$as_user" </dev/null 8>&- 9>&- 3>&-)"
    if [ "$mapping" != host ]; then
      id_mapped "$as_uid" "/proc/$anchor/uid_map" && id_mapped "$as_gid" "/proc/$anchor/gid_map" ||
        refuse "user \"$as_user\" ($as_uid:$as_gid) is not mapped in the env" "an env made without subordinate ids (mapping single) has only root; choose a user whose ids the env maps"
    fi
    # An env without subordinate ids denies setgroups(2): there root 0:0, already the
    # caller's ids, is entered as without a change.
    if [ "$mapping" != single ] || [ "$as_uid:$as_gid" != 0:0 ]; then
      userspec="--userspec=+$as_uid:+$as_gid --groups=$as_groups"
    fi
    # As su - does: a user other than root starts in its own HOME.
    [ "$as_uid" = 0 ] || export HOME="$as_home"
  fi
  # shellcheck disable=SC2086 # $user: two options or none; $net: one or none; $userspec: two or none
  set -- "$nsenter_bin" --target "$anchor" $net $user --mount --pid -- "$chroot_bin" $userspec "$merged" /bin/sh -c "$enter_script" venv "$cwd" "$@"
fi
exec 7<&0
trap '' INT QUIT
"$@" 0<&7 7<&- 8>&- 9>&- 3>&- &
child=$!
exec 7<&-
for sig in $pending; do forward "$sig"; done
while :; do
  wait $child
  status=$?
  kill -0 $child 2>/dev/null && continue
  # A trapped signal cuts wait short with 128+N; when the child ended just then, the shell
  # has collected it, and a second wait gives its own status (127: there was none left).
  [ $status -gt 128 ] && { wait $child; s=$?; [ $s = 127 ] || status=$s; }
  break
done

# Leaving: under the start mutex, if no other session holds the users lock, this was the
# last one: end the env's pid namespace now, and return only when it is gone. The anchor
# is the one the keeper file names now, and only if it still runs: rm --force or rollback
# --force may have ended it meanwhile, and its pid may be another process's by now.
regular_or_absent start.lock
exec 8>>start.lock || fail IO_FAILED "cannot open $run_dir/start.lock"
lock 8:x 9:xn
last=$?
if [ "$last" = 0 ]; then
  if keeper_running; then
    kill -KILL "$anchor" 2>/dev/null
    wait_gone "$anchor"
  fi
  rm -f "$keeper_file"
elif [ "$last" = 3 ] && ! lock 9:sn; then
  # The anchor took the users lock first (it waits for it too): it is ending the env.
  lock 8:u
  wait_gone "$anchor"
fi
exit $status
