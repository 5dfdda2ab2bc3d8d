#!/usr/bin/env bash
# Installs the routers users would pick instead of inferd, and inference-perf, into
# .tools/peers (one Python venv), once, for `inferd bench routing` (test/bench/README.md):
#   sglang-router (SGLang model gateway), vllm-router (vLLM router), inference-perf (load generator).
# Needs Python >= 3.12 with venv (python3.12 on PATH, pyenv's 3.12.x, or PYTHON=/path/to/python).
# Versions are pinned so benchmark figures stay comparable. Rerunning is a no-op once installed.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
VENV="$PWD/.tools/peers"
PINS=(sglang-router==0.3.2 vllm-router==0.1.17 inference-perf==0.7.0)

say() { printf '\033[1m[install-peers]\033[0m %s\n' "$*" >&2; }

py_ok() { "$1" -c 'import sys, venv; sys.exit(0 if sys.version_info >= (3, 12) else 1)' 2>/dev/null; }

find_python() {
  local c
  for c in "${PYTHON:-}" python3.13 python3.12 "$HOME"/.pyenv/versions/3.1[2-9]*/bin/python3 python3; do
    [ -n "$c" ] || continue
    if command -v "$c" >/dev/null 2>&1 && py_ok "$c"; then command -v "$c"; return; fi
  done
  return 1
}

installed() {
  [ -x "$VENV/bin/python" ] || return 1
  local p
  for p in "${PINS[@]}"; do
    [ "$("$VENV/bin/python" -m pip show "${p%%==*}" 2>/dev/null | sed -n 's/^Version: //p')" = "${p##*==}" ] || return 1
  done
}

if installed; then say "already installed in $VENV (${PINS[*]})"; exit 0; fi
PY="$(find_python)" || {
  say "needs Python >= 3.12 with the venv module; none found. Any of:"
  say "  sudo apt-get install -y python3.12 python3.12-venv   (Debian 13 / Ubuntu 24.04)"
  say "  pyenv install 3.12   (then rerun this script)"
  say "  PYTHON=/path/to/python3.12 $0"
  exit 1
}
say "creating $VENV with $PY ($("$PY" --version))"
"$PY" -m venv "$VENV"
say "installing ${PINS[*]} from PyPI (first run: a few minutes)"
"$VENV/bin/python" -m pip install --quiet "${PINS[@]}" >&2
installed || { say "install finished but the pinned versions are not all present"; exit 1; }
say "ready: $VENV/bin/{vllm-router,inference-perf}, $VENV/bin/python -m sglang_router.launch_router"
