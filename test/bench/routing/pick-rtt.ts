/**
 * The pick's round trip as the gateway sees it, against a running stack (`inferd up`), split into
 * the scorer's own pick time and the rest (NATS, codec, waiting for an event loop).
 *
 *   node test/bench/routing/pick-rtt.ts --nats nats://127.0.0.1:4222 --scorer http://127.0.0.1:9101
 *     [--rate 4] [--picks 200] [--groups 8] [--system 6000] [--question 128] [--model Qwen/Qwen3-32B]
 *
 * Sends chat PickRequests (a shared system prompt per group + a new question each, as the routing
 * bench's default workload) at a Poisson rate straight to `inferd.v1.sched.pick`, one warm-up pick per
 * group first, and reports p50/p90 of the round trip and of the scorer's pick and tokenise histograms
 * (deltas of its /metrics over the timed picks), plus a NATS echo round trip from this process (the
 * floor: two hops through nats-server).
 */
import { connectNats, serviceClient } from "@inferd/bus";
import { make, PickRequestSchema, PickResponseSchema, subjects } from "@inferd/protocol";
import { request } from "undici";
import { histogramQuantile, parseHistogram, subHistogram } from "./lib/histogram.ts";

const arg = (name: string, def: string): string => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? def) : def;
};
const NATS = arg("nats", "nats://127.0.0.1:4222");
const SCORER = arg("scorer", "http://127.0.0.1:9101");
const RATE = Number(arg("rate", "4"));
const PICKS = Number(arg("picks", "200"));
const GROUPS = Number(arg("groups", "8"));
const SYSTEM = Number(arg("system", "6000"));
const QUESTION = Number(arg("question", "128"));
const MODEL = arg("model", "Qwen/Qwen3-32B");

let seed = 7;
const rnd = (): number => {
  seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
  return seed / 2 ** 32;
};
const WORDS = ["alpha", "river", "stone", "cloud", "maple", "orbit", "quartz", "amber", "delta", "forest"];
const words = (n: number): string =>
  Array.from({ length: n }, () => WORDS[Math.floor(rnd() * WORDS.length)]).join(" ");
const systems = Array.from({ length: GROUPS }, (_, g) => `group ${g}: ${words(SYSTEM)}`);

const nc = await connectNats({ servers: NATS, name: "pick-rtt", noAsyncTraces: true });
const client = serviceClient(nc, subjects().schedPick(), PickRequestSchema, PickResponseSchema);
const pickOnce = async (i: number, group: number): Promise<number> => {
  const req = make(PickRequestSchema, {
    requestId: `probe-${i}-${Math.random()}`,
    model: MODEL,
    prompt: {
      case: "chat",
      value: {
        messages: [
          { role: "system", content: systems[group]! },
          { role: "user", content: `${i} ${words(QUESTION)}` },
        ],
      },
    },
    maxTokens: 16,
    omitCandidates: true,
  });
  const t0 = performance.now();
  await client.call(req, { timeoutMs: 5000 });
  return performance.now() - t0;
};

async function metrics(): Promise<string> {
  const res = await request(`${SCORER}/metrics`);
  return res.body.text();
}

const q = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))]!;
};

// Warm every group's system prompt (tokenizer prefix cache, key cache).
for (let g = 0; g < GROUPS; g++) await pickOnce(-g - 1, g);

// The floor: an echo through nats-server from this process.
nc.subscribe("pick-rtt.echo", {
  callback: (_e, m) => {
    m.respond(m.data);
  },
});
const echo: number[] = [];
for (let i = 0; i < 200; i++) {
  const t0 = performance.now();
  await nc.request("pick-rtt.echo", new Uint8Array(100), { timeout: 1000 });
  echo.push(performance.now() - t0);
}

const before = await metrics();
const rtts: number[] = [];
const inflight: Promise<void>[] = [];
for (let i = 0; i < PICKS; i++) {
  inflight.push(pickOnce(i, Math.floor(rnd() * GROUPS)).then((ms) => void rtts.push(ms)));
  await new Promise((r) => setTimeout(r, (-Math.log(1 - rnd()) / RATE) * 1000));
}
await Promise.all(inflight);
const after = await metrics();
const hq = (name: string, p: number): number =>
  histogramQuantile(subHistogram(parseHistogram(after, name), parseHistogram(before, name)), p) * 1000;
const f = (v: number): string => v.toFixed(2);
console.log(
  `rate ${RATE}/s, ${PICKS} picks, ${GROUPS} groups, system ${SYSTEM} + question ${QUESTION} words`,
);
console.log(`nats echo rtt p50/p90 ms      ${f(q(echo, 0.5))}/${f(q(echo, 0.9))}`);
console.log(`pick rtt p50/p90 ms           ${f(q(rtts, 0.5))}/${f(q(rtts, 0.9))}`);
for (const [label, name] of [
  ["scorer pick p50/p90 ms", "inferd_scorer_pick_duration_seconds"],
  ["scorer tokenise p50/p90 ms", "inferd_scorer_tokenize_duration_seconds"],
] as const)
  console.log(`${label.padEnd(30)}${f(hq(name, 0.5))}/${f(hq(name, 0.9))}`);
await nc.close();
