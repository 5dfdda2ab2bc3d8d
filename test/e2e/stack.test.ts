import { join } from "node:path";
import { type ManagedProcess, startProcess, waitFor } from "@inferd/testkit";
import OpenAI from "openai";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { chat, longPrompt, MODEL } from "./chat.ts";
import { type RunningStack, startStack } from "./stack.ts";

const KV_INDEX_MAIN = join(import.meta.dirname, "../../services/kv-index/src/main.ts");

async function lookup(kvIndex: string, system: string, question: string) {
  const res = await request(`${kvIndex}/v1/lookup`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({
      model: MODEL,
      chat: {
        messages: [
          { role: "system", content: system },
          { role: "user", content: question },
        ],
      },
    }),
  });
  return (await res.body.json()) as { totalBlocks: number; pods?: { pod: string; matchedBlocks: number }[] };
}

function killPid(pid: number | undefined): void {
  if (pid) process.kill(pid, "SIGKILL");
}

describe("e2e - the whole stack started by inferd up", () => {
  let stack: RunningStack;
  let gateway: string;
  let kvIndex: string;
  let restartedKvIndex: ManagedProcess | undefined;
  const system = longPrompt("alpha");

  beforeAll(async () => {
    stack = await startStack({
      sims: 3,
      args: ["--sim-mode", "processes", "--on-exit", "continue", "--profile", "tiny-fast"],
      env: { INFERD_GATEWAY_MODEL_DEFAULTS: JSON.stringify({ failureMode: "FailOpen" }) },
    });
    gateway = stack.addresses.gateway!;
    kvIndex = stack.addresses.kvIndex!;
  }, 120_000);

  afterAll(async () => {
    await restartedKvIndex?.stop();
    expect(await stack?.stop()).toBe(0);
  });

  it("serves a chat completion through the official openai client, streaming and not", async () => {
    const client = new OpenAI({ baseURL: `${gateway}/v1`, apiKey: "unused" });
    const completion = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Say hello." }],
      max_tokens: 8,
    });
    expect(completion.choices[0]?.message.content?.length).toBeGreaterThan(0);
    expect(completion.usage?.completion_tokens).toBe(8);

    const stream = await client.chat.completions.create({
      model: MODEL,
      messages: [{ role: "user", content: "Say hello." }],
      max_tokens: 5,
      stream: true,
      stream_options: { include_usage: true },
    });
    let text = "";
    let usage: OpenAI.CompletionUsage | undefined | null;
    for await (const chunk of stream) {
      text += chunk.choices[0]?.delta.content ?? "";
      usage = chunk.usage ?? usage;
    }
    expect(text.length).toBeGreaterThan(0);
    expect(usage?.completion_tokens).toBe(5);
  });

  it("sends requests that share a long prefix to the server that holds it", async () => {
    const first = await chat(gateway, system, "Question 0?");
    expect(first.status).toBe(200);
    // The first request's KV events must reach the index before affinity can show.
    await waitFor(
      async () => (await lookup(kvIndex, system, "Question 1?")).pods?.some((p) => p.pod === first.endpoint),
      {
        timeoutMs: 10_000,
        message: "the index to learn the first request's blocks",
      },
    );
    for (let i = 1; i <= 6; i++) {
      const served = await chat(gateway, system, `Question ${i}?`);
      expect(served.endpoint).toBe(first.endpoint);
      expect(served.cached).toBeGreaterThan(1000);
    }
  });

  it("converges to a correct index after kv-index restarts", async () => {
    killPid((stack.addresses as { pids?: Record<string, number> }).pids?.["kv-index"]);
    const other = longPrompt("beta");
    // Served while kv-index is down: its events are missed live and must come back by replay.
    const served = await chat(gateway, other, "While the index was down?");
    expect(served.status).toBe(200);
    const url = new URL(kvIndex);
    restartedKvIndex = startProcess({
      command: process.execPath,
      args: [KV_INDEX_MAIN],
      env: {
        ...process.env,
        INFERD_KV_INDEX_NATS_URL: stack.addresses.nats,
        INFERD_KV_INDEX_REDIS_URL: stack.addresses.redis,
        INFERD_KV_INDEX_HTTP_PORT: url.port,
        INFERD_KV_INDEX_ZMQ_MODE: "connect",
      },
    });
    const total = await waitFor(
      async () => {
        const r = await lookup(kvIndex, other, "While the index was down?");
        const match = r.pods?.find((p) => p.pod === served.endpoint);
        return match && match.matchedBlocks === r.totalBlocks ? r.totalBlocks : undefined;
      },
      {
        timeoutMs: 30_000,
        intervalMs: 250,
        message: `the restarted index to hold the prompt on ${served.endpoint}`,
      },
    );
    expect(total).toBeGreaterThan(50);
    const before = await lookup(kvIndex, system, "Question 1?");
    expect(before.pods?.some((p) => p.matchedBlocks > 50)).toBe(true);
  });

  it("moves traffic off a killed model server without failing requests", async () => {
    const holder = (await chat(gateway, system, "Who holds it?")).endpoint!;
    killPid((stack.addresses as { pids?: Record<string, number> }).pids?.[holder]);
    const results = await Promise.all(
      Array.from({ length: 8 }, (_, i) => chat(gateway, system, `After the crash ${i}?`)),
    );
    expect(results.map((r) => r.status)).toEqual(Array(8).fill(200));
    expect(results.every((r) => r.endpoint !== holder)).toBe(true);
  });

  it("keeps serving in fail-open mode when the scorer is killed", async () => {
    killPid((stack.addresses as { pids?: Record<string, number> }).pids?.scorer);
    const results = [];
    for (let i = 0; i < 5; i++) results.push(await chat(gateway, longPrompt("gamma", 10), `No scorer ${i}?`));
    expect(results.map((r) => r.status)).toEqual(Array(5).fill(200));
  });
});
