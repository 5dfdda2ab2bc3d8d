#!/usr/bin/env bash
# Makes a venv for the example and generates the inferd.v1 message code into it:
#   examples/python-ttft/setup.sh [VENV_DIR]      (default: .tools/venvs/python-ttft)
# Idempotent: an existing venv whose requirements are unchanged is reused. Needs python3 >= 3.9
# with the venv module (Debian: apt-get install python3-venv).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
venv="${1:-$root/.tools/venvs/python-ttft}"
stamp="$venv/.requirements"
if [ ! -x "$venv/bin/python" ] || ! cmp -s "$here/requirements.txt" "$stamp"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$here/requirements.txt"
  cp "$here/requirements.txt" "$stamp"
fi
gen="$venv/gen"
rm -rf "$gen" && mkdir -p "$gen"
"$venv/bin/python" -m grpc_tools.protoc -I "$root/proto" --python_out="$gen" "$root"/proto/inferd/v1/*.proto
touch "$gen/inferd/__init__.py" "$gen/inferd/v1/__init__.py"
echo "$venv"
