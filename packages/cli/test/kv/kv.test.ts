import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { connectNats, ensureStream, jetStreamClient, publishMessage } from "@inferd/bus";
import { encodeKvEventBatch, encodeSeq } from "@inferd/kv-blocks";
import { KvEventBatchSchema, make, STREAMS, subjects } from "@inferd/protocol";
import { startNats, waitFor } from "@inferd/testkit";
import { describe, expect, it } from "vitest";
import { joinCapture, splitCapture } from "../../src/kv/capture.ts";

const run = promisify(execFile);
const main = join(import.meta.dirname, "../../src/main.ts");

function batchPayload(encoding: "array" | "map"): Uint8Array {
  return encodeKvEventBatch(
    {
      ts: 1789095808.5,
      dataParallelRank: 0,
      events: [
        {
          type: "BlockStored",
          blockHashes: [15760518052499183552n],
          parentBlockHash: null,
          tokenIds: Array.from({ length: 16 }, (_, i) => i),
          blockSize: 16,
          loraId: null,
          medium: "GPU",
          loraName: null,
        },
        { type: "BlockRemoved", blockHashes: [15760518052499183552n], medium: "GPU" },
      ],
    },
    { encoding },
  );
}

describe("cli kv - decode", () => {
  it.each(["array", "map"] as const)(
    "decodes a raw %s-encoded payload with hashes as decimal strings",
    async (encoding) => {
      const dir = mkdtempSync(join(tmpdir(), "kv-decode-"));
      writeFileSync(join(dir, "payload.bin"), batchPayload(encoding));
      const { stdout } = await run(process.execPath, [main, "kv", "decode", join(dir, "payload.bin")]);
      const json = JSON.parse(stdout);
      expect(json.events[0]).toMatchObject({
        type: "BlockStored",
        block_hashes: ["15760518052499183552"],
        block_size: 16,
      });
      expect(json.events[1]).toMatchObject({ type: "BlockRemoved" });
      expect(json.event_encoding).toBe(encoding);
    },
  );

  it("decodes the three frames of a capture, with topic and seq", async () => {
    const frames = [new TextEncoder().encode("kv@sim-0@Qwen/Qwen3-32B"), encodeSeq(41n), batchPayload("map")];
    const capture = joinCapture(frames);
    expect(splitCapture(capture)?.seq).toEqual(frames[1]);
    expect(splitCapture(frames[2]!)).toBeUndefined();
    const dir = mkdtempSync(join(tmpdir(), "kv-decode-"));
    writeFileSync(join(dir, "capture.bin"), capture);
    const json = JSON.parse(
      (await run(process.execPath, [main, "kv", "decode", join(dir, "capture.bin")])).stdout,
    );
    expect(json).toMatchObject({ topic: "kv@sim-0@Qwen/Qwen3-32B", seq: "41" });
  });

  it("fails with a clear error on garbage", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kv-decode-"));
    writeFileSync(join(dir, "junk.bin"), "not msgpack at all");
    const err = await run(process.execPath, [main, "kv", "decode", join(dir, "junk.bin")]).catch((e) => e);
    expect(err.code).toBe(1);
    expect(err.stderr).toMatch(/^inferd kv: /);
  });
});

