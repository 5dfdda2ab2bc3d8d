import { dirname } from "node:path";
import { fileURLToPath } from "node:url";
import {
  connectNats,
  encodeMessage,
  messageHeaders,
  type NatsConnection,
  openKv,
  putEndpoint,
  serviceClient,
} from "@inferd/bus";
import { chatRequestFromBody, TokenizerLoader } from "@inferd/kv-blocks";
import {
  BUCKETS,
  EndpointRole,
  EndpointSchema,
  KvLookupRequestSchema,
  KvLookupResponseSchema,
  make,
  PickOutcome,
  PickRequestSchema,
  PickResponseSchema,
  RequestEventSchema,
  RequestPhase,
  subjects,
} from "@inferd/protocol";
import {
  freePortRange,
  type ManagedProcess,
  type NatsServerHandle,
  startNats,
  startProcess,
  waitFor,
} from "@inferd/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type RunningScorer, runScorer } from "../../src/run.ts";
import { quietLogger, startKvIndexProcess, testConfig } from "../adapters/helpers.ts";

/**
 * Precise prefix routing of a model whose tokenizer is not Qwen3's: model-sim serves "acme/tiny-llama"
 * with a SentencePiece-style tokenizer (BOS on completions, its own chat template with tools), kv-index
 * indexes its KV events, and the scorer tokenises with the same model directory (tokenizerSources). The
 * cached tokens the scorer expects on its pick must be what the server then reports.
 */
const MODEL = "acme/tiny-llama";
const SIMS = 2;
const REPO = new URL("../../../../", import.meta.url).pathname;
const TINY = dirname(
  fileURLToPath(import.meta.resolve("@inferd/kv-blocks/fixtures/tokenizers/tiny-llama/tokenizer.json")),
);

function words(seed: number, n: number): string {
  const vocab = "the cache prefix router latency token model server block hash request prompt".split(" ");
  let x = seed;
  return Array.from({ length: n }, () => {
    x = (x * 1103515245 + 12345) >>> 0;
    return vocab[x % vocab.length];
  }).join(" ");
}

const tools = [{ type: "function", function: { name: "get_weather", parameters: { type: "object" } } }];
const call = {
  id: "c1",
  type: "function",
  function: { name: "get_weather", arguments: '{"city": "Paris"}' },
};

/** A chat with tools and a tool call in its history, as sent to the server and as the gateway forwards it. */
function chat(seed: number, question: string) {
  const messages = [
    { role: "system", content: words(seed, 600) },
    { role: "user", content: "Weather in Paris?" },
    { role: "assistant", content: null, tool_calls: [call] },
    { role: "tool", tool_call_id: "c1", content: '{"temp": 21}' },
    { role: "user", content: question },
  ];
  const pick = {
    messages: messages.map(({ role, content, ...extra }) => ({
      role,
      content: content ?? "",
      extraJson: Object.keys(extra).length > 0 ? JSON.stringify(extra) : "",
    })),
    toolsJson: JSON.stringify(tools),
    chatTemplateKwargsJson: JSON.stringify({ think: false }),
  };
  return { body: { messages, tools, chat_template_kwargs: { think: false } }, pick };
}

async function post(
  url: string,
  body: unknown,
): Promise<{ usage: { prompt_tokens: number; cached: number } }> {
  const res = await fetch(url, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(body),
  });
  const json = (await res.json()) as {
    usage: { prompt_tokens: number; prompt_tokens_details?: { cached_tokens: number } };
  };
  if (!res.ok) throw new Error(`${url}: ${res.status} ${JSON.stringify(json)}`);
  return {
    usage: {
      prompt_tokens: json.usage.prompt_tokens,
      cached: json.usage.prompt_tokens_details?.cached_tokens ?? 0,
    },
  };
}

