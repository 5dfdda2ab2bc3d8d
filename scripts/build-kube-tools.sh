#!/usr/bin/env bash
# Builds the Kubernetes control plane that @inferd/testkit starts for the deployer's tests (and the
# Helm chart tests) into .tools/kube/bin: etcd, kube-apiserver, kube-controller-manager,
# kube-scheduler, kubectl and kwok, all from the Go module proxy (no release page, no image).
# Runs once: a binary already built at the pinned version is kept. A cold build takes ~7-10 min on
# 2 cores (about 4 GB of memory, 5.5 GB of Go caches); it runs at low priority.
#   scripts/build-kube-tools.sh          build what is missing
#   scripts/build-kube-tools.sh --check  exit 1 if something is missing, build nothing
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
ROOT="$PWD"
BIN="$ROOT/.tools/kube/bin"
K8S_VERSION=v1.37.2
ETCD_VERSION=v3.6.17
KWOK_VERSION=v0.8.0
# The stamp records the versions the binaries were built at, so a version bump rebuilds them.
STAMP="$BIN/.versions"
WANT="k8s=$K8S_VERSION etcd=$ETCD_VERSION kwok=$KWOK_VERSION"
TOOLS=(etcd kube-apiserver kube-controller-manager kube-scheduler kubectl kwok)
# kwok's own stage definitions (nodes Ready with lease heartbeats; pods Ready, completed, deleted),
# copied from its module so the testkit needs no module cache at run time.
STAGES="$ROOT/.tools/kube/kwok-stages.yaml"

say() { printf '\033[1m[kube-tools]\033[0m %s\n' "$*" >&2; }

complete() {
  [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$WANT" ] || return 1
  for t in "${TOOLS[@]}"; do [ -x "$BIN/$t" ] || return 1; done
  [ -s "$STAGES" ]
}

if complete; then exit 0; fi
if [ "${1:-}" = --check ]; then say "missing or stale in $BIN (run scripts/build-kube-tools.sh)"; exit 1; fi
command -v go >/dev/null || { say "Go 1.26+ is needed to build the Kubernetes test tools (apt-get install golang or the Go toolchain)"; exit 1; }

mkdir -p "$BIN"
rm -f "$STAMP"
export GOFLAGS=-mod=mod GOTOOLCHAIN=local
start=$(date +%s)
PKG=k8s.io/kubernetes/cmd
LDFLAGS="-s -w -X k8s.io/component-base/version.gitVersion=$K8S_VERSION -X k8s.io/component-base/version.gitMajor=1 \
-X k8s.io/component-base/version.gitMinor=37 -X k8s.io/component-base/version.gitTreeState=clean \
-X k8s.io/client-go/pkg/version.gitVersion=$K8S_VERSION"

say "etcd $ETCD_VERSION"
(cd tools/etcd && nice -n 10 go build -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3)

# One go build for the four commands: their shared packages compile once, in parallel.
say "kube-apiserver, kube-controller-manager, kube-scheduler, kubectl $K8S_VERSION"
(cd tools/kube && nice -n 10 go build -ldflags "$LDFLAGS" -o "$BIN/" \
  "$PKG/kube-apiserver" "$PKG/kube-controller-manager" "$PKG/kube-scheduler" "$PKG/kubectl")

say "kwok $KWOK_VERSION"
GOBIN="$BIN" nice -n 10 go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION"

KWOK_DIR=$(go mod download -json "sigs.k8s.io/kwok@$KWOK_VERSION" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
S="$KWOK_DIR/kustomize/stage"
for f in node/fast/node-initialize.yaml node/heartbeat-with-lease/node-heartbeat-with-lease.yaml \
  pod/fast/pod-ready.yaml pod/fast/pod-complete.yaml pod/fast/pod-delete.yaml; do
  printf -- '---\n'; cat "$S/$f"
done > "$STAGES.tmp" && mv "$STAGES.tmp" "$STAGES"

echo "$WANT" > "$STAMP"
say "built ${TOOLS[*]} in $(( $(date +%s) - start )) s"
