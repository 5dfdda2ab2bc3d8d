import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { encodeMsgpack, Float64 } from "../src/events/msgpack-writer.ts";
import { batchToJson, decodeKvEventBatch, hashLines, parseTokenIds, requestKeys } from "../src/index.ts";
import { V0_22 } from "./events/fixtures.ts";

describe("kv-blocks cli - batchToJson", () => {
  it("renders vLLM field names, hashes as decimal strings and survives JSON.stringify", () => {
    const json = batchToJson(decodeKvEventBatch(V0_22), { topic: "kv@p@m", seq: 7n });
    const text = JSON.stringify(json);
    const back = JSON.parse(text);
    expect(back.topic).toBe("kv@p@m");
    expect(back.seq).toBe("7");
    expect(back.data_parallel_rank).toBe(2);
    expect(back.event_encoding).toBe("array");
    expect(back.events[0].block_hashes).toEqual(["15760518052499183552", "18446744073709551615"]);
    expect(back.events[0].extra_keys).toEqual([["my-lora"], ["my-lora"]]);
    expect(back.events[0].kv_cache_spec_kind).toBe("full_attention");
    expect(back.events[1]).toEqual({
      type: "BlockRemoved",
      block_hashes: ["15760518052499183552"],
      medium: "CPU",
      group_idx: 1,
      locality: null,
      ownership: null,
    });
    expect(back.events[2]).toEqual({ type: "AllBlocksCleared" });
  });

  it("renders bytes and big ints inside extra keys, and unknown events", () => {
    const payload = encodeMsgpack([
      new Float64(1),
      [
        ["BlockStored", [1n], 2n, [], 0, null, "CPU", null, [[Uint8Array.of(0xab, 0xcd), [1n << 62n, "x"]]]],
        ["Future"],
      ],
      0,
    ]);
    const back = JSON.parse(JSON.stringify(batchToJson(decodeKvEventBatch(payload))));
    expect(back.events[0].parent_block_hash).toBe("2");
    expect(back.events[0].extra_keys).toEqual([[{ bytes: "abcd" }, [(1n << 62n).toString(), "x"]]]);
    expect(back.events[1]).toEqual({ type: "Unknown", tag: "Future" });
  });
});

describe("kv-blocks cli - hashLines", () => {
  it("lists every full block with the vLLM digest, event hash and request key", () => {
    const vectors = JSON.parse(readFileSync(new URL("./hashing/vllm-vectors.json", import.meta.url), "utf8"));
    const c = vectors.cases.find(
      (x: { loraName: string | null; cacheSalt: string | null }) => x.loraName && x.cacheSalt,
    );
    const lines = hashLines(c.tokens, {
      algo: c.algo,
      seed: c.seed,
      blockSize: c.blockSize,
      loraName: c.loraName,
      cacheSalt: c.cacheSalt,
      model: "m",
      vllmVersion: "0.30.0",
    });
    expect(lines.map((l) => ({ digest: l.digest, hash: l.hash }))).toEqual(c.blocks);
    expect(lines.map((l) => [l.block, l.start, l.end])).toEqual(
      c.blocks.map((_: unknown, i: number) => [i, i * c.blockSize, (i + 1) * c.blockSize]),
    );
    const rk = requestKeys("m", c.tokens, {
      blockSize: c.blockSize,
      loraName: c.loraName,
      cacheSalt: c.cacheSalt,
    });
    expect(lines.map((l) => l.requestKey)).toEqual(rk.map(String));
    expect(hashLines(c.tokens, { algo: c.algo, seed: "0", blockSize: 4 })[0]!.requestKey).toBeUndefined();
  });

  it("without a seed: vLLM >= 0.29 sha256* hashes are reproducible, random ones are refused", () => {
    const tokens = Array.from({ length: 32 }, (_, i) => i);
    const unset = hashLines(tokens, { algo: "sha256", blockSize: 16 });
    expect(unset).toEqual(hashLines(tokens, { algo: "sha256", seed: "vllm-none-hash", blockSize: 16 }));
    expect(() => hashLines(tokens, { algo: "xxhash_cbor", blockSize: 16 })).toThrow(/randomly/);
    expect(() => hashLines(tokens, { algo: "sha256_cbor", blockSize: 16, vllmVersion: "0.28.0" })).toThrow(
      /PYTHONHASHSEED/,
    );
  });
});

describe("kv-blocks cli - parseTokenIds", () => {
  it("accepts JSON arrays and comma/space separated lists", () => {
    expect(parseTokenIds("[1, 2, 3]")).toEqual([1, 2, 3]);
    expect(parseTokenIds(" 1,2  3\n4 ")).toEqual([1, 2, 3, 4]);
    expect(parseTokenIds("")).toEqual([]);
  });
  it("rejects non-token values", () => {
    expect(() => parseTokenIds("1, x")).toThrow(/#1/);
    expect(() => parseTokenIds("[-1]")).toThrow(/not a uint32/);
    expect(() => parseTokenIds("[1.5]")).toThrow(/not a uint32/);
  });
});
