// The simulator's vLLM 0.34 events, replayed, decode with vLLM 0.34's own msgspec structs
// (KVEventBatch from the published wheel, loaded by packages/kv-blocks/scripts/vllm-golden/).
// Python is made on demand: scripts/python-venv.sh (venv with msgspec in .tools/) and fetch.sh
// (the wheel's kv_events.py etc. in .tools/vllm-src/0.34.0); both are no-ops once done.
import { execFileSync, spawnSync } from "node:child_process";
import { join } from "node:path";
import { decodeKvEventBatch, isEndSeq } from "@inferd/kv-blocks";
import { freePort } from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Dealer } from "zeromq";
import { parseKvEventsConfig } from "../../src/kv-events/config.ts";
import type { SimServerHandle } from "../../src/server.ts";
import { postJson, startTestServer } from "../helpers.ts";

const ROOT = join(import.meta.dirname, "../../../..");
const GOLDEN = join(ROOT, "packages/kv-blocks/scripts/vllm-golden");
const MODEL = "Qwen/Qwen3-32B";

async function replayAll(endpoint: string): Promise<Uint8Array[]> {
  const d = new Dealer({ linger: 0, receiveTimeout: 5000 });
  d.connect(endpoint);
  await d.send([Buffer.alloc(0), Buffer.alloc(8)]);
  const out: Uint8Array[] = [];
  for (;;) {
    const [, , seq, payload] = await d.receive(); // ["", topic, seq, payload]
    if (isEndSeq(seq!)) break;
    out.push(payload!);
  }
  d.close();
  return out;
}

describe("kv-events - vLLM 0.34 msgspec", () => {
  let python = "";
  let sim: SimServerHandle;
  beforeAll(async () => {
    python = execFileSync("bash", [join(ROOT, "scripts/python-venv.sh")], { encoding: "utf8" }).trim();
    execFileSync("bash", [join(GOLDEN, "fetch.sh"), "0.34.0"], { stdio: ["ignore", "ignore", "inherit"] });
    sim = await startTestServer({
      vllmVersion: "0.34.0",
      enableLora: true,
      numGpuBlocksOverride: 40,
      kvEventsConfig: parseKvEventsConfig(
        JSON.stringify({
          enable_kv_cache_events: true,
          endpoint: `tcp://*:${await freePort()}`,
          replay_endpoint: `tcp://*:${await freePort()}`,
        }),
      ),
    });
  }, 600_000);
  afterAll(async () => {
    await sim?.close();
  });

  it("decodes every replayed batch: stores (plain, LoRA, salted), removals, a reset", async () => {
    await postJson(`${sim.url}/v1/load_lora_adapter`, { lora_name: "sql", lora_path: "/a/sql" });
    const prompt = (k: number) => Array.from({ length: 70 }, (_, i) => 1000 * k + i);
    for (let k = 0; k < 6; k++) {
      const body = { prompt: prompt(k), max_tokens: 20, ignore_eos: true };
      await postJson(`${sim.url}/v1/completions`, { ...body, model: k % 3 === 1 ? "sql" : MODEL });
      await postJson(`${sim.url}/v1/completions`, { ...body, model: MODEL, cache_salt: `tenant-${k}` });
    }
    expect((await postJson(`${sim.url}/reset_prefix_cache`, {})).status).toBe(200);

    const payloads = await replayAll(sim.kvReplayEndpoint!);
    const py = spawnSync(python, [join(GOLDEN, "decode_with_vllm.py"), "0.34.0"], {
      input: payloads.map((p) => Buffer.from(p).toString("hex")).join("\n"),
      encoding: "utf8",
    });
    expect(py.stderr).toBe("");
    const decoded = py.stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(decoded).toHaveLength(payloads.length);

    const kinds = new Set<string>();
    decoded.forEach((vllm, i) => {
      expect(vllm.error).toBeUndefined();
      const ours = decodeKvEventBatch(payloads[i]!);
      expect(ours.eventEncoding === null || ours.eventEncoding === "map").toBe(true);
      const [, events, rank] = vllm as [number, Record<string, unknown>[], number];
      expect(rank).toBe(0);
      expect(events.map((e) => e.type)).toEqual(ours.events.map((e) => e.type));
      events.forEach((e, j) => {
        const o = ours.events[j]!;
        kinds.add(o.type === "BlockStored" && o.loraName ? "lora" : o.type);
        if (o.type === "BlockStored") {
          expect((e.block_hashes as number[]).map((h) => BigInt(h))).toEqual(o.blockHashes);
          expect(e.token_ids).toEqual(o.tokenIds);
          expect(e.lora_name).toBe(o.loraName);
          expect(e.extra_keys).toEqual(o.extraKeys);
          expect(e.medium).toBe("GPU");
        } else if (o.type === "BlockRemoved") {
          expect((e.block_hashes as number[]).map((h) => BigInt(h))).toEqual(o.blockHashes);
        }
      });
    });
    expect([...kinds].sort()).toEqual(["AllBlocksCleared", "BlockRemoved", "BlockStored", "lora"]);
  }, 120_000);
});