describe("cli kv - hash", () => {
  // Chains computed by vLLM 0.34's own code (packages/kv-blocks/test/vllm-golden/).
  const golden = JSON.parse(
    readFileSync(join(import.meta.dirname, "../../../kv-blocks/test/vllm-golden/vllm-0.34.0.json"), "utf8"),
  );
  const lines = (c: { blocks: { digest: string; hash: string }[] }) =>
    c.blocks.map((b) => `${b.digest} ${b.hash}`);

  it("without --seed hashes as vLLM 0.34 with PYTHONHASHSEED unset (sha256, the default algorithm)", async () => {
    const c = golden.chains.find(
      (x: { algo: string; seed: string | null; lora: unknown; mm: unknown[] }) =>
        x.algo === "sha256" && x.seed === null && !x.lora && x.mm.length === 0,
    );
    const { stdout } = await run(process.execPath, [main, "kv", "hash", "--tokens", c.tokens.join(",")]);
    expect(stdout.trim().split("\n")).toEqual(lines(c));
  });

  it("takes --lora, --lora-path and --cache-salt (tagged extra keys since 0.31)", async () => {
    const c = golden.chains.find(
      (x: { algo: string; lora: unknown; mm: unknown[]; cacheSalt: string | null }) =>
        x.algo === "sha256_cbor" && x.lora && x.mm.length === 0 && x.cacheSalt === "salt-2",
    );
    const args = [main, "kv", "hash", "--vllm-version", "0.34", "--algo", "sha256_cbor"];
    args.push("--lora", c.lora.name, "--lora-path", c.lora.path, "--cache-salt", c.cacheSalt);
    const { stdout } = await run(process.execPath, [...args, "--tokens", c.tokens.join(",")]);
    expect(stdout.trim().split("\n")).toEqual(lines(c));
    const err = await run(process.execPath, [main, "kv", "hash", "--lora", "a", "--tokens", "1,2"]).catch(
      (e) => e,
    );
    expect(err.stderr).toMatch(/--lora-path: required/);
  });

  it("matches a pre-0.31 engine given --vllm-version and --seed", async () => {
    const old = JSON.parse(
      readFileSync(join(import.meta.dirname, "../../../kv-blocks/test/vllm-golden/vllm-0.30.0.json"), "utf8"),
    );
    const c = old.chains.find(
      (x: { algo: string; lora: unknown; mm: unknown[]; cacheSalt: string | null }) =>
        x.algo === "xxhash_cbor" && x.lora && x.mm.length === 0 && x.cacheSalt === "salt-2",
    );
    const args = [main, "kv", "hash", "--vllm-version", "0.30.0", "--algo", "xxhash_cbor", "--seed", c.seed];
    args.push("--lora", c.lora.name, "--cache-salt", c.cacheSalt, "--tokens", c.tokens.join(","));
    const { stdout } = await run(process.execPath, args);
    expect(stdout.trim().split("\n")).toEqual(lines(c));
  });

  it("refuses when the engine's seed would be random", async () => {
    const err = await run(process.execPath, [
      main,
      "kv",
      "hash",
      "--algo",
      "xxhash",
      "--tokens",
      "1,2",
    ]).catch((e) => e);
    expect(err.stderr).toMatch(/randomly/);
  });
});

describe("cli kv - tail", () => {
  it("follows the KV event stream as JSON lines", async () => {
    const nats = await startNats();
    try {
      const nc = await connectNats({ servers: nats.url, name: "tail-test" });
      const s = subjects();
      await ensureStream(nc, { name: STREAMS.kvEvents, subjects: [s.kvEventsAll()] });
      const { spawn } = await import("node:child_process");
      const child = spawn(process.execPath, [
        main,
        "kv",
        "tail",
        "--nats",
        nats.url,
        "--model",
        "Qwen/Qwen3-32B",
      ]);
      let out = "";
      child.stdout.on("data", (c) => {
        out += c;
      });
      const batch = make(KvEventBatchSchema, {
        model: "Qwen/Qwen3-32B",
        pod: "sim-0",
        seq: 3n,
        events: [{ event: { case: "allBlocksCleared", value: {} } }],
      });
      await waitFor(
        async () => {
          await publishMessage(
            jetStreamClient(nc),
            s.kvEvents("Qwen/Qwen3-32B", "sim-0"),
            KvEventBatchSchema,
            batch,
          );
          return out.includes("\n");
        },
        { timeoutMs: 15_000, intervalMs: 300 },
      );
      const line = JSON.parse(out.split("\n")[0]!);
      expect(line).toMatchObject({
        model: "Qwen/Qwen3-32B",
        pod: "sim-0",
        seq: "3",
        events: [{ allBlocksCleared: {} }],
      });
      child.kill("SIGINT");
      await nc.close();
    } finally {
      await nats.dispose();
    }
  });
});
