# Sourced by keeper.sh: the env's network (the setting net, from run/settings).
#   host     the host's network namespace: nothing to do.
#   none     a network namespace of the env's own with only loopback.
#   private  the same with a tap device that slirp4netns connects to the host's network
#            (user-mode TCP/IP: no privileges), the ports the settings publish, and a
#            /etc/resolv.conf naming slirp4netns's DNS forwarder.
# The anchor is started in the new network namespace (anchor_command), so that sessions
# join it there; keeper.sh itself and what it starts stay in the host's. slirp4netns must:
# it opens its sockets in the host's network. It is started by the keeper, so it is a
# process of the env's pid namespace (reparented to the anchor when the keeper exits) and
# the kernel ends it with the anchor, as it ends the FUSE daemon: on every way an env ends
# (the last session leaving, its kill -9, rm --force) nothing of the network is left.

# Sets anchor_net to the command that starts the anchor: in a network namespace of its own
# unless the env has the host's.
anchor_command() {
  anchor_net=
  [ "$env_net" = host ] || anchor_net='unshare --net'
}

# Waits until the anchor is in its own network namespace (it starts as unshare, which makes
# it, then runs the anchor's shell): a matter of an exec. Fails when the anchor died first.
wait_anchor_net() {
  while [ "/proc/$anchor/ns/net" -ef /proc/self/ns/net ]; do
    [ -e "/proc/$anchor/ns/net" ] || fail NAMESPACE_FAILED "cannot create the env's network namespace (see $run_dir/keeper.log)"
  done
}

setup_env_net() {
  case $env_net in
    host) return 0 ;;
    none)
      wait_anchor_net
      # A new network namespace starts with loopback down.
      nsenter --net="/proc/$anchor/ns/net" ip link set lo up 2>>"$run_dir/keeper.log" \
        || fail NETWORK_FAILED "cannot bring up the env's loopback (ip link set lo up; see $run_dir/keeper.log)"
      ;;
    private)
      wait_anchor_net
      start_slirp
      publish_ports
      own_resolv_conf
      ;;
  esac
}

# slirp4netns, attached to the anchor's network namespace: tap0 with 10.0.2.100/24, the
# gateway (the host) 10.0.2.2, DNS 10.0.2.3, loopback up (--configure). Options:
#   --disable-host-loopback  the gateway does not lead to the host's 127.0.0.1: an env (one
#                 restored from a stranger's archive, say) must not reach the services the
#                 host keeps on its loopback (databases, agents, the X server's ports).
#   --enable-sandbox, --enable-seccomp  slirp4netns parses every packet the env sends, in
#                 the host's network: it runs in an empty root of its own with the system
#                 calls it needs only.
#   --mtu=65520   the tap device's largest: far fewer packets to copy (podman's default).
# The API socket (for the published ports) is opened only when there are some, and
# removed as soon as they are: nothing else may add a port later. The ready descriptor
# is closed once the network is configured; the $(...) returns then, or when it died.
start_slirp() {
  command -v slirp4netns >/dev/null \
    || fail TOOL_MISSING "--net private needs slirp4netns, which is not installed (apt-get install slirp4netns)"
  [ -r /dev/net/tun ] && [ -w /dev/net/tun ] \
    || fail NETWORK_FAILED "--net private needs /dev/net/tun readable and writable by you (sudo chmod 0666 /dev/net/tun)"
  set -- --configure --mtu=65520 --disable-host-loopback --enable-sandbox --enable-seccomp
  if [ "$env_publish" = yes ]; then
    # A relative path: the keeper works in the env dir, and a socket's path is at most 108
    # bytes. Removed first: a start that failed may have left one.
    rm -f run/slirp.sock
    set -- "$@" --api-socket run/slirp.sock
  fi
  ready=$(slirp4netns "$@" --ready-fd 5 "$anchor" tap0 5>&1 >>"$run_dir/keeper.log" 2>&1 &)
  [ "$ready" = 1 ] || {
    why=$(tail -n 1 "$run_dir/keeper.log")
    fail NETWORK_FAILED "slirp4netns could not connect the env's network: ${why:-it exited} (see $run_dir/keeper.log)"
  }
}

# Each "publish" line of run/settings, through slirp4netns's API socket, which speaks
# JSON: venv-publish (src/native/publish), or where no compiler built it (or with
# VENV_NATIVE_HELPERS=0) publish-ports.js, the same in node (~40 ms more to start). Either
# says which port failed and why in one line.
publish_ports() {
  [ -S run/slirp.sock ] || return 0
  publish=$here/../../native/venv-publish
  if [ -x "$publish" ] && [ "${VENV_NATIVE_HELPERS-}" != 0 ]; then
    set -- "$publish" run/slirp.sock
  else
    set -- node "$here/publish-ports.js" run/slirp.sock
  fi
  why=$("$@" <"$run_dir/settings" 2>>"$run_dir/keeper.log")
  status=$?
  rm -f run/slirp.sock
  [ "$status" = 0 ] || fail NETWORK_FAILED "${why:-cannot publish the env's ports (see $run_dir/keeper.log)}"
}

# The env's /etc/resolv.conf must name slirp4netns's DNS forwarder, 10.0.2.3 (which asks the
# host's own servers): the host's may name 127.0.0.53 or another address only the host
# reaches. The host's file is not touched, nor the env's changes: a file in the env's own
# /run is bound over the env's /etc/resolv.conf. Where that is a symlink into /run (as
# systemd-resolved's is; private-run.sh then does not bind the host's directory), the
# file is written where it points, in the env's fresh /run. Never through a symlink the
# env put on the way: a mount point or a file written outside merged/ would be the host's.
own_resolv_conf() {
  resolv="# venv: --net private: slirp4netns's DNS forwarder
nameserver 10.0.2.3"
  if [ -L "$merged/etc" ] || [ ! -d "$merged/etc" ]; then
    echo "venv: no /etc directory in the env: /etc/resolv.conf left as it is" >&2
  elif [ -L "$merged/etc/resolv.conf" ]; then
    target=$(readlink "$merged/etc/resolv.conf")
    case $target in
      *[[:space:]]* | */../* | */.. | */./* | *//*) target= ;;
      /run/?*) ;;
      *) target= ;;
    esac
    if [ -z "$target" ] || ! env_dirs "${target%/*}" || [ -e "$merged$target" ] || [ -L "$merged$target" ]; then
      echo "venv: the env's /etc/resolv.conf is a symlink out of /run: left as it is" >&2
      return 0
    fi
    printf '%s\n' "$resolv" >"$merged$target" || fail NETWORK_FAILED "cannot write the env's $target"
  elif [ -f "$merged/etc/resolv.conf" ]; then
    printf '%s\n' "$resolv" >"$merged/run/.venv-resolv.conf" \
      && mount --bind "$merged/run/.venv-resolv.conf" "$merged/etc/resolv.conf" \
      || fail NETWORK_FAILED "cannot give the env its own /etc/resolv.conf (see $run_dir/keeper.log)"
  else
    echo "venv: the env has no /etc/resolv.conf: left as it is" >&2
  fi
}
