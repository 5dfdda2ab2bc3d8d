/**
 * The scorer's tokenisation per pick, through the same adapter the service uses (ModelTokenizers with
 * the npm Qwen3 tokenizer in one worker thread, and inline for comparison): a ~6000-token shared prefix
 * (system prompt / earlier turns) + a ~90-token new turn, as chat and as a completions prompt; warm
 * (prefix seen before) and cold (a new 6000-token text each time), also with the routing bench's own
 * prompt text (its ~4,000 one-token words), and with kv-blocks' SentencePiece-style tiny-sp fixture
 * (labels "sp ..."). Reports per pick: wall time, event-loop busy time of the
 * main thread (what other picks wait for) and process CPU (all threads). Prints figures, asserts nothing.
 * Run: pnpm inferd bench scorer-tokenize [case filter]   (= node services/scorer/bench/tokenize.bench.ts)
 * e.g. `... tokenize.bench.ts routing` runs only the cases whose label contains "routing".
 */
import { performance } from "node:perf_hooks";
import { parseTokenizerSourceMap } from "@inferd/kv-blocks";
import { createLogger } from "@inferd/service-kit";
import { InlineBackend, type LocalTokenizerBackend, WorkerPoolBackend } from "@inferd/tokenizers";
import { ModelTokenizers } from "../src/adapters/tokenize/model-tokenizers.ts";
import type { Prompt } from "../src/framework/types.ts";

const MODEL = "Qwen/Qwen3-32B";
const N = Number(process.env.BENCH_PICKS ?? 40);
const only = process.argv[2];
const vocab = "the cache prefix router latency tokens model server Kubernetes GPU block hash".split(" ");
let seed = 1;
// 32-bit arithmetic (Math.imul): the float product `seed * 1103515245` it replaced lost its low
// bits, and the sequence cycled after ~10,500 calls, so "new" words repeated after ~18 prompts.
const rand = () => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};
const prose = (n: number) =>
  Array.from(
    { length: n },
    (_, i) => vocab[Math.floor(rand() * vocab.length)] + (i % 17 === 16 ? ".\n" : " "),
  ).join("");
const prefix = prose(5650);
const turns = Array.from({ length: N + 1 }, (_, i) => `Turn ${i}: ${prose(60)}`);
const chat = (i: number): Prompt => ({
  kind: "chat",
  messages: [
    { role: "system", content: prefix },
    { role: "user", content: turns[i]! },
  ],
  addGenerationPrompt: true,
});
const text = (i: number): Prompt => ({ kind: "text", text: `${prefix}\n${turns[i]}` });

const median = (xs: number[]) => xs.slice().sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

async function run(
  label: string,
  backend: () => LocalTokenizerBackend,
  prompt: (i: number) => Prompt,
  source = "qwen3",
) {
  if (only !== undefined && !label.includes(only)) return;
  const t = new ModelTokenizers({
    sources: parseTokenizerSourceMap({ "*": [source] }),
    backend: backend(),
    addressOf: () => undefined,
    serverTimeoutMs: 1000,
    logger: createLogger({ service: "bench", level: "silent" }),
  });
  // The worker's start: it loads the tokenizer (and warms it up) before it answers.
  const start0 = process.cpuUsage();
  const startT0 = performance.now();
  await t.prepare(MODEL);
  const startWall = performance.now() - startT0;
  const startCpu = process.cpuUsage(start0);
  let tokens = (await t.tokenize(MODEL, prompt(0)))!.length; // warms the prefix (warm cases)
  const wall: number[] = [];
  const loop: number[] = [];
  const cpu: number[] = [];
  for (let i = 1; i <= N; i++) {
    const p = prompt(i);
    const elu0 = performance.eventLoopUtilization();
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    tokens = (await t.tokenize(MODEL, p))!.length;
    wall.push(performance.now() - t0);
    loop.push(performance.eventLoopUtilization(elu0).active);
    const c = process.cpuUsage(cpu0);
    cpu.push((c.user + c.system) / 1000);
  }
  await t.close();
  const first = cpu.slice(0, 30);
  process.stdout.write(
    `${label.padEnd(40)} ${String(tokens).padStart(5)} tokens: wall ${median(wall).toFixed(2).padStart(6)} ms, main-thread busy ${median(loop).toFixed(2).padStart(6)} ms, process CPU ${median(cpu).toFixed(2).padStart(6)} ms (medians of ${N}); first ${first.length}: CPU median ${median(first).toFixed(2)} max ${Math.max(...first).toFixed(2)} ms; worker start ${startWall.toFixed(0)} ms wall, ${((startCpu.user + startCpu.system) / 1000).toFixed(0)} ms CPU\n`,
  );
}

