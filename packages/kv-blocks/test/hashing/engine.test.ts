import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  computeNoneHash,
  EngineBlockHasher,
  type EngineHashAlgo,
  engineBlockHashes,
  low64,
  type MmKeyStyle,
  verifyRootEvent,
  vllmExtraKeys,
  vllmRules,
} from "../../src/index.ts";

interface VectorCase {
  name: string;
  algo: EngineHashAlgo;
  seed: string;
  tokens: number[];
  blockSize: number;
  loraName: string | null;
  cacheSalt: string | null;
  mmItems: { identifier: string; offset: number; length: number }[];
  mmKeyStyle: MmKeyStyle;
  noneHash: string;
  blocks: { digest: string; hash: string }[];
}

// Made by gen_vllm_vectors.py with Python cbor2 + hashlib + xxhash, the libraries vLLM calls.
const vectors = JSON.parse(readFileSync(new URL("./vllm-vectors.json", import.meta.url), "utf8")) as {
  cases: VectorCase[];
};
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("kv-blocks engine hash - vLLM vectors (Python cbor2/hashlib/xxhash)", () => {
  for (const c of vectors.cases) {
    it(`matches ${c.name}`, () => {
      expect(hex(computeNoneHash(c.algo, c.seed))).toBe(c.noneHash);
      const got = engineBlockHashes(c.tokens, {
        algo: c.algo,
        seed: c.seed,
        blockSize: c.blockSize,
        loraName: c.loraName,
        cacheSalt: c.cacheSalt,
        mmItems: c.mmItems,
        mmKeyStyle: c.mmKeyStyle,
        // These hand-made vectors follow the untagged extra keys of vLLM <= 0.30.
        vllmVersion: "0.30.0",
      });
      expect(got.map((b) => ({ digest: hex(b.digest), hash: b.hash.toString() }))).toEqual(c.blocks);
    });
  }

  it("gives the same chain incrementally, block by block, as in one call (model-sim path)", () => {
    const c = vectors.cases.find((v) => v.loraName && v.cacheSalt)!;
    const hasher = new EngineBlockHasher({ algo: c.algo, seed: c.seed, vllmVersion: "0.30.0" });
    let parent: Uint8Array | null = null;
    const got: string[] = [];
    for (let s = 0; s + c.blockSize <= c.tokens.length; s += c.blockSize) {
      const extra = vllmExtraKeys(s, s + c.blockSize, { loraName: c.loraName, cacheSalt: c.cacheSalt });
      const h = hasher.hashNextBlock(parent, c.tokens.slice(s, s + c.blockSize), extra);
      got.push(h.hash.toString());
      parent = h.digest;
    }
    expect(got).toEqual(c.blocks.map((b) => b.hash));
  });

  it("continues a chain from a parent digest and start index", () => {
    const c = vectors.cases.find((v) => v.cacheSalt && !v.loraName && v.algo === "xxhash_cbor")!;
    const hasher = new EngineBlockHasher({ algo: c.algo, seed: c.seed, vllmVersion: "0.30.0" });
    const first = c.blockSize;
    const rest = hasher.blockHashes(c.tokens.slice(first), {
      blockSize: c.blockSize,
      cacheSalt: c.cacheSalt,
      parentDigest: Buffer.from(c.blocks[0]!.digest, "hex"),
      startTokenIndex: first,
    });
    expect(rest.map((b) => b.hash.toString())).toEqual(c.blocks.slice(1).map((b) => b.hash));
  });

  it("accepts Uint32Array tokens", () => {
    const c = vectors.cases[0]!;
    const got = engineBlockHashes(Uint32Array.from(c.tokens), {
      algo: c.algo,
      seed: c.seed,
      blockSize: c.blockSize,
    });
    expect(got.map((b) => b.hash.toString())).toEqual(c.blocks.map((b) => b.hash));
  });
});

