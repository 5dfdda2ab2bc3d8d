#!/usr/bin/env bash
# Fetches the few vLLM modules the golden vectors need, for each version given (default: every
# version the vectors cover), into .tools/vllm-src/<version>/ at the repository root.
# Each wheel (~240 MB) comes from PyPI with `pip download --no-deps`, only the listed modules are
# unzipped, and the wheel is deleted: nothing of vLLM is kept in the repository.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../../../.." && pwd)"
DEST="$ROOT/.tools/vllm-src"
VERSIONS=("$@")
if [ ${#VERSIONS[@]} -eq 0 ]; then
  # shellcheck disable=SC2207
  VERSIONS=($(cat "$(dirname "${BASH_SOURCE[0]}")/versions.txt"))
fi
MODULES=(
  'vllm/utils/hashing.py' 'vllm/utils/__init__.py' 'vllm/v1/core/kv_cache_utils.py'
  'vllm/distributed/kv_events.py' 'vllm/config/cache.py' 'vllm/config/kv_events.py'
  'vllm/version.py' 'vllm/_version.py' 'vllm/v1/core/block_pool.py'
)
# The venv's Python (pip included; made on demand): a fresh machine needs neither pip nor unzip.
PY="${PYTHON:-$(bash "$ROOT/scripts/python-venv.sh")}"
for v in "${VERSIONS[@]}"; do
  if [ -f "$DEST/$v/.complete" ]; then continue; fi
  tmp="$(mktemp -d)"
  echo "[vllm-golden] vllm==$v: pip download --no-deps" >&2
  "$PY" -m pip download --quiet --no-deps --only-binary=:all: "vllm==$v" -d "$tmp" >&2
  mkdir -p "$DEST/$v"
  "$PY" - "$DEST/$v" "$tmp"/vllm-*.whl "${MODULES[@]}" <<'PYEOF'
import sys, zipfile
dest, wheel, *wanted = sys.argv[1:]
with zipfile.ZipFile(wheel) as z:
    names = set(z.namelist())
    for name in wanted:
        if name in names:
            z.extract(name, dest)
PYEOF
  rm -rf "$tmp"
  [ -f "$DEST/$v/vllm/v1/core/kv_cache_utils.py" ] || { echo "vllm==$v: kv_cache_utils.py missing" >&2; exit 1; }
  touch "$DEST/$v/.complete"
done
