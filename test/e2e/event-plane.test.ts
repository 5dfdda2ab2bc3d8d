import { execFile, spawn } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { repoTool, waitFor } from "@inferd/testkit";
import { request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningStack, startStack } from "./stack.ts";

const run = promisify(execFile);
const MODEL = "Qwen/Qwen3-32B";
const EXAMPLE = join(import.meta.dirname, "../../examples/python-ttft");

async function chat(gateway: string, content: string): Promise<number> {
  const res = await request(`${gateway}/v1/chat/completions`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ model: MODEL, messages: [{ role: "user", content }], max_tokens: 4 }),
  });
  await res.body.text();
  return res.statusCode;
}

/**
 * The event plane as an outside tool sees it (docs/events/asyncapi.yaml): the standard `nats` CLI
 * and a Python consumer written from the document, against the stack `inferd up` runs.
 */
describe("e2e - the event plane through the nats CLI and a Python consumer", () => {
  let stack: RunningStack;
  let nats: (args: string[]) => Promise<string>;

  beforeAll(async () => {
    const cli = repoTool("nats");
    stack = await startStack({ sims: 1, args: ["--profile", "tiny-fast"] });
    nats = async (args) => (await run(cli, ["--server", stack.addresses.nats, ...args])).stdout;
  }, 120_000);

  afterAll(async () => {
    expect(await stack?.stop()).toBe(0);
  });

  it("lists inferd's services with `nats micro ls`", async () => {
    const out = await waitFor(
      async () => {
        const text = await nats(["micro", "ls", "--json"]);
        return /kv-index/.test(text) && /inferd-scorer/.test(text) ? text : undefined;
      },
      { timeoutMs: 20_000, intervalMs: 500, message: "kv-index and the scorer in nats micro ls" },
    );
    const names = (JSON.parse(out) as { name: string }[]).map((s) => s.name);
    expect(names).toEqual(expect.arrayContaining(["kv-index", "inferd-scorer"]));
  });

  it("answers a lookup requested with JSON, and serves the descriptors", async () => {
    const lookup = await nats([
      "request",
      "inferd.v1.kv.lookup",
      JSON.stringify({ model: MODEL, tokens: { ids: Array.from({ length: 64 }, (_, i) => i + 1) } }),
      "-H",
      "Content-Type:application/json",
      "--raw",
    ]);
    expect(JSON.parse(lookup)).toMatchObject({ blockSize: expect.any(Number), promptTokens: 64 });

    const schema = await nats([
      "request",
      "inferd.v1.schema",
      "{}",
      "-H",
      "Content-Type:application/json",
      "--raw",
    ]);
    const files = (JSON.parse(schema) as { file: { name: string }[] }).file.map((f) => f.name);
    expect(files).toEqual(expect.arrayContaining(["inferd/v1/requests.proto", "inferd/v1/kv_events.proto"]));
  });

  it("subscribes to the request stream's subjects and reads the streams' state", async () => {
    const sub = spawn(repoTool("nats"), [
      "--server",
      stack.addresses.nats,
      "sub",
      "inferd.v1.requests.>",
      "--count",
      "1",
    ]);
    let out = "";
    sub.stdout.on("data", (c) => {
      out += c;
    });
    const exited = new Promise((resolve) => sub.once("exit", resolve));
    await waitFor(
      async () => {
        expect(await chat(stack.addresses.gateway!, "hello from nats sub")).toBe(200);
        return out.includes("Inferd-Message-Type: inferd.v1.RequestEvent");
      },
      { timeoutMs: 20_000, intervalMs: 500, message: "a RequestEvent on nats sub" },
    );
    await exited;
    const info = JSON.parse(await nats(["stream", "info", "INFERD_REQUESTS", "--json"]));
    expect(info.state.messages).toBeGreaterThan(0);
    const kv = JSON.parse(await nats(["stream", "info", "INFERD_KV_EVENTS", "--json"]));
    expect(kv.config.subjects).toEqual(["inferd.v1.kv.events.>"]);
  });

  it("runs the Python consumer of examples/ against the stream", async () => {
    const venv = (await run("bash", [join(EXAMPLE, "setup.sh")], { timeout: 300_000 })).stdout.trim();
    for (let i = 0; i < 3; i++) expect(await chat(stack.addresses.gateway!, `question ${i}`)).toBe(200);
    const { stdout } = await run(
      join(venv, "bin/python"),
      [
        join(EXAMPLE, "ttft_p90.py"),
        "--nats",
        stack.addresses.nats,
        "--from-start",
        "--json",
        "--max-events",
        "3",
      ],
      { env: { ...process.env, PYTHONPATH: join(venv, "gen") }, timeout: 60_000 },
    );
    const lines = stdout
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { model: string; ttft_p90_ms: number; n: number });
    expect(lines).toHaveLength(3);
    expect(lines.every((l) => l.model === MODEL && l.ttft_p90_ms > 0)).toBe(true);
    expect(lines.map((l) => l.n)).toEqual([1, 2, 3]);
  }, 360_000);
});