await run("warm chat, worker thread", () => new WorkerPoolBackend(1), chat);
await run("warm completions, worker thread", () => new WorkerPoolBackend(1), text);
await run("warm chat, inline", () => new InlineBackend(), chat);
await run("warm completions, inline", () => new InlineBackend(), text);
// Cold: a different 6000-token text every time (nothing to reuse), as chat and as completions.
const cold = Array.from({ length: N + 1 }, (_, i) => `${prose(5650)}\n${turns[i]}`);
await run(
  "cold completions, worker thread",
  () => new WorkerPoolBackend(1),
  (i) => ({
    kind: "text",
    text: cold[i]!,
  }),
);
await run(
  "cold chat, worker thread",
  () => new WorkerPoolBackend(1),
  (i) => ({
    kind: "chat",
    messages: [
      { role: "system", content: `${prose(5650)}` },
      { role: "user", content: turns[i]! },
    ],
    addGenerationPrompt: true,
  }),
);
await run(
  "cold completions, inline",
  () => new InlineBackend(),
  (i) => ({ kind: "text", text: cold[i]! }),
);
// The prose above has a 12-word vocabulary, so the BPE model's word cache always hits. Text with a
// Zipf-distributed vocabulary of 20,000 made-up words (most of them new to the BPE cache at first)
// shows what merging costs.
const syllables = "ka lo mi nu pe ra si tu ve wo xa yo ze bri cha dro fle gru pha sto tri".split(" ");
const lexicon = Array.from({ length: 20000 }, () => {
  const n = 1 + Math.floor(rand() * 4);
  return Array.from({ length: n }, () => syllables[Math.floor(rand() * syllables.length)]).join("");
});
const zipfWord = () => lexicon[Math.min(lexicon.length - 1, Math.floor(1 / (rand() + 1e-4)) - 1)]!;
const varied = (n: number) =>
  Array.from({ length: n }, (_, i) => zipfWord() + (i % 13 === 12 ? ".\n" : " ")).join("");
const coldVaried = Array.from({ length: N + 1 }, (_, i) => `${varied(3000)}\n${turns[i]}`);
await run(
  "cold varied completions, worker",
  () => new WorkerPoolBackend(1),
  (i) => ({
    kind: "text",
    text: coldVaried[i]!,
  }),
);
// The routing bench's prompts (`inferd bench routing`): 6,000 tokens drawn from the ~4,000 words that
// are one Qwen3 token each, by the routing bench's own generator. test/bench is outside this package's
// TypeScript project, hence the dynamic import and the spelt-out types.
const routing = new URL("../../../test/bench/routing/", import.meta.url);
const { loadWords } = (await import(new URL("driver/words.ts", routing).href)) as {
  loadWords: (model: string) => Promise<{ words: string[] }>;
};
const { wordText } = (await import(new URL("lib/text.ts", routing).href)) as {
  wordText: (rng: unknown, words: readonly string[], n: number) => string;
};
const { Prng } = (await import(new URL("lib/prng.ts", routing).href)) as {
  Prng: new (seed: string) => unknown;
};
const { words } = await loadWords(MODEL);
const routingRng = new Prng("scorer-tokenize");
const coldRouting = Array.from({ length: N + 1 }, () => wordText(routingRng, words, 6000));
const question = (i: number) => wordText(new Prng(`question ${i}`), words, 128);
await run(
  "cold routing completions, worker",
  () => new WorkerPoolBackend(1),
  (i) => ({
    kind: "text",
    text: coldRouting[i]! + question(i),
  }),
);
await run(
  "cold routing chat, worker",
  () => new WorkerPoolBackend(1),
  (i) => ({
    kind: "chat",
    messages: [
      { role: "system", content: coldRouting[i]! },
      { role: "user", content: question(i) },
    ],
    addGenerationPrompt: true,
  }),
);
await run(
  "cold routing completions, inline",
  () => new InlineBackend(),
  (i) => ({
    kind: "text",
    text: coldRouting[i]! + question(i),
  }),
);
// SentencePiece-style (issue 16, session 7): kv-blocks' tiny-sp fixture (trained the SentencePiece way,
// shipped as Llama/Mistral conversions: Metaspace `split: false`, byte fallback, BOS), ~6,000 tokens:
// words seen before (4,000 of the made-up words above, seen by the prompts before), new words, and a
// warm prefix with a new turn. Labels start with "sp " (`... tokenize.bench.ts sp` runs only these).
const SP = `dir:${new URL("../../../packages/kv-blocks/fixtures/tokenizers/tiny-sp/", import.meta.url).pathname}`;
const spSeen = lexicon.slice(0, 4000);
const spText = (n: number, word: () => string) =>
  Array.from({ length: n }, (_, i) => word() + (i % 17 === 16 ? ".\n" : " ")).join("");
