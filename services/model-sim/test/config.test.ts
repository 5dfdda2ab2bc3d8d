import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { numGpuBlocks, parseSimArgs } from "../src/config.ts";

describe("config", () => {
  it("config - vLLM flags and simulator flags parse into options", () => {
    const o = parseSimArgs(
      [
        "--model",
        "Qwen/Qwen3-8B",
        "--served-model-name",
        "qwen",
        "--port",
        "9000",
        "--max-num-seqs",
        "64",
        "--max-num-batched-tokens",
        "4096",
        "--block-size",
        "64",
        "--num-gpu-blocks-override",
        "1000",
        "--kv-events-config",
        '{"enable_kv_cache_events":true,"endpoint":"tcp://indexer:5557","topic":"kv@{pod}@{model}"}',
        "--prefix-caching-hash-algo",
        "xxhash_cbor",
        "--enable-lora",
        "--max-loras",
        "4",
        "--lora-modules",
        "sql=/a/sql",
        "--kv-transfer-config",
        '{"kv_connector":"NixlConnector","kv_role":"kv_both"}',
        "--profile",
        "llama-8b-h100",
        "--kv-events-encoding",
        "map",
        "--data-parallel-rank",
        "1",
        "--fleet",
        "16",
        "--enable-prefix-caching",
      ],
      { PYTHONHASHSEED: "42" },
    );
    expect(o).toMatchObject({
      model: "Qwen/Qwen3-8B",
      servedModelNames: ["qwen"],
      port: 9000,
      maxNumSeqs: 64,
      maxNumBatchedTokens: 4096,
      blockSize: 64,
      prefixCachingHashAlgo: "xxhash_cbor",
      pythonHashSeed: "42",
      enableLora: true,
      maxLoras: 4,
      loraModules: [{ name: "sql", path: "/a/sql" }],
      kvTransferConfig: { kvConnector: "NixlConnector", kvRole: "kv_both" },
      kvEventsEncoding: "map",
      dataParallelRank: 1,
      fleet: 16,
    });
    expect(o.kvEventsConfig.endpoint).toBe("tcp://indexer:5557");
    expect(numGpuBlocks(o)).toBe(1000);
  });

  it("config - defaults follow vLLM on H100 and the profile's KV capacity", () => {
    const o = parseSimArgs([], {});
    expect(o).toMatchObject({
      model: "Qwen/Qwen3-32B",
      port: 8000,
      maxNumSeqs: 1024,
      maxNumBatchedTokens: 8192,
      blockSize: 16,
    });
    expect(o.pythonHashSeed).toBeNull();
    expect(numGpuBlocks(o)).toBe(307_328 / 16);
    // Current vLLM: 0.34, its default hash algorithm, map events; the version picks the event form.
    expect(o).toMatchObject({
      vllmVersion: "0.34.0",
      prefixCachingHashAlgo: "sha256",
      kvEventsEncoding: null,
    });
    expect(parseSimArgs(["--vllm-version", "0.23"], {}).vllmVersion).toBe("0.23.0");
    expect(o.enablePromptTokensDetails).toBe(false);
  });

  it("config - YAML file < environment < flags", () => {
    const dir = mkdtempSync(join(tmpdir(), "model-sim-"));
    const file = join(dir, "sim.yaml");
    writeFileSync(
      file,
      [
        "max_num_seqs: 32",
        "port: 9100",
        "enable-lora: true",
        "served-model-name: [a, b]",
        "kv-events-config:",
        "  enable_kv_cache_events: true",
        "  endpoint: tcp://*:6000",
      ].join("\n"),
    );
    const o = parseSimArgs(["--config", file, "--port", "9200"], {
      INFERD_MODEL_SIM_MAX_NUM_SEQS: "48",
      INFERD_MODEL_SIM_PORT: "9300",
    });
    expect(o.maxNumSeqs).toBe(48);
    expect(o.port).toBe(9200);
    expect(o.enableLora).toBe(true);
    expect(o.servedModelNames).toEqual(["a", "b"]);
    expect(o.kvEventsConfig).toMatchObject({ enableKvCacheEvents: true, endpoint: "tcp://*:6000" });
    writeFileSync(file, "max_seqs: 3\n");
    expect(() => parseSimArgs(["--config", file], {})).toThrow(/unknown key "max_seqs"/);
    expect(() => parseSimArgs([], { INFERD_MODEL_SIM_ENABLE_LORA: "maybe" })).toThrow(
      /INFERD_MODEL_SIM_ENABLE_LORA/,
    );
  });

  it("config - bad values name the flag", () => {
    expect(() => parseSimArgs(["--max-num-seqs", "zero"], {})).toThrow(/--max-num-seqs/);
    expect(() => parseSimArgs(["--prefix-caching-hash-algo", "md5"], {})).toThrow(
      /offers sha256, sha256_cbor/,
    );
    expect(() =>
      parseSimArgs(["--vllm-version", "0.11", "--prefix-caching-hash-algo", "xxhash"], {}),
    ).toThrow(/--prefix-caching-hash-algo: vLLM 0.11.0 offers sha256, sha256_cbor,/);
    expect(() => parseSimArgs(["--vllm-version", "latest"], {})).toThrow(
      /--vllm-version: not a vLLM version/,
    );
    expect(() => parseSimArgs(["--profile", "gpu9000"], {})).toThrow(/unknown latency profile/);
    expect(() => parseSimArgs(["--kv-events-config", "{nope"], {})).toThrow(/invalid JSON/);
    expect(() => parseSimArgs(["--bogus"], {})).toThrow(/bogus/);
    expect(() => parseSimArgs(["--lora-modules", "a=b"], {})).toThrow(/--enable-lora/);
  });
});
