#!/usr/bin/env bash
# Regenerates test/vllm-golden/vllm-<version>.json from vLLM's own code: fetches the modules
# (fetch.sh), makes a Python venv with vLLM's hashing/encoding libraries in .tools/, runs golden.py.
# Usage: run.sh [version...]   (default: versions.txt). Takes ~20 s per version on a fast link.
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
bash "$HERE/fetch.sh" "$@"
PY="$(bash "$ROOT/scripts/python-venv.sh")"
"$PY" "$HERE/golden.py" "$@"