const seenWord = () => spSeen[Math.floor(rand() * spSeen.length)]!;
const newWord = () => `${zipfWord()}${zipfWord()}${Math.floor(rand() * 1e6)}`;
// ~6,000 tiny-sp tokens: 2,900 such seen words or 580 new ones (measured with the fixture).
const spPrefix = spText(2900, seenWord);
const spCold = Array.from({ length: N + 1 }, () => spText(2900, seenWord));
const spNew = Array.from({ length: N + 1 }, () => spText(580, newWord));
const spTurn = (i: number) => `Turn ${i}: ${spText(40, seenWord)}`;
const spChat = (system: string, user: string): Prompt => ({
  kind: "chat",
  messages: [
    { role: "system", content: system },
    { role: "user", content: user },
  ],
  addGenerationPrompt: true,
});
await run(
  "sp warm chat, worker",
  () => new WorkerPoolBackend(1),
  (i) => spChat(spPrefix, spTurn(i)),
  SP,
);
await run(
  "sp warm completions, worker",
  () => new WorkerPoolBackend(1),
  (i) => ({ kind: "text", text: `${spPrefix}\n${spTurn(i)}` }),
  SP,
);
await run(
  "sp cold seen-words completions, worker",
  () => new WorkerPoolBackend(1),
  (i) => ({ kind: "text", text: `${spCold[i]}\n${spTurn(i)}` }),
  SP,
);
await run(
  "sp cold seen-words chat, worker",
  () => new WorkerPoolBackend(1),
  (i) => spChat(spCold[i]!, spTurn(i)),
  SP,
);
await run(
  "sp cold seen-words completions, inline",
  () => new InlineBackend(),
  (i) => ({ kind: "text", text: `${spCold[i]}\n${spTurn(i)}` }),
  SP,
);
await run(
  "sp cold new-words completions, worker",
  () => new WorkerPoolBackend(1),
  (i) => ({ kind: "text", text: `${spNew[i]}\n${spTurn(i)}` }),
  SP,
);
await run(
  "sp cold new-words chat, worker",
  () => new WorkerPoolBackend(1),
  (i) => spChat(spNew[i]!, spTurn(i)),
  SP,
);
// The routing bench's default workload as the scorer sees it (session 7): groups sharing a 6,000-token
// system prompt, 5 questions of 128 tokens each, in a shuffled order, through a worker thread plus the
// event loop's warm prefixes (`tokenizerInlineWarmupMaxMs` 5, as deployed). Main-thread busy is the
// whole run's (warm-ups after the replies included) per pick; requests are 5 ms apart, so warm-ups
// run between them as they do in a live scorer.
async function routingGroups(label: string, groups: number) {
  if (only !== undefined && !label.includes(only)) return;
  const seen = { local: 0, inline: 0 };
  const t = new ModelTokenizers({
    sources: parseTokenizerSourceMap({ "*": ["qwen3"] }),
    backend: new WorkerPoolBackend(1),
    inline: { backend: new InlineBackend(), warmupMaxMs: 5 },
    addressOf: () => undefined,
    serverTimeoutMs: 1000,
    logger: createLogger({ service: "bench", level: "silent" }),
    observer: {
      tokenized: (_m, where) => {
        if (where === "local" || where === "inline") seen[where]++;
      },
      approximate: () => {},
    },
  });
  await t.prepare(MODEL); // both tokenizers loaded before the timed picks
  const groupRng = new Prng(`${label} systems`);
  const systems = Array.from({ length: groups }, () => wordText(groupRng, words, 6000));
  const order = Array.from({ length: groups * 5 }, (_, i) => i % groups);
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  const wall: number[] = [];
  const elu0 = performance.eventLoopUtilization();
  const cpu0 = process.cpuUsage();
  for (const [i, g] of order.entries()) {
    const t0 = performance.now();
    await t.tokenize(MODEL, {
      kind: "chat",
      messages: [
        { role: "system", content: systems[g]! },
        { role: "user", content: question(i) },
      ],
      addGenerationPrompt: true,
    });
    wall.push(performance.now() - t0);
    await new Promise((r) => setTimeout(r, 5));
  }
  const busy = performance.eventLoopUtilization(elu0).active;
  const c = process.cpuUsage(cpu0);
  await t.close();
  const q = (p: number) =>
    wall
      .slice()
      .sort((a, b) => a - b)
      [Math.floor(p * wall.length)]!.toFixed(2);
  process.stdout.write(
    `${label.padEnd(40)} ${order.length} picks (${seen.inline} inline, ${seen.local} worker): wall p50 ${q(0.5)} p90 ${q(0.9)} ms, main-thread busy ${(busy / order.length).toFixed(2)} ms/pick, process CPU ${((c.user + c.system) / 1000 / order.length).toFixed(2)} ms/pick\n`,
  );
}
await routingGroups("routing groups x5, worker + warm inline", 40);

process.stdout.write(
  `load average: ${(await import("node:os"))
    .loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}\n`,
);
