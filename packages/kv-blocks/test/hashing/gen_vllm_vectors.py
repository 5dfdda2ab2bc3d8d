"""Generates test/hashing/vllm-vectors.json with the same libraries vLLM uses (cbor2 canonical,
hashlib, xxhash.xxh3_128_digest), following vllm/v1/core/kv_cache_utils.py:
  NONE_HASH = hash_fn(PYTHONHASHSEED)
  h_i = hash_fn((parent or NONE_HASH, tuple(tokens_i), extra_keys_i))
  extra_keys = tuple(lora + mm + cache_salt(first block only)) or None
Run with cbor2, xxhash and msgspec installed (e.g. a venv): python gen_vllm_vectors.py
"""
import hashlib
import json
import os

import cbor2
import xxhash


def sha256_cbor(x):
    return hashlib.sha256(cbor2.dumps(x, canonical=True)).digest()


def xxhash_cbor(x):
    return xxhash.xxh3_128_digest(cbor2.dumps(x, canonical=True))


try:  # the msgpack variants need msgspec (pip install msgspec); skipped when missing
    import msgspec

    _enc = msgspec.msgpack.Encoder()

    def sha256_msgpack(x):
        return hashlib.sha256(_enc.encode(x)).digest()

    def xxhash_msgpack(x):
        return xxhash.xxh3_128_digest(_enc.encode(x))

    MSGPACK_FNS = {"sha256_msgpack": sha256_msgpack, "xxhash_msgpack": xxhash_msgpack}
except ImportError:
    MSGPACK_FNS = {}

FNS = {"sha256_cbor": sha256_cbor, "xxhash_cbor": xxhash_cbor, **MSGPACK_FNS}


def extra_keys(start, end, lora_name, cache_salt, mm_items, mm_style):
    keys = []
    if lora_name:
        keys.append(lora_name)
    for ident, offset, length in mm_items:
        if end > offset:
            if start >= offset + length:
                continue
            keys.append((ident, offset - start) if mm_style == "identifier_offset" else ident)
            if end < offset + length:
                break
        else:
            break
    if start == 0 and cache_salt:
        keys.append(cache_salt)
    return tuple(keys) if keys else None


def chain(algo, seed, tokens, block_size, lora_name=None, cache_salt=None, mm_items=(), mm_style="identifier"):
    fn = FNS[algo]
    none_hash = fn(seed)
    parent = None
    out = []
    for i in range(len(tokens) // block_size):
        s, e = i * block_size, (i + 1) * block_size
        extra = extra_keys(s, e, lora_name, cache_salt, mm_items, mm_style)
        # vLLM hash_block_token_sequence: tuple(tokens) for CBOR, the list as is for msgpack
        block = list(tokens[s:e]) if algo.endswith("_msgpack") else tuple(tokens[s:e])
        h = fn((parent if parent else none_hash, block, extra))
        out.append({"digest": h.hex(), "hash": str(int.from_bytes(h, "big") & (2**64 - 1))})
        parent = h
    return none_hash.hex(), out


cases = []
def add(name, algo, seed, tokens, block_size, **kw):
    nh, blocks = chain(algo, seed, tokens, block_size, **kw)
    cases.append({"name": name, "algo": algo, "seed": seed, "tokens": tokens, "blockSize": block_size,
                  "loraName": kw.get("lora_name"), "cacheSalt": kw.get("cache_salt"),
                  "mmItems": [{"identifier": i, "offset": o, "length": l} for i, o, l in kw.get("mm_items", ())],
                  "mmKeyStyle": kw.get("mm_style", "identifier"), "noneHash": nh, "blocks": blocks})

big = [(i * 7919) % 151936 for i in range(50)] + [151643, 151644, 151645, 0, 1, 23, 24, 255, 256, 65535, 65536, 4294967295]
for algo in FNS:
    add(f"{algo} seed 0, tokens 1..64, block 16", algo, "0", list(range(1, 65)), 16)
    add(f"{algo} seed 42, mixed-width tokens + tail, block 16", algo, "42", big, 16)
    add(f"{algo} seed 0, LoRA on every block", algo, "0", list(range(100, 148)), 16, lora_name="sql-lora")
    add(f"{algo} seed 0, cache salt on the first block", algo, "0", list(range(100, 148)), 16, cache_salt="tenant-a")
    add(f"{algo} seed 0, LoRA + salt, block 4", algo, "0", list(range(5, 17)), 4, lora_name="l", cache_salt="s")
    add(f"{algo} seed 0, MM item across blocks", algo, "0", list(range(40)), 8, mm_items=[("img-abc", 4, 10), ("img-def", 20, 2)])
    add(f"{algo} seed 0, MM (identifier, offset)", algo, "0", list(range(40)), 8, mm_items=[("img-abc", 4, 10)], mm_style="identifier_offset")
    add(f"{algo} long seed string", algo, "a-much-longer-seed-string-with-unicode-é", list(range(16)), 16)

here = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(here, "vllm-vectors.json"), "w") as f:
    json.dump({"generator": "test/hashing/gen_vllm_vectors.py (cbor2 %s, xxhash %s)" % (getattr(cbor2, "__version__", "?"), xxhash.VERSION), "cases": cases}, f, indent=1)
print(len(cases), "cases")
