#!/bin/sh
# Quick start (README): on Debian 12 with Node 20, from a checkout, run scripts/demo.sh.
# Installs what venv needs (with sudo unless root), builds venv, and shows its main job as
# an ordinary user: a write to /etc inside the env "demo" that the host never sees.
# As root it runs the demo as $SUDO_USER, else as VENV_TEST_USER (default venvtest, created
# if missing), because venv is meant for unprivileged users. Safe to run again.
set -eu
cd -- "$(dirname -- "$0")/.."
checkout=$PWD

step() { printf '\n== %s\n' "$*"; }
as_root() {
  if [ "$(id -u)" = 0 ]; then
    "$@"
  elif command -v sudo >/dev/null; then
    sudo "$@"
  else
    echo "this step needs root and there is no sudo: run me as root ($*)" >&2
    exit 1
  fi
}

if [ "$(id -u)" = 0 ]; then
  user=${SUDO_USER:-}
  [ "$user" != root ] || user=
  user=${user:-${VENV_TEST_USER:-venvtest}}
else
  user=$(id -un)
fi
as_user() { if [ "$(id -un)" = "$user" ]; then "$@"; else as_root runuser -u "$user" -- "$@"; fi; }

step "Debian packages: gcc, pkg-config, libfuse3-dev (to build venv-rootview, the fast backend), fuse-overlayfs (the fallback), uidmap (subordinate ids), iproute2 (envs with --net none), slirp4netns (envs with --net private)"
if command -v fuse-overlayfs >/dev/null && command -v newuidmap >/dev/null && command -v cc >/dev/null &&
  command -v ip >/dev/null && command -v slirp4netns >/dev/null && pkg-config --exists fuse3 2>/dev/null; then
  echo "already installed"
else
  as_root apt-get update -q
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends \
    gcc libc6-dev pkg-config libfuse3-dev fuse3 fuse-overlayfs uidmap iproute2 slirp4netns
fi

step "Node.js 20"
major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$major" -lt 20 ]; then
  echo "venv needs Node.js 20 or later; found: $(node --version 2>/dev/null || echo none)." >&2
  echo "Debian 12 ships Node 18: install Node 20 (e.g. from nodejs.org or NodeSource) and run me again." >&2
  exit 1
fi
node --version

if ! id -u "$user" >/dev/null 2>&1; then
  step "user $user (venv runs as an ordinary user)"
  as_root useradd --create-home --shell /bin/bash "$user"
fi
if ! grep -q "^$user:" /etc/subuid 2>/dev/null || ! grep -q "^$user:" /etc/subgid 2>/dev/null; then
  step "subordinate ids for $user (so that chown works inside an env)"
  # The first free range of 65536 ids above every range in use.
  start=$(awk -F: 'BEGIN { e = 100000 } $2 + $3 > e { e = $2 + $3 } END { print e }' /etc/subuid /etc/subgid 2>/dev/null || echo 100000)
  as_root usermod --add-subuids "$start-$((start + 65535))" --add-subgids "$start-$((start + 65535))" "$user"
fi

step "/dev/fuse usable by $user"
[ -e /dev/fuse ] || as_root modprobe fuse
if ! as_user test -r /dev/fuse -a -w /dev/fuse; then
  as_root chmod 0666 /dev/fuse
fi
ls -l /dev/fuse
# --net private's slirp4netns opens it; some images ship it 0600, as they do /dev/fuse.
if [ -e /dev/net/tun ] && ! as_user test -r /dev/net/tun -a -w /dev/net/tun; then
  as_root chmod 0666 /dev/net/tun
fi

step "npm ci && npm run build"
# As the checkout's owner, so that a sudo run leaves no root-owned files in it.
owner=$(stat -c %U "$checkout")
as_owner() { if [ "$(id -un)" = "$owner" ]; then "$@"; else as_root runuser -u "$owner" -- "$@"; fi; }
as_owner npm ci --no-audit --no-fund
as_owner npm run build

if ! as_user test -x "$checkout/bin/venv" -a -r "$checkout/dist/src/cli.js"; then
  echo "$user cannot run $checkout/bin/venv: make the checkout readable (chmod -R o+rX) and its parent directories searchable, or run me from a checkout $user owns." >&2
  exit 1
fi

venv=$checkout/bin/venv
step "as $user: venv doctor"
as_user "$venv" doctor
if ! as_user "$venv" list --json | grep -q '"name": "demo"'; then
  step "as $user: venv create demo"
  as_user "$venv" create demo
fi

step "as $user, in the env: venv run demo -- sh -c 'echo hello > /etc/venv-demo; cat /etc/venv-demo'"
as_user "$venv" run demo -- sh -c 'echo hello > /etc/venv-demo; cat /etc/venv-demo'

step "on the host: ls /etc/venv-demo"
if [ -e /etc/venv-demo ]; then
  echo "/etc/venv-demo exists on the host: that should not happen" >&2
  exit 1
fi
echo "no /etc/venv-demo here: the write went to the env, the host is unchanged"

step "as $user: venv list"
as_user "$venv" list
cat <<EOF

Next, as $user: "$venv shell demo" for a shell in the env (you are root inside; try
echo 127.0.0.2 demo >> /etc/hosts), "$venv rm demo" to delete it. The tests: npm test.
EOF
