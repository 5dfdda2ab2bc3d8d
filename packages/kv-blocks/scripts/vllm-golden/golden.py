"""Golden vectors from vLLM's own code, one JSON file per vLLM version.

For each version fetched by fetch.sh into .tools/vllm-src/<version>/, this script reads vLLM's
modules as text, takes out only the functions and classes below (with `ast`), and executes them
in isolation in a namespace with tiny stand-ins for vLLM's logger/envs and a request object:

  vllm/utils/hashing.py (or vllm/utils/__init__.py): sha256, sha256_cbor, xxhash, xxhash_cbor,
      get_hash_fn_by_name
  vllm/v1/core/kv_cache_utils.py: init_none_hash (+ resolve_none_hash_seed), hash_block_tokens,
      generate_block_hash_extra_keys and its _gen_* helpers, get_request_block_hasher (with
      lookahead tokens where it has them), to_event_extra_keys (when present)
  vllm/distributed/kv_events.py: the msgspec structs EventBatch .. KVEventBatch (encoding a
      sample batch with msgspec) and ZmqEventPublisher._service_replay (run on a fake socket)

Nothing of vLLM is written out: only the resulting vectors, to
packages/kv-blocks/test/vllm-golden/vllm-<version>.json.
Run: scripts/vllm-golden/run.sh  (fetches, makes the venv, runs this script).
"""

import __future__
import ast
import hashlib
import json
import os
import pickle
import re
import sys
import types
import typing
from collections import deque
from pathlib import Path

import cbor2
import msgspec
import xxhash as _xxhash_module

ROOT = Path(__file__).resolve().parents[4]
SRC = ROOT / ".tools" / "vllm-src"
OUT = ROOT / "packages" / "kv-blocks" / "test" / "vllm-golden"


def load_nodes(path, want_funcs, want_consts=(), want_classes=()):
    tree = ast.parse(path.read_text())
    nodes = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef) and node.name in want_funcs:
            nodes.append(node)
        elif isinstance(node, ast.ClassDef) and node.name in want_classes:
            nodes.append(node)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names = {t.id for t in targets if isinstance(t, ast.Name)}
            consts = {n for n in names if n in want_consts or re.fullmatch(r"_?[A-Z][A-Z0-9_]*", n)}
            if consts and (not isinstance(node, ast.AnnAssign) or node.value):
                nodes.append(node)
    return nodes


def method_source(path, cls, name):
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for item in node.body:
                if isinstance(item, ast.FunctionDef) and item.name == name:
                    return item
    return None


def run(nodes, ns, filename, lazy_annotations=True):
    # Annotations name vLLM types (Request, ...) that are not loaded: keep them unevaluated,
    # except for the msgspec structs, whose annotations are their wire schema.
    flags = __future__.annotations.compiler_flag if lazy_annotations else 0
    for node in nodes:
        module = ast.Module(body=[node], type_ignores=[])
        try:
            exec(compile(module, filename, "exec", flags=flags, dont_inherit=True), ns)
        except NameError:
            if not isinstance(node, (ast.Assign, ast.AnnAssign)):
                raise
            # a module constant built from parts of vLLM not loaded here


class Logger:
    def __getattr__(self, name):
        return lambda *a, **k: None


def namespace():
    ns = {
        "__name__": "vllm_golden",
        "hashlib": hashlib,
        "pickle": pickle,
        "cbor2": cbor2,
        "_xxhash": _xxhash_module,
        "os": os,
        "logger": Logger(),
        "envs": types.SimpleNamespace(VLLM_KV_EVENTS_USE_INT_BLOCK_HASHES=True),
        "BlockHash": lambda b: b,
        "NewType": typing.NewType,
        "token_slice": lambda seq, s, e: seq[s:e],
        "msgspec": msgspec,
        "deque": deque,
        "ExternalBlockHash": typing.Union[bytes, int],
    }
    for name in dir(typing):
        if not name.startswith("_"):
            ns.setdefault(name, getattr(typing, name))
    import collections.abc

    for name in ("Callable", "Sequence", "Iterable", "Iterator", "Mapping"):
        ns[name] = getattr(collections.abc, name)
    return ns


