#!/bin/sh
# The admin side of the lock protocol: exclusive.sh RUN_DIR MODE (MODE: refuse | end).
# node runs it (src/locks/start-lock.ts) for the commands that must not overlap an entry:
# rm, rollback, restore --force, commit and snapshot. It takes the env's start mutex
# (run/start.lock, which session.sh holds to start, join and leave), so that no session
# can enter until it exits, and then sees to it that nothing of the env runs:
#   - sessions inside (run/users.lock held shared) of a running anchor: MODE refuse says
#     "busy" and exits; MODE end kills the anchor (pid 1 of the env's pid namespace, so the
#     kernel ends every process in it) and waits until it is gone;
#   - an anchor with no session inside (its last session died and it is ending the env, or
#     it ended the env by itself and its namespace is still going): ended and waited for.
# Then it holds the mutex until its stdin closes (node is done, or died). The sessions it
# ended leave as soon as it lets go; they touch only their own instance (see session.sh).
#
# Lines on stdout:
#   locked           the start mutex is held; nothing was done yet
#   ending PID       about to kill the anchor PID of an env in use (MODE end)
#   ready            the env is not running and no session can enter until stdin closes
#   busy PID         in use (MODE refuse); nothing was done
#   error CODE MSG   failed; what it ended stays ended, nothing else was done
set -u
run_dir=$1 mode=$2

fail() {
  echo "error $1 $2"
  exit 1
}

# The same test as session.sh's keeper_running: true when the anchor a keeper file names
# runs and is the very process recorded (pids get reused); sets anchor.
keeper_running() {
  read -r anchor anchor_start 2>/dev/null < "$1" || return 1
  read -r _ _ state _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ _ start _ 2>/dev/null < "/proc/$anchor/stat" || return 1
  [ "$state" != Z ] && [ "$start" = "$anchor_start" ]
}

# Kills the anchor a keeper file names, if it runs, and waits until it is gone: the kernel
# makes a pid namespace's init a zombie only after every other process in it, the FUSE
# daemon included, has ended. Bounded, so that a process stuck in the kernel means a
# failure rather than a hang.
end_anchor() {
  keeper_running "$1" || return 0
  kill -KILL "$anchor" 2>/dev/null
  tries=0
  while keeper_running "$1"; do
    tries=$((tries + 1))
    [ $tries -le 1500 ] || fail ENV_BUSY "the env's processes did not end within 30 s of SIGKILL (anchor pid $anchor)"
    sleep 0.02
  done
}

# An env without a run dir (made by hand, or half restored) has no session either.
[ -d "$run_dir" ] || mkdir -- "$run_dir" 2>/dev/null || fail ENV_NOT_FOUND "no env directory ${run_dir%/run}"
cd -- "$run_dir" || fail IO_FAILED "cannot enter $run_dir"
exec 8>>start.lock 9>>users.lock || fail IO_FAILED "cannot open the locks in $run_dir"
# Sessions hold it for milliseconds, or while they start the env (bounded by the mount
# timeout, 30 s by default).
flock -x -w 60 8 || fail ENV_BUSY "the env's start lock stayed held for 60 s"
echo locked

if flock -x -n 9; then
  # No session inside; the anchor, if any, is not waiting for one (it would hold this).
  :
elif flock -s -n 9; then
  flock -u 9
  # Sessions hold the users lock. Those of an env that was ended already hold it until
  # they have left, which they do once this lets go: in use only if the env runs.
  if keeper_running keeper; then
    [ "$mode" = end ] || {
      echo "busy $anchor"
      exit 0
    }
    echo "ending $anchor"
  fi
fi
# Else the anchor holds the users lock: its last session died, and it waits for the start
# mutex to end the env. Either way, an anchor left now has nobody inside, or is to go.
end_anchor keeper
end_anchor keeper.ending
rm -f keeper keeper.ending
echo ready
exec cat > /dev/null
