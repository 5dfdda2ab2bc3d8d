#!/usr/bin/env bash
# One entry point that sets up a fresh Debian machine (only Node and npm needed) and then
#   ./dev.sh up     runs the whole inferd stack (pnpm inferd up)
#   ./dev.sh test   runs every test CI runs (pnpm test)
#   ./dev.sh setup  only installs what is missing
#   ./dev.sh test-nats-current   runs the NATS-facing suites against nats-server v2.15 too
# What it installs when missing: Node 24 (from the npm registry's `node` package, into .tools/),
# pnpm, the workspace packages, and nats-server, redis-server and promtool from Debian's packages
# (as root; otherwise it prints the exact apt-get command and stops); for tests, the Go tools in
# scripts/go-tools.sh (the nats CLI, helm) into .tools/bin, built once from the Go module proxy, and a
# Docker engine (Debian's docker.io, dockerd started as root) with debootstrap for the image tests;
# for test-nats-current also nats-server v2.15.3 (scripts/go-tools.sh nats-server, ~3 min cold); and
# (setup, test) the Kubernetes control plane the deployer's and the chart's tests run on: etcd,
# kube-apiserver, kube-controller-manager, kube-scheduler, kubectl and kwok, built from the Go module
# proxy with the machine's Go (1.26+) into .tools/kube by scripts/build-kube-tools.sh, once (~10 min
# cold on 2 cores).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
ROOT="$PWD"
TOOLS="$ROOT/.tools/node"
NODE_MAJOR=24
PNPM_VERSION=10.34.9

say() { printf '\033[1m[dev]\033[0m %s\n' "$*" >&2; }

node_major() { node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0; }

ensure_node() {
  export PATH="$TOOLS/bin:$PATH"
  if [ "$(node_major)" -ge "$NODE_MAJOR" ]; then return; fi
  command -v npm >/dev/null || { say "npm is required to install Node $NODE_MAJOR (apt-get install -y nodejs npm)"; exit 1; }
  say "installing Node $NODE_MAJOR from the npm registry into .tools/node (machine has $(node --version 2>/dev/null || echo none))"
  npm install --global --prefix "$TOOLS" --no-fund --no-audit "node@$NODE_MAJOR" >&2
  hash -r
  [ "$(node_major)" -ge "$NODE_MAJOR" ] || { say "Node $NODE_MAJOR install failed"; exit 1; }
}

ensure_pnpm() {
  if command -v pnpm >/dev/null && [ "$(pnpm --version 2>/dev/null)" = "$PNPM_VERSION" ]; then return; fi
  say "installing pnpm $PNPM_VERSION into .tools/node"
  npm install --global --prefix "$TOOLS" --no-fund --no-audit "pnpm@$PNPM_VERSION" >&2
  hash -r
}

