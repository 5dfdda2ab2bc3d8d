#!/usr/bin/env bash
# Builds a local stand-in for node:24-slim where no image registry is reachable: a Debian minbase
# root filesystem (debootstrap, Debian's packages) with Node 24 and npm from the npm registry at
# /usr/local, imported into the Docker engine as ${1:-inferd-base:node24}.
#   deploy/image/base-image.sh [IMAGE]      (~1-2 min; needs root, debootstrap, docker)
set -euo pipefail
image="${1:-inferd-base:node24}"
suite="${DEBIAN_SUITE:-bookworm}"
if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi
# Two callers at once (test files run in parallel) build it once: the second waits, then finds it.
exec 9>"${TMPDIR:-/tmp}/inferd-base-image.lock"
flock 9
if docker image inspect "$image" >/dev/null 2>&1; then echo "$image"; exit 0; fi
command -v debootstrap >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq debootstrap >&2
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
rootfs="$work/rootfs"
debootstrap --variant=minbase --include=ca-certificates "$suite" "$rootfs" >&2
# Node 24 and npm as the official image lays them out: /usr/local/bin/{node,npm,npx}.
npm install --global --prefix "$work/node" --no-fund --no-audit node@24 npm@11 >&2
install -m 0755 "$(readlink -f "$work/node/lib/node_modules/node/bin/node")" "$rootfs/usr/local/bin/node"
mkdir -p "$rootfs/usr/local/lib/node_modules"
cp -a "$work/node/lib/node_modules/npm" "$rootfs/usr/local/lib/node_modules/npm"
ln -sf ../lib/node_modules/npm/bin/npm-cli.js "$rootfs/usr/local/bin/npm"
ln -sf ../lib/node_modules/npm/bin/npx-cli.js "$rootfs/usr/local/bin/npx"
# Trust what the host trusts: a machine behind a TLS-inspecting proxy has its CA in
# /usr/local/share/ca-certificates, and npm/apt inside the build need it too.
if compgen -G "/usr/local/share/ca-certificates/*.crt" >/dev/null; then
  cp /usr/local/share/ca-certificates/*.crt "$rootfs/usr/local/share/ca-certificates/"
  chroot "$rootfs" update-ca-certificates >&2
fi
rm -rf "$rootfs/var/cache/apt/archives"/*.deb "$rootfs/var/lib/apt/lists"/*
tar -C "$rootfs" -c . | docker import \
  --change 'ENV PATH=/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin' \
  --change 'ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt' \
  - "$image" >&2
echo "$image"
