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
const vectors = JSON.parse(
  readFileSync(join(import.meta.dirname, "../../../kv-blocks/test/hashing/vllm-vectors.json"), "utf8"),
);

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
  it("prints vLLM's digests and uint64 hashes for a reference vector", async () => {
    const c = vectors.cases[0];
    const { stdout } = await run(process.execPath, [
      main,
      "kv",
      "hash",
      "--algo",
      c.algo,
      "--seed",
      c.seed,
      "--block-size",
      String(c.blockSize),
      "--tokens",
      c.tokens.join(","),
    ]);
    expect(stdout.trim().split("\n")).toEqual(
      c.blocks.map((b: { digest: string; hash: string }) => `${b.digest} ${b.hash}`),
    );
  });

  it("refuses to hash without a seed", async () => {
    const err = await run(process.execPath, [main, "kv", "hash", "--tokens", "1,2"]).catch((e) => e);
    expect(err.stderr).toMatch(/--seed: required/);
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
