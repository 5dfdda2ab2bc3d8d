#!/usr/bin/env bash
# Builds the images the tests use with a Docker engine, from Debian's packages and the npm registry
# only (no image registry): the Node base (base-image.sh) and inferd-testkit/servers:local with
# Debian's nats-server and redis-server, which @inferd/testkit runs in containers on the host network.
#   deploy/image/test-images.sh          (~2-3 min once; needs root, debootstrap, a running dockerd)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
base="$("$here/base-image.sh")"
if ! docker image inspect inferd-testkit/servers:local >/dev/null 2>&1; then
  docker build --network host -t inferd-testkit/servers:local --build-arg BASE="$base" - >&2 <<'DOCKERFILE'
ARG BASE
FROM ${BASE}
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nats-server redis-server \
 && rm -rf /var/lib/apt/lists/*
DOCKERFILE
fi
echo "$base inferd-testkit/servers:local"
