#!/usr/bin/env bash
# Makes (once) the Python venv the tests and the vLLM golden-vector script use, in
# .tools/python-venv/, with the libraries vLLM itself uses for hashing and KV events (pinned), and
# prints the venv's python path. Python is only for those checks: nothing inferd ships needs it.
# Needs python3 with the venv module (Debian: python3-venv; installed here when run as root).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.tools/python-venv"
REQS="msgspec==0.23.0 cbor2==6.3.0 xxhash==4.1.0"
say() { printf '[python-venv] %s\n' "$*" >&2; }
if [ -x "$VENV/bin/python" ] && [ "$(cat "$VENV/.reqs" 2>/dev/null)" = "$REQS" ]; then
  echo "$VENV/bin/python"
  exit 0
fi
PY="$(command -v python3 || true)"
if [ -z "$PY" ] || ! "$PY" -c 'import venv, ensurepip' 2>/dev/null; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null; then
    say "installing python3 and python3-venv from Debian's packages"
    DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv >&2
    PY="$(command -v python3)"
  else
    say "python3 with the venv module is needed: sudo apt-get install -y python3 python3-venv"
    exit 1
  fi
fi
rm -rf "$VENV"
say "creating $VENV with $REQS"
"$PY" -m venv "$VENV" >&2
# shellcheck disable=SC2086
"$VENV/bin/python" -m pip install --quiet --disable-pip-version-check $REQS >&2
echo "$REQS" > "$VENV/.reqs"
echo "$VENV/bin/python"
