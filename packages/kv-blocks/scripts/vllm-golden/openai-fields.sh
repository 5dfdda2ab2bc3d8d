#!/usr/bin/env bash
# Regenerates fixtures/vllm-openai/<version>.json, the field sets of vLLM's OpenAI response models
# (openai_fields.py reads them from the wheel's protocol modules with Python's ast; vLLM is not
# imported or installed). The wheel (~240 MB) comes from PyPI with `pip download --no-deps` into a
# temporary directory and is deleted afterwards. Usage: openai-fields.sh [version] (default 0.34.0).
set -euo pipefail
HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
ROOT="$(cd "$HERE/../../../.." && pwd)"
VERSION="${1:-0.34.0}"
PY="${PYTHON:-$(bash "$ROOT/scripts/python-venv.sh")}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
echo "[vllm-openai-fields] vllm==$VERSION: pip download --no-deps" >&2
"$PY" -m pip download --quiet --no-deps --only-binary=:all: "vllm==$VERSION" -d "$tmp" >&2
"$PY" "$HERE/openai_fields.py" "$tmp"/vllm-*.whl "$VERSION" "$HERE/../../fixtures/vllm-openai/$VERSION.json"