HASH_FUNCS = ["sha256", "sha256_cbor", "xxhash", "xxhash_cbor", "_xxhash_digest", "get_hash_fn_by_name"]
KV_FUNCS = [
    "maybe_convert_block_hash",
    "resolve_none_hash_seed",
    "init_none_hash",
    "hash_block_tokens",
    "generate_block_hash_extra_keys",
    "_gen_mm_extra_hash_keys",
    "_gen_lora_extra_hash_keys",
    "_gen_prompt_embeds_extra_hash_keys",
    "get_request_block_hasher",
    "generate_lookahead_block_hash_extra_keys",
    "get_mm_features_in_window",
    "to_event_extra_keys",
]
KV_CONSTS = ["DEFAULT_NONE_HASH_SEED", "_NON_CRYPTO_HASH_FUNCTIONS", "_NONE_HASH_SEED", "NONE_HASH"]
EVENT_CLASSES = ["EventBatch", "KVCacheEvent", "BlockStored", "BlockRemoved", "AllBlocksCleared", "KVEventBatch"]


def load_version(version):
    base = SRC / version / "vllm"
    ns = namespace()
    hashing = base / "utils" / "hashing.py"
    if not hashing.exists():
        hashing = base / "utils" / "__init__.py"
    run(load_nodes(hashing, HASH_FUNCS), ns, str(hashing))
    kv = base / "v1" / "core" / "kv_cache_utils.py"
    run(load_nodes(kv, KV_FUNCS, KV_CONSTS), ns, str(kv))
    events = base / "distributed" / "kv_events.py"
    run(load_nodes(events, [], ["MEDIUM_GPU", "MEDIUM_CPU", "MEDIUM_STORAGE"], EVENT_CLASSES), ns, str(events), False)
    replay = method_source(events, "ZmqEventPublisher", "_service_replay")
    end_seq = None
    for node in ast.walk(ast.parse(events.read_text())):
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "END_SEQ" for t in node.targets):
            end_seq = eval(compile(ast.Expression(node.value), "END_SEQ", "eval"))
    run([replay], ns, str(events))
    ns["END_SEQ"] = end_seq
    return ns


def algos(ns):
    out = []
    for name in ["sha256", "sha256_cbor", "xxhash", "xxhash_cbor"]:
        try:
            ns["get_hash_fn_by_name"](name)
            out.append(name)
        except Exception:
            pass
    return out


def jsonable(v):
    if v is None or isinstance(v, (bool, str)):
        return v
    if isinstance(v, int):
        return v if abs(v) < 2**53 else {"int": str(v)}
    if isinstance(v, bytes):
        return {"bytes": v.hex()}
    if isinstance(v, (tuple, list)):
        return [jsonable(x) for x in v]
    raise TypeError(type(v))


def make_request(tokens, lora=None, cache_salt=None, mm=()):
    lora_request = None
    if lora:
        lora_request = types.SimpleNamespace(
            lora_name=lora["name"],
            name=lora["name"],
            lora_path=lora["path"],
            path=lora["path"],
            lora_int_id=lora["id"],
            adapter_id=lora["id"],
        )
    feats = [
        types.SimpleNamespace(
            identifier=ident,
            mm_hash=ident,
            mm_position=types.SimpleNamespace(offset=off, length=length),
        )
        for ident, off, length in mm
    ]
    return types.SimpleNamespace(
        all_token_ids=list(tokens),
        _all_token_ids=list(tokens),
        num_tokens=len(tokens),
        block_hashes=[],
        mm_features=feats,
        lora_request=lora_request,
        cache_salt=cache_salt,
        prompt_embeds=None,
        _prompt_embeds_per_block_hashes={},
    )


def set_seed(seed):
    if seed is None:
        os.environ.pop("PYTHONHASHSEED", None)
    else:
        os.environ["PYTHONHASHSEED"] = seed


def none_hash(ns, algo, seed):
    set_seed(seed)
    fn = ns["get_hash_fn_by_name"](algo)
    ns["init_none_hash"](fn)
    a = ns["NONE_HASH"]
    ns["init_none_hash"](fn)
    b = ns["NONE_HASH"]
    return a, a == b


def lookahead_supported(ns):
    import inspect

    return "num_hash_lookahead_tokens" in inspect.signature(ns["get_request_block_hasher"]).parameters