describe("scorer e2e - precise routing of a non-Qwen model (model-sim + kv-index)", () => {
  let nats: NatsServerHandle;
  let nc: NatsConnection;
  let sims: ManagedProcess;
  let kvIndex: ManagedProcess;
  let scorer: RunningScorer;
  const addresses: string[] = [];
  const s = subjects();

  beforeAll(async () => {
    nats = await startNats({ jetstream: true });
    nc = await connectNats({ servers: nats.url, name: "e2e" });
    const httpPorts = await freePortRange(SIMS);
    const zmqPorts = await freePortRange(SIMS);
    sims = startProcess({
      command: process.execPath,
      args: [
        "services/model-sim/src/main.ts",
        ...["--model", MODEL, "--tokenizer", TINY, "--port", String(httpPorts), "--fleet", String(SIMS)],
        ...["--pod-name", "sim-{i}", "--profile", "tiny-fast", "--prefix-caching-hash-algo", "sha256_cbor"],
        "--enable-prompt-tokens-details", // usage.prompt_tokens_details.cached_tokens, as vLLM needs it
        "--kv-events-config",
        JSON.stringify({
          enable_kv_cache_events: true,
          publisher: "zmq",
          endpoint: `tcp://*:${zmqPorts}`,
          topic: "kv@{pod}@{model}",
        }),
      ],
      env: { ...process.env, PYTHONHASHSEED: "0", INFERD_LOG_LEVEL: "warn" },
      cwd: REPO,
    });
    for (let i = 0; i < SIMS; i++) addresses.push(`http://127.0.0.1:${httpPorts + i}`);
    await waitFor(
      async () =>
        (await Promise.all(addresses.map((a) => fetch(`${a}/health`).then((r) => r.ok)))).every(Boolean),
      { timeoutMs: 60_000, message: `model-sim fleet up (${sims.output().slice(-300)})` },
    );
    const kv = await openKv(nc, BUCKETS.endpoints, { history: 1 });
    for (let i = 0; i < SIMS; i++) {
      await putEndpoint(
        kv,
        make(EndpointSchema, {
          model: MODEL,
          pod: `sim-${i}`,
          address: addresses[i]!,
          role: EndpointRole.BOTH,
          ready: true,
          kvEventsEndpoint: `tcp://127.0.0.1:${zmqPorts + i}`,
          blockSize: 16,
        }),
      );
    }
    kvIndex = await startKvIndexProcess(nats.url, { INDEX_BACKEND: "memory", ZMQ_MODE: "connect" });
    scorer = await runScorer(
      testConfig(nats.url, {
        kvLookup: "true",
        tokenizer: "auto",
        tokenizerSources: JSON.stringify({ [MODEL]: [`dir:${TINY}`] }),
        tokenizerWorkers: "1",
        scrapeIntervalMs: "100",
        kvLookupTimeoutMs: "5000", // no approximate fallback on a loaded machine: the test is about precision
      }),
      { logger: quietLogger() },
    );
    await waitFor(() => scorer.core.endpoints.all().length === SIMS, { message: "scorer sees the fleet" });
    // ZeroMQ drops what a server publishes before kv-index has subscribed: probe each server with fresh
    // prompts until their blocks show up in the index.
    // kv-index may apply a batch a little after it arrives (indexerLingerMs), so each round also
    // asks for the previous round's probe rather than only the one just sent.
    let probe = 0;
    for (let i = 0; i < SIMS; i++) {
      const sent: string[] = [];
      await waitFor(
        async () => {
          const text = `probe ${probe++} ${words(1000 + probe, 40)}`;
          await post(`${addresses[i]}/v1/completions`, { model: MODEL, prompt: text, max_tokens: 1 });
          sent.push(text);
          for (const t of sent.slice(-2))
            if (await holds(`sim-${i}`, await tokensOf({ text: t }))) return true;
          return false;
        },
        {
          timeoutMs: 30_000,
          intervalMs: 200,
          message: () =>
            `kv-index receives sim-${i}'s KV events (kv-index: ${kvIndex.output().slice(-1500)})`,
        },
      );
    }
  }, 180_000);

  afterAll(async () => {
    await scorer?.stop();
    await kvIndex?.stop();
    await sims?.stop();
    await nc?.drain();
    await nats?.stop();
  });

  const tokenizer = new TokenizerLoader().resolve(MODEL, [{ kind: "dir", path: TINY }]);

  async function tokensOf(
    prompt: { text: string } | { chat: Record<string, unknown> },
  ): Promise<Uint32Array> {
    const r = await tokenizer;
    if (r.kind !== "local") throw new Error("local tokenizer expected");
    return "text" in prompt
      ? r.tokenizer.encodeCompletion(prompt.text)
      : r.tokenizer.encodeChatRequest(chatRequestFromBody(prompt.chat));
  }

  /** True when kv-index holds every full block of these tokens on `pod`. */
  async function holds(pod: string, ids: Uint32Array): Promise<boolean> {
    const lookup = serviceClient(nc, s.kvLookup(), KvLookupRequestSchema, KvLookupResponseSchema);
    const a = await lookup.call(
      make(KvLookupRequestSchema, {
        model: MODEL,
        prompt: { case: "tokens", value: { ids: Array.from(ids) } },
        candidatePods: [pod],
      }),
    );
    return a.pods.find((p) => p.pod === pod)?.matchedBlocks === Math.floor(ids.length / 16);
  }

  /** Waits until kv-index holds every full block of a prompt the test sent to `pod` (no picks meanwhile). */
  async function indexed(pod: string, prompt: { text: string } | { chat: Record<string, unknown> }) {
    const ids = await tokensOf(prompt);
    await waitFor(() => holds(pod, ids), {
      timeoutMs: 30_000,
      message: `kv-index holds the prompt's blocks on ${pod}`,
    });
  }

  const pick = (
    prompt: { case: "text"; value: string } | { case: "chat"; value: ReturnType<typeof chat>["pick"] },
  ) =>
    serviceClient(nc, s.schedPick(), PickRequestSchema, PickResponseSchema).call(
      make(PickRequestSchema, { requestId: `r-${Math.random()}`, model: MODEL, prompt }),
      { timeoutMs: 5_000 },
    );

  it("a chat with tools and tool calls: the scorer expects exactly the cached tokens the server reports", async () => {
    const first = chat(1, "What should I wear?");
    const warm = await post(`${addresses[1]}/v1/chat/completions`, {
      model: MODEL,
      ...first.body,
      max_tokens: 2,
    });
    expect(warm.usage.cached).toBe(0);
    await indexed("sim-1", { chat: first.body });
    // Same conversation, new question: the long shared prefix lives on sim-1 only.
    const next = chat(1, "And tomorrow?");
    const res = await pick({ case: "chat", value: next.pick });
    expect(res.outcome).toBe(PickOutcome.OK);
    expect(res.endpoints[0]!.pod).toBe("sim-1");
    const served = await post(`${addresses[1]}/v1/chat/completions`, {
      model: MODEL,
      ...next.body,
      max_tokens: 2,
    });
    expect(res.promptTokens).toBe(served.usage.prompt_tokens);
    expect(res.endpoints[0]!.cachedTokens).toBe(served.usage.cached);
    expect(served.usage.cached).toBeGreaterThan(500);
  });

  it("a completions prompt (BOS added as the server does): expected cached tokens = reported", async () => {
    const shared = words(7, 500);
    await post(`${addresses[0]}/v1/completions`, { model: MODEL, prompt: `${shared} first`, max_tokens: 2 });
    await indexed("sim-0", { text: `${shared} first` });
    const prompt = `${shared} second`;
    const res = await pick({ case: "text", value: prompt });
    expect(res.outcome).toBe(PickOutcome.OK);
    expect(res.endpoints[0]!.pod).toBe("sim-0");
    const served = await post(`${addresses[0]}/v1/completions`, { model: MODEL, prompt, max_tokens: 2 });
    expect(res.promptTokens).toBe(served.usage.prompt_tokens);
    expect(res.endpoints[0]!.cachedTokens).toBe(served.usage.cached);
    expect(served.usage.cached).toBeGreaterThan(300);
  });

  it("counts a pick that expected no cached tokens where the server reported some (lifecycle events)", async () => {
    const missed = async () =>
      (
        await scorer.registry.getSingleMetric("inferd_scorer_prefix_lookup_missed_server_hits_total")?.get()
      )?.values.reduce((n, v) => n + v.value, 0) ?? 0;
    const before = await missed();
    const send = (requestId: string, pod: string, cachedTokens: number) =>
      nc.publish(
        s.requests(MODEL),
        encodeMessage(
          RequestEventSchema,
          make(RequestEventSchema, {
            requestId,
            phase: RequestPhase.COMPLETED,
            model: MODEL,
            baseModel: MODEL,
            endpoint: pod,
            promptTokens: 800,
            cachedTokens,
          }),
        ),
        { headers: messageHeaders(RequestEventSchema) },
      );
    // A prompt no server has seen: the scorer expects 0 cached tokens wherever it routes it.
    const fresh = await serviceClient(nc, s.schedPick(), PickRequestSchema, PickResponseSchema).call(
      make(PickRequestSchema, {
        requestId: "audit-1",
        model: MODEL,
        prompt: { case: "text", value: words(99, 700) },
      }),
      { timeoutMs: 5_000 },
    );
    expect(fresh.endpoints[0]!.cachedTokens).toBe(0);
    send("audit-1", fresh.endpoints[0]!.pod, 512); // ...but the server says it had 512 of them
    await waitFor(async () => (await missed()) === before + 1, { message: "missed server hit counted" });
  });
});
