"""Decodes KV-event payloads with vLLM's own msgspec structs (KVEventBatch of the given version,
taken from the wheel by fetch.sh and loaded in isolation as golden.py does) and prints them as JSON.

stdin: one hex payload per line. stdout: one JSON line per payload, the decoded KVEventBatch
(`msgspec.to_builtins`, bytes as base64, ints >= 2**53 as strings), or {"error": "..."} when vLLM's decoder rejects it.
Usage: python decode_with_vllm.py 0.34.0 < payloads.txt
"""

import json
import sys
from pathlib import Path

import msgspec

sys.path.insert(0, str(Path(__file__).parent))
import golden  # noqa: E402


def safe(v):
    """Integers beyond 2**53 (uint64 block hashes) as decimal strings, so JSON readers keep them exact."""
    if isinstance(v, bool) or v is None:
        return v
    if isinstance(v, int):
        return v if abs(v) < 2**53 else str(v)
    if isinstance(v, list):
        return [safe(x) for x in v]
    if isinstance(v, dict):
        return {k: safe(x) for k, x in v.items()}
    return v


def main():
    version = sys.argv[1]
    ns = golden.load_version(version)
    decoder = msgspec.msgpack.Decoder(ns["KVEventBatch"])
    for line in sys.stdin:
        line = line.strip()
        if not line:
            continue
        try:
            batch = decoder.decode(bytes.fromhex(line))
        except msgspec.ValidationError as err:
            print(json.dumps({"error": str(err)}))
            continue
        out = msgspec.to_builtins(batch)
        # The tag is implicit in the class; keep it so the caller can match events.
        out[1] = [{"type": type(e).__name__, **msgspec.to_builtins(e)} for e in batch.events]
        print(json.dumps(safe(out)))


if __name__ == "__main__":
    main()
