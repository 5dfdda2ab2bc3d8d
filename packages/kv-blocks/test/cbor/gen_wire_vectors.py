"""Reference encodings for the hand-written CBOR and msgpack writers: Python cbor2
(canonical=True, as vLLM hashes) and msgpack (use_bin_type=True, the same bytes msgspec writes for
these shapes). Values are described in JSON with tagged forms for bytes / big ints / floats.
Run: /usr/bin/python3 gen_wire_vectors.py  (Debian python3-cbor2, python3-msgpack)
"""
import hashlib
import json
import os

import cbor2
import msgpack


def out(kind, v, data):
    if len(data) > 512:
        return {"kind": kind, "value": v, "sha256": hashlib.sha256(data).hexdigest(), "length": len(data)}
    return {"kind": kind, "value": v, "hex": data.hex()}


def to_py(v):
    if isinstance(v, dict):
        if "bytes" in v:
            return bytes.fromhex(v["bytes"]) * v.get("times", 1)
        if "int" in v:
            return int(v["int"])
        if "float" in v:
            return float(v["float"])
        if "tuple" in v:
            return tuple(to_py(x) for x in v["tuple"])
        if "range" in v:
            return list(range(v["range"]))
        if "repeat" in v:
            return v["repeat"][0] * v["repeat"][1]
        if "map" in v:
            return {k: to_py(x) for k, x in v["map"]}
    if isinstance(v, list):
        return [to_py(x) for x in v]
    return v


B = lambda n: {"bytes": "ab", "times": n}
I = lambda n: {"int": str(n)}
ints = [0, 1, 23, 24, 255, 256, 65535, 65536, 2**32 - 1, 2**32, 2**53, 2**63, 2**64 - 1,
        -1, -24, -25, -32, -33, -128, -129, -256, -257, -32768, -32769, -65536, -65537, -2**31, -2**31 - 1, -2**32, -2**32 - 1, -2**63]
R = lambda n: {"repeat": ["x", n]}
strings = ["", "a", R(23), R(24), R(31), R(32), R(255), R(256), "é日本😀", R(65535), R(65536)]
common = [None, True, False] + [I(n) for n in ints] + strings + [B(0), B(1), B(23), B(24), B(255), B(256), B(65536)] + [
    [], [1, "a", None], [[1, [2, [3]]], {"bytes": "00ff"}], {"range": 15}, {"range": 16}, {"range": 65535}, {"range": 65536},
    {"tuple": ["sql-lora", ["img", 3], "salt"]}]
# Integral floats are left out: a JS number cannot tell 1.0 from 1 and is encoded as an int.
cbor_only = [{"float": "1.5"}, {"float": "0.1"}, {"float": "3.4e39"}]
msgpack_only = [{"float": "1.5"}, {"float": "1.0"}, {"float": "-0.1"}, {"map": [["type", "BlockStored"], ["b", 1]]},
                {"map": [[str(i), i] for i in range(16)]}]

cases = []
for v in common + cbor_only:
    cases.append(out("cbor", v, cbor2.dumps(to_py(v), canonical=True)))
for v in common + msgpack_only:
    cases.append(out("msgpack", v, msgpack.packb(to_py(v), use_bin_type=True)))
here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "wire-vectors.json"), "w") as f:
    json.dump(cases, f)
print(len(cases), "cases")
