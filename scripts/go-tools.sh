#!/usr/bin/env bash
# Builds the external Go tools the tests use into .tools/bin, once, from the Go module proxy:
#   scripts/go-tools.sh [TOOL...]     (default: nats helm)
# nats: the NATS CLI (natscli v0.5.0), ~2 min cold on 2 cores.
# helm: helm v4.3.2 (chart tests), ~4.5 min cold on 2 cores.
# nats-server: nats-server v2.15.3 into .tools/nats-server-v2.15.3/ (not .tools/bin, so it never
#   shadows Debian's 2.9), ~3 min cold; only for ./dev.sh test-nats-current.
# A tool already built at the pinned version is skipped. Needs Go >= 1.24 on PATH.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="$root/.tools/bin"
mkdir -p "$bin"

say() { printf '\033[1m[go-tools]\033[0m %s\n' "$*" >&2; }

# build NAME MODULE@VERSION [LDFLAGS]: go install into .tools/bin (or $BUILD_DIR), stamped with the version.
build() {
  local name="$1" pkg="$2" ldflags="-s -w ${3:-}"
  local bin="${BUILD_DIR:-$bin}"
  mkdir -p "$bin"
  local stamp="$bin/.$name.version"
  if [ -x "$bin/$name" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$pkg" ]; then return; fi
  command -v go >/dev/null || { say "Go is required to build $name ($pkg): apt-get install golang-go, or Go from the Go module proxy"; exit 1; }
  say "building $name from $pkg (once; cached in $bin)"
  GOBIN="$bin" GOFLAGS=-mod=mod nice -n 5 go install -ldflags "$ldflags" "$pkg" >&2
  echo "$pkg" > "$stamp"
}

tools=("$@")
[ ${#tools[@]} -eq 0 ] && tools=(nats helm)
for tool in "${tools[@]}"; do
  case "$tool" in
    nats) build nats github.com/nats-io/natscli/nats@v0.5.0 ;;
    # Without the version ldflag `helm version` prints v4.3.
    helm) build helm helm.sh/helm/v4/cmd/helm@v4.3.2 "-X helm.sh/helm/v4/internal/version.version=v4.3.2" ;;
    nats-server) BUILD_DIR="$root/.tools/nats-server-v2.15.3" build nats-server github.com/nats-io/nats-server/v2@v2.15.3 ;;
    *) say "unknown tool $tool"; exit 2 ;;
  esac
done