describe("kv-blocks engine hash - rules", () => {
  it("ignores the partial tail block and returns nothing for short prompts", () => {
    expect(engineBlockHashes([1, 2, 3], { algo: "sha256_cbor", seed: "0", blockSize: 16 })).toEqual([]);
    expect(
      engineBlockHashes(new Array(33).fill(1), { algo: "sha256_cbor", seed: "0", blockSize: 16 }),
    ).toHaveLength(2);
  });

  it("without a seed: random NONE_HASH before vLLM 0.29 and for xxhash; hash of 'vllm-none-hash' for sha256* since", () => {
    const old = vllmRules("0.28.0");
    expect(hex(computeNoneHash("sha256_cbor", null, old))).not.toBe(
      hex(computeNoneHash("sha256_cbor", null, old)),
    );
    expect(hex(computeNoneHash("sha256_cbor", null))).toBe(
      hex(computeNoneHash("sha256_cbor", "vllm-none-hash")),
    );
    expect(hex(computeNoneHash("sha256", undefined))).toBe(hex(computeNoneHash("sha256", "vllm-none-hash")));
    const a = computeNoneHash("sha256_cbor", null, old);
    const b = computeNoneHash("xxhash_cbor", undefined);
    expect(a).toHaveLength(32);
    expect(b).toHaveLength(32);
    expect(hex(a)).not.toBe(hex(b));
  });

  it("digest lengths: 32 bytes for sha256_cbor, 16 for xxhash_cbor; event hash = last 8 bytes", () => {
    for (const [algo, len] of [
      ["sha256_cbor", 32],
      ["xxhash_cbor", 16],
    ] as const) {
      const [b] = engineBlockHashes([1, 2], { algo, seed: "0", blockSize: 2 });
      expect(b!.digest).toHaveLength(len);
      expect(b!.hash).toBe(BigInt(`0x${hex(b!.digest.subarray(len - 8))}`));
    }
    expect(low64(Uint8Array.of(1, 2))).toBe(0x102n);
  });

  it("builds vLLM extra keys: lora + mm + salt (salt on block 0 only), null when empty", () => {
    expect(vllmExtraKeys(0, 16, {})).toBeNull();
    expect(vllmExtraKeys(0, 16, { cacheSalt: "" })).toBeNull();
    expect(vllmExtraKeys(0, 16, { loraName: "a", cacheSalt: "s" })).toEqual(["a", "s"]);
    expect(vllmExtraKeys(16, 32, { loraName: "a", cacheSalt: "s" })).toEqual(["a"]);
    const mmItems = [
      { identifier: "x", offset: 10, length: 10 },
      { identifier: "y", offset: 30, length: 4 },
    ];
    const bare = vllmRules("0.18.0");
    expect(vllmExtraKeys(0, 16, { mmItems }, bare)).toEqual(["x"]);
    expect(vllmExtraKeys(16, 32, { mmItems }, bare)).toEqual(["x", "y"]);
    expect(vllmExtraKeys(16, 32, { mmItems })).toEqual([
      ["x", -6],
      ["y", 14],
    ]);
    expect(vllmExtraKeys(16, 32, { mmItems, mmKeyStyle: "identifier_offset" })).toEqual([
      ["x", -6],
      ["y", 14],
    ]);
    expect(vllmExtraKeys(34, 50, { mmItems })).toBeNull();
  });

  it("rejects bad algorithms, block sizes and token ids", () => {
    expect(() => new EngineBlockHasher({ algo: "md5" as EngineHashAlgo, seed: "0" })).toThrow(/unsupported/);
    expect(() => engineBlockHashes([1], { algo: "sha256_cbor", seed: "0", blockSize: 0 })).toThrow(
      /block size/,
    );
    expect(() => engineBlockHashes([-1], { algo: "sha256_cbor", seed: "0", blockSize: 1 })).toThrow(/uint32/);
  });
});

describe("kv-blocks engine hash - self-check against events", () => {
  const c = vectors.cases.find((v) => v.algo === "sha256_cbor" && v.loraName && !v.cacheSalt)!;
  const event = {
    blockHashes: c.blocks.map((b) => BigInt(b.hash)),
    parentBlockHash: null,
    tokenIds: c.tokens.slice(0, c.blocks.length * c.blockSize),
    blockSize: c.blockSize,
    loraName: c.loraName,
  };

  it("matches an event made with the same algorithm, seed and LoRA (from lora_name or extra_keys)", () => {
    const hasher = new EngineBlockHasher({ algo: c.algo, seed: c.seed, vllmVersion: "0.30.0" });
    expect(verifyRootEvent(event, hasher)).toEqual({ result: "match" });
    const withExtra = { ...event, loraName: null, extraKeys: c.blocks.map(() => [c.loraName!]) };
    expect(verifyRootEvent(withExtra, hasher)).toEqual({ result: "match" });
  });

  it("reports the first mismatching block for a wrong seed or algorithm", () => {
    for (const hasher of [
      new EngineBlockHasher({ algo: c.algo, seed: "1", vllmVersion: "0.30.0" }),
      new EngineBlockHasher({ algo: "xxhash_cbor", seed: c.seed, vllmVersion: "0.30.0" }),
    ]) {
      const r = verifyRootEvent(event, hasher);
      expect(r.result).toBe("mismatch");
      if (r.result === "mismatch") expect(r).toMatchObject({ block: 0, expected: event.blockHashes[0] });
    }
  });

  it("refuses events it cannot check", () => {
    const hasher = new EngineBlockHasher({ algo: c.algo, seed: c.seed, vllmVersion: "0.30.0" });
    expect(verifyRootEvent({ ...event, parentBlockHash: 5n }, hasher).result).toBe("unverifiable");
    expect(verifyRootEvent({ ...event, tokenIds: [] }, hasher).result).toBe("unverifiable");
    expect(verifyRootEvent({ ...event, blockSize: null }, hasher).result).toBe("unverifiable");
  });
});