def chain(ns, algo, seed, block_size, tokens, lora=None, cache_salt=None, mm=(), lookahead=0):
    set_seed(seed)
    fn = ns["get_hash_fn_by_name"](algo)
    ns["init_none_hash"](fn)
    req = make_request(tokens, lora, cache_salt, mm)
    if lookahead:
        hasher = ns["get_request_block_hasher"](block_size, fn, lookahead)
    else:
        hasher = ns["get_request_block_hasher"](block_size, fn)
    digests = hasher(req)
    blocks = []
    for i, d in enumerate(digests):
        s, e = i * block_size, (i + 1) * block_size
        if lookahead:
            keys, _ = ns["generate_lookahead_block_hash_extra_keys"](req, s, e, e + lookahead, 0)
        else:
            keys, _ = ns["generate_block_hash_extra_keys"](req, s, e, 0)
        event_keys = ns["to_event_extra_keys"]([keys])[0] if "to_event_extra_keys" in ns else keys
        blocks.append(
            {
                "digest": d.hex(),
                "hash": str(ns["maybe_convert_block_hash"](d)),
                "eventExtraKeys": jsonable(event_keys),
                "lookaheadTokenIds": list(tokens[e : e + lookahead]) if lookahead else None,
            }
        )
    return {
        "algo": algo,
        "seed": seed,
        "blockSize": block_size,
        "tokens": list(tokens),
        "lora": lora,
        "cacheSalt": cache_salt,
        "mm": [{"identifier": i, "offset": o, "length": n} for i, o, n in mm],
        "lookahead": lookahead,
        "noneHash": ns["NONE_HASH"].hex(),
        "blocks": blocks,
    }


def struct_fields(cls):
    return list(cls.__struct_fields__)


def sample_events(ns, version):
    stored_fields = set(struct_fields(ns["BlockStored"]))
    removed_fields = set(struct_fields(ns["BlockRemoved"]))
    full = {
        "block_hashes": [2**64 - 1, 12345, 2**63 + 5],
        "parent_block_hash": 2**40 + 3,
        "token_ids": list(range(100, 148)),
        "block_size": 16,
        "lora_id": 7,
        "medium": "GPU",
        "lora_name": "sql-adapter",
        "extra_keys": [("sql-adapter", "salt-1"), ("sql-adapter", ("img-a", -3)), None],
        "group_idx": 0,
        "kv_cache_spec_kind": "full_attention",
        "kv_cache_spec_sliding_window": None,
        "locality": "LOCAL",
        "ownership": None,
        "session_id": "sess-42",
        "lookahead_token_ids": [[148], [149], [150]],
    }
    plain = {
        "block_hashes": [99],
        "parent_block_hash": None,
        "token_ids": list(range(16)),
        "block_size": 16,
        "lora_id": None,
        "medium": "GPU",
        "lora_name": None,
        "extra_keys": [None],
        "group_idx": 0,
        "kv_cache_spec_kind": "full_attention",
    }
    offloaded = {
        "block_hashes": [12345],
        "parent_block_hash": None,
        "token_ids": [],
        "block_size": 0,
        "lora_id": None,
        "medium": "CPU",
        "lora_name": None,
        "group_idx": 0,
        "locality": "LOCAL",
        "ownership": "cpu-tier-1",
    }
    removed = {"block_hashes": [12345, 2**64 - 1], "medium": "GPU", "group_idx": 0, "ownership": None}
    removed_off = {"block_hashes": [12345], "medium": "CPU", "group_idx": 0, "locality": "LOCAL", "ownership": "cpu-tier-1"}

    def pick(d, fields):
        return {k: v for k, v in d.items() if k in fields}

    inputs = [
        ("BlockStored", pick(full, stored_fields)),
        ("BlockStored", pick(plain, stored_fields)),
        ("BlockStored", pick(offloaded, stored_fields)),
        ("BlockRemoved", pick(removed, removed_fields)),
        ("BlockRemoved", pick(removed_off, removed_fields)),
        ("AllBlocksCleared", {}),
    ]
    events = []
    for tag, kwargs in inputs:
        cls = ns[tag]
        fields = struct_fields(cls)
        # Required fields (those without a default) absent from the sample get None.
        for f in fields[: len(fields) - len(cls.__struct_defaults__)]:
            kwargs.setdefault(f, None)
        events.append(cls(**kwargs))
    batch_args = {"ts": 1789095808.8378847, "events": events}
    if "data_parallel_rank" in struct_fields(ns["KVEventBatch"]):
        batch_args["data_parallel_rank"] = 1
    batch = ns["KVEventBatch"](**batch_args)
    payload = msgspec.msgpack.Encoder().encode(batch)
    # What a decoder must see: every declared field, None where not sent.
    expected = []
    for tag, kwargs in inputs:
        cls = ns[tag]
        expected.append({"type": tag, **{f: jsonable(kwargs.get(f)) for f in struct_fields(cls)}})
    array_like = ns["KVCacheEvent"].__struct_config__.array_like
    return {
        "eventForm": "array" if array_like else "map",
        "blockStoredFields": struct_fields(ns["BlockStored"]),
        "blockRemovedFields": struct_fields(ns["BlockRemoved"]),
        "batchFields": struct_fields(ns["KVEventBatch"]),
        "batch": {"ts": batch_args["ts"], "dataParallelRank": batch_args.get("data_parallel_rank"), "events": expected},
        "payload": payload.hex(),
    }