ensure_debian_packages() {
  local missing=()
  command -v nats-server >/dev/null || missing+=(nats-server)
  command -v redis-server >/dev/null || missing+=(redis-server)
  if [ "${1:-}" = test ]; then command -v promtool >/dev/null || missing+=(prometheus); fi
  [ ${#missing[@]} -eq 0 ] && return
  if [ "$(id -u)" -eq 0 ]; then
    say "installing ${missing[*]} from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  else
    say "missing: ${missing[*]}. Install them with:"
    say "  sudo apt-get update && sudo apt-get install -y ${missing[*]}"
    exit 1
  fi
}

ensure_go_tools() {
  # Go tools the tests use (the nats CLI, helm), built once from the Go module proxy into .tools/bin.
  "$ROOT/scripts/go-tools.sh"
}

ensure_kube_tools() {
  "$ROOT/scripts/build-kube-tools.sh" --check 2>/dev/null && return
  say "building the Kubernetes test control plane into .tools/kube (once; ~10 min cold on 2 cores)"
  "$ROOT/scripts/build-kube-tools.sh"
}

# nats-server v2.15 (Debian ships 2.9), kept apart from .tools/bin so it never shadows the
# system nats-server; the NATS-facing suites run against it with INFERD_NATS_SERVER_BIN.
NATS_CURRENT_BIN="$ROOT/.tools/nats-server-v2.15.3/nats-server"
ensure_nats_current() { "$ROOT/scripts/go-tools.sh" nats-server; }
# The chaos short forms run here too: one-node and control plane (`inferd up` starts this
# nats-server) and the 3-node cluster (testkit's startNatsCluster), so every fault path is
# exercised on the current server.
NATS_SUITES=(packages/bus services/gateway/test/adapters services/scorer/test/adapters services/autoscaler/test/adapters services/kv-index/test/e2e/pipeline.test.ts services/kv-index/test/e2e/store-lost-writes.test.ts test/e2e/nats-fuzz.test.ts test/deploy/stream-replicas.test.ts test/e2e/chaos.test.ts test/e2e/chaos-control-plane.test.ts test/e2e/chaos-cluster.test.ts)

ensure_docker() {
  # The image and container tests need a Docker engine: Debian's docker.io (dockerd as root) and
  # debootstrap for the local base image (no image registry is reachable).
  local missing=()
  command -v dockerd >/dev/null || missing+=(docker.io)
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  if [ ${#missing[@]} -gt 0 ]; then
    [ "$(id -u)" -eq 0 ] || { say "missing: ${missing[*]} (sudo apt-get install -y ${missing[*]})"; exit 1; }
    say "installing ${missing[*]} from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
  fi
  if ! docker version --format '{{.Server.Version}}' >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || { say "no Docker engine answers: start dockerd (sudo dockerd &)"; exit 1; }
    say "starting dockerd (log: .tools/dockerd.log)"
    mkdir -p "$ROOT/.tools"
    # Its own session: it outlives this script's process group (the test runner's).
    setsid nohup dockerd >"$ROOT/.tools/dockerd.log" 2>&1 < /dev/null &
    local up=""
    for _ in $(seq 1 60); do docker version >/dev/null 2>&1 && { up=1; break; }; sleep 1; done
    [ -n "$up" ] || { say "dockerd did not answer within 60 s (see .tools/dockerd.log)"; exit 1; }
  fi
  # The local base and test-server images, built here rather than inside the test run: on a fresh
  # engine the debootstrap build takes 2-3 min of both cores, which must not overlap timed tests.
  if ! docker image inspect inferd-base:node24 inferd-testkit/servers:local >/dev/null 2>&1; then
    say "building the local base and test-server images (once per Docker engine; ~2-3 min)"
    "$ROOT/deploy/image/test-images.sh" >/dev/null
  fi
}

ensure_workspace() {
  say "installing workspace packages (pnpm install)"
  pnpm install --frozen-lockfile >&2
}

cmd="${1:-help}"
[ $# -gt 0 ] && shift
case "$cmd" in
  up)    ensure_node; ensure_pnpm; ensure_debian_packages up; ensure_workspace; exec pnpm --silent inferd up "$@" ;;
  test)  ensure_node; ensure_pnpm; ensure_debian_packages test; ensure_workspace; ensure_go_tools; ensure_kube_tools; ensure_docker; exec pnpm test "$@" ;;
  test-nats-current) ensure_node; ensure_pnpm; ensure_debian_packages test; ensure_workspace; ensure_go_tools; ensure_nats_current
         INFERD_NATS_SERVER_BIN="$NATS_CURRENT_BIN" exec pnpm exec vitest run "${NATS_SUITES[@]}" "$@" ;;
  setup) ensure_node; ensure_pnpm; ensure_debian_packages test; ensure_workspace; ensure_go_tools; ensure_kube_tools; say "ready: PATH=$TOOLS/bin:\$PATH pnpm inferd --help" ;;
  *)     sed -n '2,16p' "$0"; exit 2 ;;
esac