class FakeRouter:
    def __init__(self, request):
        self.request = request
        self.sent = []

    def recv_multipart(self):
        return self.request

    def send_multipart(self, frames):
        self.sent.append([bytes(f).hex() for f in frames])


def replay(ns):
    sock = FakeRouter([b"client-1", b"", (1).to_bytes(8, "big")])
    publisher = types.SimpleNamespace(
        _replay=sock,
        _buffer=deque([(0, b"p0"), (1, b"p1"), (2, b"p2")]),
        _topic_bytes=b"kv@pod-a@model",
        _topic="kv@pod-a@model",
        END_SEQ=ns["END_SEQ"],
    )
    ns["_service_replay"](publisher)
    return {"topic": "kv@pod-a@model", "buffer": [[0, "7030"], [1, "7031"], [2, "7032"]], "startSeq": 1, "frames": sock.sent}


def cache_config_fields(version):
    """CacheConfig's fields in declaration order with str(default) (the labels of
    vllm:cache_config_info are `{k: str(v) for k, v in cache_config.__dict__.items()}`)."""
    path = SRC / version / "vllm" / "config" / "cache.py"
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ClassDef) and node.name == "CacheConfig":
            out = []
            for item in node.body:
                if not (isinstance(item, ast.AnnAssign) and isinstance(item.target, ast.Name)):
                    continue
                if "ClassVar" in ast.unparse(item.annotation):
                    continue
                default = None
                v = item.value
                if isinstance(v, ast.Call) and getattr(v.func, "id", "") in ("field", "Field"):
                    v = next((k.value for k in v.keywords if k.arg == "default"), None)
                if isinstance(v, ast.Constant):
                    default = str(v.value)
                out.append([item.target.id, default])
            return out
    return None


def vectors(version):
    ns = load_version(version)
    supported = algos(ns)
    out = {"version": version, "algos": supported, "noneHash": {}, "chains": []}
    for algo in supported:
        for seed in ["0", "inferd", None]:
            h, stable = none_hash(ns, algo, seed)
            out["noneHash"].setdefault(algo, {})["unset" if seed is None else seed] = {
                "hex": h.hex() if stable else None,
                "deterministic": stable,
            }
    tokens = [(i * 7919 + 13) % 151000 for i in range(70)] + [2**32 - 1, 2**31, 65536, 0]
    lora = {"name": "sql-adapter", "path": "/adapters/sql", "id": 3}
    mm = [("img-a", 3, 20), ("img-b", 40, 2), ("img-c", 42, 4)]
    for algo in supported:
        deterministic = out["noneHash"][algo]["unset"]["deterministic"]
        for seed in ["0"] + ([None] if deterministic else []):
            out["chains"].append(chain(ns, algo, seed, 16, tokens))
            out["chains"].append(chain(ns, algo, seed, 16, tokens, lora=lora, cache_salt="salt-1", mm=mm))
        out["chains"].append(chain(ns, algo, "0", 5, tokens[:23], cache_salt="s"))
        seed = None if deterministic else "0"
        out["chains"].append(chain(ns, algo, seed, 16, tokens[:40], lora=lora, cache_salt="salt-2"))
    if lookahead_supported(ns):
        for n in (1, 3):
            out["chains"].append(chain(ns, "sha256_cbor", "0", 16, tokens, lora=lora, mm=mm, lookahead=n))
            out["chains"].append(chain(ns, "sha256", "0", 16, tokens, cache_salt="x", lookahead=n))
    out["events"] = sample_events(ns, version)
    out["replay"] = replay(ns)
    out["cacheConfigFields"] = cache_config_fields(version)
    return out


def main():
    versions = sys.argv[1:] or (Path(__file__).parent / "versions.txt").read_text().split()
    OUT.mkdir(parents=True, exist_ok=True)
    for v in versions:
        data = vectors(v)
        (OUT / f"vllm-{v}.json").write_text(json.dumps(data, indent=1) + "\n")
        print(f"vllm {v}: {len(data['chains'])} chains, algos {data['algos']}, events {data['events']['eventForm']}")


if __name__ == "__main__":
    main()
